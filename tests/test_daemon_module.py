"""``cherrypy.daemon``: ``start(...)`` and ``run()`` serve as cherryd does (modules
imported to mount applications, config files, a PID file), through a real socket in a
child process; the FastCGI/SCGI/CGI servers CherryPy offered there are refused at start
with what to do instead."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import ROOT, Proc, get
from tests.test_workers import until

START = (
    "import sys; sys.path.insert(0, 'tests/apps')\n"
    "from cherrypy_rs.daemon import start\n"
    "start(configfiles=[sys.argv[1]], imports=['cherryd_app'], pidfile=sys.argv[2])\n"
)


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
    child = Proc(python_args=tuple(args))
    try:
        port = child.wait_port()
        assert get(port) == (200, b"mounted by an import")
        until(lambda: pidfile.exists() and pidfile.read_text().strip() == str(child.popen.pid))
        child.popen.send_signal(signal.SIGTERM)
        assert child.popen.wait(timeout=15) == 0, child.output()
    finally:
        child.stop()
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
