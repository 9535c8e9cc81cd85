"""``cherrypy.daemon``: ``start(...)`` and ``run()`` serve as cherryd does (modules
imported to mount applications, config files, a PID file), through a real socket in a
child process; the FastCGI/SCGI/CGI servers CherryPy offered there are refused at start
with what to do instead."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.test_cli import ROOT, SERVING, get
from tests.test_workers import until

START = (
    "import sys; sys.path.insert(0, 'tests/apps')\n"
    "from cherrypy_rs.daemon import start\n"
    "start(configfiles=[sys.argv[1]], imports=['cherryd_app'], pidfile=sys.argv[2])\n"
)


class Child:
    """A child process whose stderr a thread collects (it must never fill the pipe)."""

    def __init__(self, args: list[str]) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            self.lines.append(line)

    def port(self) -> int:
        """Where it serves, once it says so."""
        until(lambda: SERVING.search("".join(self.lines)) or self.popen.poll() is not None)
        found = SERVING.search("".join(self.lines))
        assert found is not None, "".join(self.lines)
        return int(found.group(1))

    def stop(self) -> int:
        """SIGTERM, then its exit status."""
        self.popen.send_signal(signal.SIGTERM)
        status = self.popen.wait(timeout=15)
        self.reader.join(timeout=5)
        assert self.popen.stderr is not None
        self.popen.stderr.close()
        return status


def site_conf(tmp_path: Path) -> Path:
    conf = tmp_path / "site.conf"
    conf.write_text("[global]\nserver.socket_host = '127.0.0.1'\nserver.socket_port = 0\n")
    return conf


@pytest.mark.parametrize("entry", ["start", "run"])
def test_daemon_serves_what_its_imports_mount(tmp_path: Path, entry: str) -> None:
    conf = site_conf(tmp_path)
    pidfile = tmp_path / "daemon.pid"
    if entry == "start":
        args = ["-c", START, str(conf), str(pidfile)]
    else:
        args = ["-m", "cherrypy_rs.daemon", "-P", "tests/apps", "-i", "cherryd_app"]
        args += ["-c", str(conf), "-p", str(pidfile)]
    child = Child(args)
    try:
        port = child.port()
        assert get(port) == (200, b"mounted by an import")
        until(lambda: pidfile.exists() and pidfile.read_text().strip() == str(child.popen.pid))
    finally:
        assert child.stop() == 0, "".join(child.lines)
    assert not pidfile.exists()


@pytest.mark.parametrize("gateway", ["fastcgi", "scgi", "cgi"])
def test_daemon_refuses_the_flup_gateways(gateway: str) -> None:
    code = f"from cherrypy_rs.daemon import start\nstart({gateway}=True)\n"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert f"{gateway}=True" in done.stderr and "reverse proxy" in done.stderr
    assert "Serving on" not in done.stderr
