"""The documentation matches the behaviour: every command shown in README.md, docs/*.md
and the examples' "Run with:" lines is run here, as shown (addresses moved to a free
port on 127.0.0.1, the names of your modules and files replaced by small stand-ins in a
temporary directory), and every local URL shown is requested from the server its
command starts.

A command added to the docs without being known here fails
``test_every_documented_command_is_run``: add it to ``EXPECT`` (the path to request and
what the answer holds).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

#: Fenced blocks whose lines are shell commands (``ini`` for systemd's ExecStart).
SHELL_BLOCKS = ("", "sh", "bash", "shell", "console", "ini")


@dataclass
class Command:
    text: str
    source: str


def _join_continuations(lines: list[str]) -> list[str]:
    joined: list[str] = []
    pending = ""
    for line in lines:
        line = line.rstrip()
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        joined.append((pending + line.strip()).strip())
        pending = ""
    return joined


def _strip_comment(line: str) -> str:
    # A "#" that starts a word begins a comment (none of our commands quote one).
    return re.split(r"\s+#", line, maxsplit=1)[0].strip()


def documented_commands() -> list[Command]:
    """The commands of the docs' shell blocks and of the examples' docstrings."""
    found: list[Command] = []
    fence = re.compile(r"^```(\w*)\s*$")
    for doc in DOCS:
        language: str | None = None
        block: list[str] = []
        for line in doc.read_text().splitlines():
            match = fence.match(line)
            if match and language is None:
                language, block = match.group(1), []
                continue
            if line.startswith("```") and language is not None:
                if language in SHELL_BLOCKS:
                    for cmd in _join_continuations(block):
                        cmd = _strip_comment(cmd.removeprefix("ExecStart="))
                        if cmd.split(" ", 1)[0].endswith(("cherrypy-rs", "make", "python")) or (
                            cmd.startswith("gunicorn ")
                        ):
                            found.append(Command(cmd, doc.name))
                language = None
                continue
            if language is not None:
                block.append(line)
    for example in EXAMPLES:
        docstring = example.read_text().split('"""')[1]
        text = " ".join(docstring.split())
        for part in re.split(r"\b(?:Run with|or):\s+", text)[1:]:
            # "CMD (then open URL)", "CMD && CMD", "CMD or: CMD".
            command = re.split(r"\s+\(", part, maxsplit=1)[0]
            for cmd in command.split("&&"):
                found.append(Command(cmd.strip(), example.name))
        for match in re.finditer(r"curl (?:-N |--cacert \S+ )?(https?://\S+?)(?:\s|\)|$)", text):
            found.append(Command(f"curl {match.group(1)}", example.name))
    return found


@dataclass
class Expect:
    """What to request once a command serves, and what the answer holds."""

    path: str = "/"
    body: bytes = b""
    status: int = 200
    #: A command that does not serve (a one-shot, or a make target).
    serves: bool = True


