"""A Flask hello-world app: ``bench_workers.py`` measures the idle memory of workers
serving it, with and without ``--preload`` (Flask makes the import big enough to see).

Run as ``cherrypy-rs wsgi flask_hello:app --workers 2`` from this directory.
"""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def index() -> str:
    return "Hello, world!"
