"""Logs through the real command: written once, where asked; no access log unless
asked for (every subcommand); --log-level in any case."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import ROOT, Proc, get
from tests.test_workers import _free_port, _try_get, until

ACCESS_LINE = '"GET /'


def serve_once(tmp_path: Path, *args: str) -> tuple[str, str]:
    """Run the command, request /x once it serves, stop it; its (stdout, stderr)."""
    port = _free_port()
    stdout = tmp_path / "stdout"
    with stdout.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cherrypy_rs", *args, "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            until(lambda: _try_get(port), 15)
            get(port, "/x")
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    return stdout.read_text(), err


@pytest.mark.parametrize(
    "args",
    [["run", "tests.apps.cli_app:Root"], ["demo"], ["wsgi", "tests.apps.cli_app:wsgi_app"]],
    ids=["run", "demo", "wsgi"],
)
def test_no_access_log_unless_asked(tmp_path: Path, args: list[str]) -> None:
    out, err = serve_once(tmp_path, *args)
    assert ACCESS_LINE not in out
    assert ACCESS_LINE not in err


def test_access_log_file_only_in_the_file(tmp_path: Path) -> None:
    access = tmp_path / "access.log"
    out, _ = serve_once(tmp_path, "run", "tests.apps.cli_app:Root", "--access-logfile", str(access))
    lines = access.read_text().splitlines()
    assert len([line for line in lines if '"GET /x ' in line]) == 1, lines
    assert ACCESS_LINE not in out


def test_access_log_dash_is_stdout(tmp_path: Path) -> None:
    out, _ = serve_once(tmp_path, "wsgi", "tests.apps.cli_app:wsgi_app", "--access-log", "-")
    assert len([x for x in out.splitlines() if '"GET /x ' in x]) == 1, out


def test_log_level_in_any_case(procs: list[Proc]) -> None:
    port = _free_port()
    proc = Proc(
        "run", "tests.apps.cli_app:Root", "--bind", f"127.0.0.1:{port}", "--log-level", "WARNING"
    )
    procs.append(proc)
    until(lambda: _try_get(port), 15)
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.popen.wait(timeout=15) == 0
    proc.reader.join(timeout=5)
    # INFO lines (Serving on, Bus STARTED...) are below the level.
    assert "ENGINE" not in proc.output(), proc.output()


def test_access_log_handlers_receive_the_lines(tmp_path: Path) -> None:
    """A handler attached to cherrypy.log.access_log gets each line (from Rust, through
    the logger); without --access-log nothing else is written."""
    received = tmp_path / "handler.log"
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cherrypy_rs",
            "run",
            "tests.apps.access_handler_app:Root",
            "--bind",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env={**os.environ, "ACCESS_HANDLER_FILE": str(received)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        until(lambda: _try_get(port), 15)
        get(port, "/x")
        until(lambda: '"GET /x ' in received.read_text(), 10)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
    lines = received.read_text().splitlines()
    assert any(line.startswith("handler: 127.0.0.1 - - [") for line in lines), lines
    assert ACCESS_LINE not in out