#: Every documented command (as shown, comments removed) → what it must serve.
EXPECT: dict[str, Expect] = {
    # README.md
    "make demo": Expect(serves=False),
    "make test": Expect(serves=False),
    "cherrypy-rs run myapp:Root --bind 127.0.0.1:8080 --threads 10": Expect(body=b"myapp"),
    "cherrypy-rs wsgi myproject.wsgi:application --bind 127.0.0.1:8000": Expect(body=b"myproject"),
    "cherrypy-rs run myapp:Root --certfile cert.pem --keyfile key.pem": Expect(body=b"myapp"),
    "cherrypy-rs static ./public --bind 127.0.0.1:8000 --listing": Expect(body=b"public index"),
    "cherrypy-rs demo": Expect(body=b"cherrypy_rs demo"),
    # docs/deployment.md
    "cherrypy-rs wsgi myproject.wsgi:application --bind 0.0.0.0:8000 --workers 4": Expect(
        body=b"myproject"
    ),
    "cherrypy-rs run myapp:Root --config site.conf --workers 4": Expect(body=b"myapp"),
    "cherrypy-rs static /srv/www --bind 0.0.0.0:8080 --workers 2": Expect(body=b"public index"),
    "/srv/myapp/.venv/bin/cherrypy-rs run myapp:Root --config /srv/myapp/site.conf "
    "--bind 127.0.0.1:8000 --workers 2 --threads 4 --access-log /var/log/myapp/access.log "
    "--max-requests 100000 --max-requests-jitter 10000": Expect(body=b"myapp"),
    "cherrypy-rs wsgi myproject.wsgi:application --bind 127.0.0.1:8000 --workers 4": Expect(
        body=b"myproject"
    ),
    "cherrypy-rs wsgi myproject.wsgi:application --bind 0.0.0.0:8000 "
    "--forwarded-allow-ips 10.0.0.5": Expect(body=b"myproject"),
    "cherrypy-rs run myapp:Root --bind 0.0.0.0:8000 --proxy-protocol --forwarded-allow-ips "
    "10.0.0.2 --certfile cert.pem --keyfile key.pem": Expect(body=b"myapp"),
    "python -m cherrypy_rs -i myapp -c site.conf -e production -d -p /run/myapp.pid": Expect(
        body=b"myapp"
    ),
    # docs/quickstart.md
    "make build-dev": Expect(serves=False),
    "make build-prod": Expect(serves=False),
    "cherrypy-rs run myapp:Root --bind 127.0.0.1:8080 --threads 10 --config app.conf": Expect(
        body=b"myapp"
    ),
    "cherrypy-rs demo --bind 127.0.0.1:8080": Expect(body=b"cherrypy_rs demo"),
    # docs/static.md
    "cherrypy-rs static ./public --bind 0.0.0.0:8000 --listing --threads 2": Expect(
        body=b"public index"
    ),
    # docs/tls.md
    "cherrypy-rs run myapp:Root --bind 0.0.0.0:8443 --certfile cert.pem --keyfile key.pem "
    "--ca-certs chain.pem": Expect(body=b"myapp"),
    "cherrypy-rs wsgi myproject.wsgi:application --certfile cert.pem --keyfile key.pem": Expect(
        body=b"myproject"
    ),
    # docs/wsgi.md
    "cherrypy-rs wsgi myproject.wsgi:application --bind 0.0.0.0:8000 --threads 10": Expect(
        body=b"myproject"
    ),
    'cherrypy-rs wsgi "app:create_app()" --root-path /api --access-log access.log': Expect(
        path="/api/", body=b"create_app"
    ),
    "cherrypy-rs wsgi mymodule": Expect(body=b"mymodule"),
    "gunicorn 'myapp:make_tree()'": Expect(body=b"myapp"),
    # examples/
    "python examples/forms_and_errors.py": Expect(body=b"<form"),
    "python examples/hello.py": Expect(body=b"Hello, world!"),
    "python -m trustme": Expect(serves=False),
    "python examples/https.py server.pem server.key": Expect(body=b"via https"),
    "curl https://localhost:8443/": Expect(serves=False),
    "python examples/static_files.py": Expect(body=b"/files/hello.py"),
    "python examples/streaming.py": Expect(path="/count", body=b"0\n1\n"),
    "curl http://127.0.0.1:8080/count": Expect(serves=False),
    "cherrypy-rs run workers:Root --chdir examples --workers 2 --bind 127.0.0.1:8080": Expect(
        body=b"worker"
    ),
    "python examples/workers.py": Expect(body=b"worker"),
    "python examples/sessions_login.py": Expect(body=b"Please log in"),
    # docs/sessions.md
    "cherrypy-rs run myapp:Root --config app.conf --bind 127.0.0.1:8080 --workers 4": Expect(
        body=b"myapp"
    ),
}

#: The pages an example's docstring links beyond "/", requested from its server.
EXAMPLE_LINKS = {
    "static_files.py": ["/files/hello.py", "/readme", "/source", "/download"],
    "streaming.py": ["/count"],
}


def test_every_documented_command_is_run() -> None:
    shown = {c.text for c in documented_commands()}
    assert shown == set(EXPECT), (
        f"documented but not run here: {sorted(shown - set(EXPECT))}; "
        f"run here but no longer documented: {sorted(set(EXPECT) - shown)}"
    )


# -- the stand-ins for "your" modules and files ------------------------------------------

