"""What a new user meets first, through the real command (``cherrypy-rs`` and
``python -m cherrypy_rs``): startup errors in one line with exit status 2, the wrong
kind of application refused, --version and gunicorn's flag names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import cherrypy_rs
from tests.test_cli import Proc, get

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = str(Path(sys.executable).parent / "cherrypy-rs")

#: The two ways to run the command.
COMMANDS = {"script": [SCRIPT], "module": [sys.executable, "-m", "cherrypy_rs"]}


def run(command: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMANDS[command], *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a command that failed to start (exit status 2)."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("cherrypy-rs: error: "), lines[0]
    return lines[0]


@pytest.fixture(params=sorted(COMMANDS))
def command(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_a_bad_config_file(command: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text("[global]\nserver.socket_port = 80 80\n")
    line = one_line_error(run(command, "run", "tests.apps.cli_app:Root", "--config", str(bad)))
    assert "bad.conf" in line
    missing = one_line_error(run(command, "run", "tests.apps.cli_app:Root", "-c", "nope.conf"))
    assert "'nope.conf': no such file" in missing


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("tests.apps.wrong_targets:SOME_INT", "is int, not a CherryPy application"),
        ("tests.apps.wrong_targets:NeedsArguments", "cannot create"),
        ("tests.apps.cli_app:wsgi_app", "is a WSGI application: use `cherrypy-rs wsgi"),
        ("tests.apps.wrong_targets:flask_like", "is a WSGI application"),
        ("tests.apps.wrong_targets:real_flask", "is a WSGI application: use `cherrypy-rs wsgi"),
        ("tests.apps.wrong_targets:asgi_app", "ASGI is not supported"),
        ("tests.apps.broken_app:Root", "RuntimeError: broken_app cannot be imported"),
    ],
)
def test_run_refuses_what_is_not_an_application(command: str, target: str, message: str) -> None:
    line = one_line_error(run(command, "run", target, "--bind", "127.0.0.1:0"))
    assert message in line


def test_wsgi_refuses_an_asgi_application(command: str) -> None:
    line = one_line_error(run(command, "wsgi", "tests.apps.wrong_targets:asgi_app"))
    assert "is an ASGI application" in line and "not supported" in line


def test_a_syntax_error_is_one_line_and_its_traceback_is_for_debug(
    command: str, tmp_path: Path
) -> None:
    (tmp_path / "typo.py").write_text("class Root:\n    def index(self)\n        return 1\n")
    args = ("run", "typo:Root", "--chdir", str(tmp_path), "--bind", "127.0.0.1:0")
    line = one_line_error(run(command, *args))
    assert "SyntaxError" in line and "typo.py, line 2" in line
    debug = run(command, *args, "--log-level", "DEBUG")
    assert debug.returncode == 2
    assert "Traceback" in debug.stderr
    assert debug.stderr.splitlines()[-1] == line


def test_version(command: str) -> None:
    for flag in ("--version", "-V"):
        result = run(command, flag)
        assert result.returncode == 0
        assert result.stdout.strip() == f"cherrypy-rs {cherrypy_rs.__version__}"


def test_help_shows_the_subcommands_and_cherryds_options() -> None:
    result = run("module", "--help")
    assert result.returncode == 0
    for word in ("run", "wsgi", "static", "demo", "--version", "-i IMPORTS", "-c CONFIG"):
        assert word in result.stdout, word


def test_gunicorn_flag_names_are_accepted() -> None:
    result = run("module", "wsgi", "--help")
    for flag in (
        "--access-logfile",
        "--error-logfile",
        "--keep-alive",
        "--limit-request-field_size",
        "--limit-request-fields",
        "--certfile",
        "--keyfile",
        "--ca-certs",
        "--forwarded-allow-ips",
        "--proxy-protocol",
    ):
        assert flag in result.stdout, flag


def test_a_bad_value_for_a_gunicorn_flag_names_its_key(command: str) -> None:
    line = one_line_error(
        run(command, "wsgi", "tests.apps.cli_app:wsgi_app", "--limit-request-fields", "0")
    )
    assert "server.max_headers" in line


def test_limit_request_line_answers_414(procs: list[Any]) -> None:
    proc = Proc(
        "wsgi", "tests.apps.cli_app:wsgi_app", "--bind", "127.0.0.1:0", "--limit-request-line", "64"
    )
    procs.append(proc)
    port = proc.wait_port()
    assert get(port, "/short")[0] == 200
    assert get(port, "/" + "x" * 64)[0] == 414


def test_run_serves_an_application_object(procs: list[Any]) -> None:
    proc = Proc("run", "tests.apps.wrong_targets:application", "--bind", "127.0.0.1:0")
    procs.append(proc)
    assert get(proc.wait_port()) == (200, b"an application object")
