"""Streaming a response: a generator with ``response.stream`` is sent chunk by chunk.

Run with: python examples/streaming.py   (then curl -N http://127.0.0.1:8080/count)
"""

import time

import cherrypy_rs as cherrypy


class Root:
    @cherrypy.expose
    def count(self, upto="5", delay="0"):
        for i in range(int(upto)):
            yield f"{i}\n"
            time.sleep(float(delay))

    count._cp_config = {"response.stream": True}


if __name__ == "__main__":
    cherrypy.quickstart(Root())