MYAPP = """
import cherrypy_rs as cherrypy

class Root:
    @cherrypy.expose
    def index(self):
        return "myapp"

def make_tree():
    cherrypy.tree.mount(Root(), "/")
    return cherrypy.tree
"""

WSGI_APP = """
def {name}(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"{body}"]
"""


@dataclass
class Workdir:
    path: Path
    tls: Any
    port: int
    files: dict[str, str] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def workdir(tmp_path: Path, tls_files: Any) -> Workdir:
    port = _free_port()
    (tmp_path / "myapp.py").write_text(MYAPP)
    # For cherryd (python -m cherrypy_rs -i myapp): a module that mounts when imported.
    (tmp_path / "cherryd").mkdir()
    (tmp_path / "cherryd" / "myapp.py").write_text(MYAPP + '\ncherrypy.tree.mount(Root(), "/")\n')
    (tmp_path / "myproject").mkdir()
    (tmp_path / "myproject" / "__init__.py").write_text("")
    (tmp_path / "myproject" / "wsgi.py").write_text(
        WSGI_APP.format(name="application", body="myproject")
    )
    (tmp_path / "app.py").write_text(
        WSGI_APP.format(name="_app", body="create_app") + "\ndef create_app():\n    return _app\n"
    )
    (tmp_path / "mymodule.py").write_text(WSGI_APP.format(name="application", body="mymodule"))
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "index.html").write_text("public index")
    conf = f'[global]\nserver.socket_host = "127.0.0.1"\nserver.socket_port = {port}\n'
    (tmp_path / "site.conf").write_text(conf)
    (tmp_path / "app.conf").write_text(conf)
    files = {
        "cert.pem": tls_files.cert,
        "key.pem": tls_files.key,
        "chain.pem": tls_files.ca_file,
        "site.conf": str(tmp_path / "site.conf"),
        "/srv/myapp/site.conf": str(tmp_path / "site.conf"),
        "app.conf": str(tmp_path / "app.conf"),
        "./public": str(tmp_path / "public"),
        "/srv/www": str(tmp_path / "public"),
        "/var/log/myapp/access.log": str(tmp_path / "access.log"),
        "access.log": str(tmp_path / "access.log"),
        "/run/myapp.pid": str(tmp_path / "myapp.pid"),
    }
    return Workdir(tmp_path, tls_files, port, files)


# -- running a command --------------------------------------------------------------------


class Running:
    """A documented command, started; stderr collected; stopped by PID."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.popen = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.daemon_pid: int | None = None

    def _read(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            self.lines.append(line)

    def stop(self) -> None:
        if self.daemon_pid is not None:
            _terminate(self.daemon_pid)
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self.reader.join(timeout=5)
        if self.popen.stderr is not None:
            self.popen.stderr.close()


def _terminate(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def _argv(command: str, work: Workdir) -> tuple[list[str], Path, dict[str, str]]:
    """The command as run here: its program, files and address replaced."""
    tokens = shlex.split(command)
    program, args = tokens[0], tokens[1:]
    env: dict[str, str] = {}
    cwd = work.path
    if program.endswith("cherrypy-rs"):
        argv = [sys.executable, "-m", "cherrypy_rs"]
    elif program == "gunicorn":
        pytest.importorskip("gunicorn")
        argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{work.port}"]
    elif program == "python" and args[:1] == ["-m"]:
        argv = [sys.executable]
        if "-i" in args:
            cwd = work.path / "cherryd"
    elif program == "python":
        # An example's quickstart(), moved to the free port (tests/apps/run_example.py).
        argv = [sys.executable, str(ROOT / "tests" / "apps" / "run_example.py")]
        env["DOCS_PORT"] = str(work.port)
        args = [str(ROOT / a) if a.startswith("examples/") else a for a in args]
        cwd = work.path
    else:
        raise AssertionError(f"no way to run {command!r}")
    out: list[str] = []
    has_bind = False
    it = iter(args)
    for arg in it:
        if arg in ("--bind", "-b"):
            next(it)
            out += ["--bind", f"127.0.0.1:{work.port}"]
            has_bind = True
        elif arg == "--chdir":
            out += ["--chdir", str(ROOT / next(it))]
        else:
            out.append(work.files.get(arg, arg))
    serving_subcommand = args[:1] and args[0] in ("run", "wsgi", "static", "demo")
    if program.endswith("cherrypy-rs") and serving_subcommand and not has_bind:
        out += ["--bind", f"127.0.0.1:{work.port}"]
    return argv + out, cwd, env


def _fetch(url: str, context: ssl.SSLContext | None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_serving(url: str, context: ssl.SSLContext | None, running: Running) -> tuple[int, bytes]:
    deadline = time.monotonic() + 30
    while True:
        try:
            return _fetch(url, context)
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} never answered:\n{''.join(running.lines)}") from None
            if running.popen.poll() not in (None, 0):
                raise AssertionError(f"exited:\n{''.join(running.lines)}") from None
            time.sleep(0.05)


def _commands() -> Iterator[Any]:
    for command in documented_commands():
        expect = EXPECT.get(command.text)
        if expect is not None and expect.serves:
            yield pytest.param(command, id=command.text[:60])


@pytest.mark.parametrize("command", list(_commands()))
def test_documented_command_serves(command: Command, workdir: Workdir, procs: list[Any]) -> None:
    expect = EXPECT[command.text]
    if "trustme" in command.text or "https.py" in command.text:
        # "python -m trustme && python examples/https.py server.pem server.key"
        subprocess.run([sys.executable, "-m", "trustme", "-q"], cwd=workdir.path, check=True)
        workdir.files["server.pem"] = str(workdir.path / "server.pem")
        workdir.files["server.key"] = str(workdir.path / "server.key")
    argv, cwd, env = _argv(command.text, workdir)
    running = Running(argv, cwd, env)
    procs.append(running)
    if " -d " in command.text:
        # cherryd's -d: the command returns once daemonized; the PID file names the daemon.
        assert running.popen.wait(timeout=30) == 0, "".join(running.lines)
        pidfile = Path(workdir.files["/run/myapp.pid"])
        deadline = time.monotonic() + 20
        while not (pidfile.exists() and pidfile.read_text().strip()):
            assert time.monotonic() < deadline, "no PID file"
            time.sleep(0.05)
        running.daemon_pid = int(pidfile.read_text())
    tls = "--certfile" in command.text or "https.py" in command.text
    context = None
    if tls:
        cafile = (
            str(workdir.path / "client.pem") if "https.py" in command.text else workdir.tls.ca_file
        )
        context = ssl.create_default_context(cafile=cafile)
    host = "localhost" if "https.py" in command.text else "127.0.0.1"
    base = f"{'https' if tls else 'http'}://{host}:{workdir.port}"
    status, body = _wait_serving(base + expect.path, context, running)
    assert status == expect.status, body
    assert expect.body in body, body
    for path in EXAMPLE_LINKS.get(command.source, []):
        if command.text.startswith("python examples/"):
            assert _fetch(base + path, context)[0] == 200, path


def test_make_targets_shown_exist() -> None:
    """``make demo`` is run by tests/test_cli.py (the Makefile's recipe); ``make test``
    is this suite; the build targets are what every test run starts from. Each target
    shown in the docs exists and its recipe parses (``make -n``)."""
    targets = {c.text.split()[1] for c in documented_commands() if c.text.startswith("make ")}
    assert targets >= {"demo", "test"}
    for target in sorted(targets):
        done = subprocess.run(
            ["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, (target, done.stderr)


def test_readme_quick_start_urls(tmp_path: Path, procs: list[Any]) -> None:
    """The README's first program, run as shown, answers the URLs the README names the
    way it says (and as CherryPy does)."""
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"## Quick start\n\n```python\n(.+?)```", readme, re.S)
    assert code
    script = tmp_path / "quickstart_app.py"
    script.write_text(code.group(1))
    port = _free_port()
    running = Running(
        [sys.executable, str(ROOT / "tests" / "apps" / "run_example.py"), str(script)],
        tmp_path,
        {"DOCS_PORT": str(port)},
    )
    procs.append(running)
    claims = re.findall(r"`GET (/\S+)` (?:answers )?`([^`]+)`", readme)
    assert len(claims) == 2, claims
    base = f"http://127.0.0.1:{port}"
    _wait_serving(base + "/", None, running)
    for path, answer in claims:
        assert _fetch(base + path, None) == (200, answer.encode()), path
