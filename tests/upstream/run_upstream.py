"""Run CherryPy 18.10's own test suite against cherrypy_rs: our yardstick.

    python tests/upstream/run_upstream.py                 # every file, a table
    python tests/upstream/run_upstream.py core config     # some files
    python tests/upstream/run_upstream.py --markdown      # the table for docs/compatibility.md
    python tests/upstream/run_upstream.py --json run.json --compare before.json

The ``cherrypy/test`` package of the installed CherryPy (a test extra) is copied into a
temporary directory — never into the repository — with our ``upstream_conftest.py`` as
its conftest (``import cherrypy`` gives cherrypy_rs; ``from cherrypy.test import helper``
our ``cherrypy_rs.test.helper``) and a ``pytest.ini`` of its own (so our
``filterwarnings = error`` does not apply). CherryPy's ``helper.py``, ``webtest.py`` and
``logtest.py`` are not copied: ours are used.

Each file runs in a fresh pytest subprocess, in a session of its own, with a per-test
timeout (pytest-timeout) and a time bound per file; when the bound passes the whole
process group is killed. After each file every process it started is stopped: the
process group, the daemons whose PID files ``helper.CPProcess`` left, and any process
whose command line names the run's work directory (every ``CPProcess`` child does).
A SIGTERM to the runner stops the current file the same way. Nothing outlives the run.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import importlib.metadata
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

#: CherryPy's test-support modules that cherrypy_rs.test provides itself.
REPLACED = {"__init__.py", "helper.py", "webtest.py", "logtest.py", "conftest.py"}

PYTEST_INI = """[pytest]
# The upstream run: CherryPy's tests under cherrypy_rs (see run_upstream.py).
# No filterwarnings = error here: warnings are reported, not failures.
addopts = -p no:cacheprovider -p no:randomly
"""

OUTCOMES = ("passed", "failed", "errors", "skipped")


def cherrypy_test_dir() -> tuple[Path, str]:
    """The installed CherryPy's test directory and CherryPy's version (without
    importing CherryPy)."""
    spec = importlib.util.find_spec("cherrypy")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "CherryPy is not installed: `make build-dev` installs it with the test extras"
        )
    directory = Path(next(iter(spec.submodule_search_locations))) / "test"
    if not directory.is_dir():
        raise SystemExit(f"{directory} does not exist: this CherryPy has no test package")
    return directory, importlib.metadata.version("cherrypy")


def prepare(workdir: Path, source: Path, reference: bool = False) -> Path:
    """Copy CherryPy's test files and our conftest/ini into ``workdir/suite``, and
    CherryPy's tutorials (which test_tutorials.py imports) into ``workdir/extra``."""
    suite = workdir / "suite"
    shutil.copytree(
        source,
        suite,
        ignore=lambda _d, names: [
            n for n in names if (n in REPLACED and not reference) or n == "__pycache__"
        ],
    )
    tutorial = source.parent / "tutorial"
    if tutorial.is_dir() and not reference:
        shutil.copytree(
            tutorial, workdir / "extra" / "tutorial", ignore=shutil.ignore_patterns("__pycache__")
        )
    # test_core reads CherryPy's icon from the package directory, ``test/../favicon.ico``.
    icon = source.parent / "favicon.ico"
    if icon.is_file():
        shutil.copyfile(icon, workdir / "favicon.ico")
    shutil.copyfile(HERE / "upstream_conftest.py", suite / "conftest.py")
    (suite / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    return suite


def select(suite: Path, names: list[str]) -> list[Path]:
    """The test files to run: all ``test_*.py``, or those named (``core``,
    ``test_core`` and ``test_core.py`` all name ``test_core.py``)."""
    files = sorted(suite.glob("test_*.py"))
    if not names:
        return files
    by_name = {f.name: f for f in files}
    chosen = []
    for name in names:
        stem = name.removesuffix(".py")
        if not stem.startswith("test_"):
            stem = "test_" + stem
        path = by_name.get(stem + ".py")
        if path is None:
            raise SystemExit(
                f"no file {stem}.py in CherryPy's test suite; have: " + ", ".join(sorted(by_name))
            )
        chosen.append(path)
    return chosen


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Stop the pytest process and everything in its process group: SIGTERM, then
    SIGKILL to whatever is left after ``grace`` seconds."""
    pgid = proc.pid
    if proc.poll() is None:
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    if _group_alive(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if proc.poll() is None:
        proc.wait(timeout=grace)


def stop_daemons(pid_files: list[Path]) -> list[int]:
    """Kill the daemons whose PID files a ``CPProcess`` wrote (they left the process
    group when they daemonized). A process is killed only if its command line names
    that PID file (``-p FILE``), so a recycled PID is never hit."""
    killed = []
    for pid_file in pid_files:
        try:
            pid = int(pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if str(pid_file).encode() not in cmdline.split(b"\0"):
            continue
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except ProcessLookupError:
            pass
    return killed


def stop_strays(marker: str) -> list[int]:
    """Kill every process whose command line names ``marker`` (this run's work
    directory): a server a test started that outlived its pytest process, such as a
    daemon that re-executed itself after writing no PID file."""
    killed = []
    needle = marker.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue  # gone, or not ours to read
        args = cmdline.split(b"\0")
        if any(arg == needle or arg.startswith(needle + b"/") for arg in args):
            try:
                os.kill(int(entry), signal.SIGKILL)
                killed.append(int(entry))
            except ProcessLookupError:
                pass
    return killed


def run_file(
    path: Path,
    suite: Path,
    workdir: Path,
    test_timeout: float,
    file_timeout: float,
    reference: bool = False,
    extra_pid_files: tuple[Path, ...] = (),
) -> dict[str, Any]:
    """Run one test file in a fresh pytest process; return its counts and records."""
    name = path.stem
    results = workdir / "results" / f"{name}.jsonl"
    procs = workdir / "procs" / name
    log = workdir / "logs" / f"{name}.log"
    for d in (results.parent, procs, log.parent):
        d.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        CHERRYPY_RS_UPSTREAM_RESULTS=str(results),
        CHERRYPY_RS_TEST_TMP=str(procs),
        PYTHONDONTWRITEBYTECODE="1",
        # No interactive prompt from cheroot's webtest, whatever the environment says.
        WEBTEST_INTERACTIVE="false",
        CHERRYPY_RS_UPSTREAM_REFERENCE="1" if reference else "0",
    )
    env.pop("PYTEST_ADDOPTS", None)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-c",
        str(suite / "pytest.ini"),
        "--rootdir",
        str(suite),
        f"--timeout={test_timeout:g}",
        path.name,
    ]
    started = time.monotonic()
    status = "ok"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=suite,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            rc = proc.wait(timeout=file_timeout)
        except subprocess.TimeoutExpired:
            rc = None
            status = f"timed out after {file_timeout:g}s"
        finally:
            stop_group(proc)
            # Ours write into procs/; CherryPy's own (--reference) next to its helper.
            stop_daemons([*procs.rglob("*.pid"), *suite.glob("*.pid"), *extra_pid_files])
            stop_strays(str(workdir))
    seconds = time.monotonic() - started
    return summarize(name, results, log, rc, status, seconds)


def summarize(
    name: str, results: Path, log: Path, rc: int | None, status: str, seconds: float
) -> dict[str, Any]:
    records = []
    if results.exists():
        for line in results.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a kill
    counts = dict.fromkeys(OUTCOMES, 0)
    collection_error = ""
    problems = []
    for r in records:
        if r["kind"] == "collect":
            collection_error = collection_error or r["message"]
            problems.append(
                {"nodeid": r["nodeid"], "outcome": "collection error", "message": r["message"]}
            )
        elif r["kind"] == "collect-skip":
            counts["skipped"] += 1
        else:
            outcome = r["outcome"]
            key = {
                "passed": "passed",
                "xfailed": "skipped",
                "xpassed": "passed",
                "skipped": "skipped",
                "error": "errors",
            }.get(outcome, "failed")
            counts[key] += 1
            if outcome not in ("passed", "xpassed"):
                problems.append(
                    {"nodeid": r["nodeid"], "outcome": outcome, "message": r["message"]}
                )
    if status == "ok" and rc not in (0, 1, 5) and not collection_error:
        # 2: interrupted, 3: internal error, 4: usage error, negative: a signal.
        status = f"pytest exited with {rc}: see the log"
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
        if tail:
            status += f" ({tail[-1][:120]})"
    return {
        "file": f"{name}.py",
        **counts,
        "collection_error": collection_error,
        "status": status,
        "seconds": round(seconds, 1),
        "problems": problems,
    }


def note(row: dict[str, Any]) -> str:
    if row["collection_error"]:
        return "collection error: " + row["collection_error"]
    if row["status"] != "ok":
        return row["status"]
    return ""


def totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    total = {k: sum(r[k] for r in rows) for k in OUTCOMES}
    total["collection_errors"] = sum(1 for r in rows if r["collection_error"])
    total["files"] = len(rows)
    total["files_all_passed"] = sum(
        1
        for r in rows
        if r["passed"]
        and not (r["failed"] or r["errors"] or r["collection_error"])
        and r["status"] == "ok"
    )
    return total


def percent(row: dict[str, Any]) -> str:
    ran = row["passed"] + row["failed"] + row["errors"]
    return f"{100 * row['passed'] / ran:.0f}%" if ran else "-"


def text_table(rows: list[dict[str, Any]]) -> str:
    width = max([len(r["file"]) for r in rows] + [5])
    head = f"{'file':<{width}}  pass  fail   err  skip    %    s  note"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['file']:<{width}}  {r['passed']:>4}  {r['failed']:>4}  {r['errors']:>4}  "
            f"{r['skipped']:>4}  {percent(r):>4}  {r['seconds']:>4.0f}  {note(r)[:100]}"
        )
    t = totals(rows)
    lines.append("-" * len(head))
    total_row = {"passed": t["passed"], "failed": t["failed"], "errors": t["errors"]}
    lines.append(
        f"{'total':<{width}}  {t['passed']:>4}  {t['failed']:>4}  {t['errors']:>4}  "
        f"{t['skipped']:>4}  {percent(total_row):>4}        {t['collection_errors']} files "
        f"not collected, {t['files_all_passed']}/{t['files']} files all passed"
    )
    return "\n".join(lines)


def ref_cell(ref: dict[str, Any] | None) -> str:
    """``passed/ran`` of CherryPy itself (a ``--reference`` run) for one file."""
    if ref is None:
        return ""
    ran = ref["passed"] + ref["failed"] + ref["errors"]
    return f"{ref['passed']}/{ran}"


def markdown_table(
    rows: list[dict[str, Any]], against: dict[str, dict[str, Any]] | None = None
) -> str:
    """The table as Markdown; with ``against`` (a reference run's rows by file) a
    column with what CherryPy itself passes in the same harness."""
    ref_head, ref_rule = (" CherryPy itself |", "---:|") if against is not None else ("", "")
    lines = [
        f"| file | passed | failed | errors | skipped | pass % |{ref_head} note |",
        f"|---|---:|---:|---:|---:|---:|{ref_rule}---|",
    ]
    for r in rows:
        text = note(r).replace("|", "\\|")
        if len(text) > 110:
            text = text[:107] + "..."
        ref = f" {ref_cell(against.get(r['file']))} |" if against is not None else ""
        lines.append(
            f"| {r['file']} | {r['passed']} | {r['failed']} | {r['errors']} | {r['skipped']} "
            f"| {percent(r)} |{ref} {text} |"
        )
    t = totals(rows)
    total_row = {"passed": t["passed"], "failed": t["failed"], "errors": t["errors"]}
    ref = ""
    if against is not None:
        rt = totals(list(against.values()))
        ref = f" {rt['passed']}/{rt['passed'] + rt['failed'] + rt['errors']} |"
    lines.append(
        f"| **total** | {t['passed']} | {t['failed']} | {t['errors']} | {t['skipped']} "
        f"| {percent(total_row)} |{ref} {t['collection_errors']} of {t['files']} files not "
        f"collected; {t['files_all_passed']} all passed |"
    )
    return "\n".join(lines)


def top_reasons(rows: list[dict[str, Any]], limit: int = 15) -> list[tuple[int, str]]:
    """The most frequent failure messages (first lines), with how many tests (or
    files, for collection errors) each stopped."""
    counter: collections.Counter[str] = collections.Counter()
    for r in rows:
        for p in r["problems"]:
            if p["outcome"] in ("skipped", "xfailed"):
                continue
            message = p["message"][:140] or p["outcome"]
            if p["outcome"] == "collection error":
                message = "collection: " + message
            counter[message] += 1
    return [(n, m) for m, n in counter.most_common(limit)]


def compare(old: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """Per-file changes since the run recorded in ``old`` (a ``--json`` output)."""
    before = {r["file"]: r for r in old.get("files", [])}
    lines = []
    for r in rows:
        o = before.get(r["file"])
        if o is None:
            lines.append(f"{r['file']}: new ({r['passed']} passed)")
            continue
        deltas = [f"{k} {o[k]}→{r[k]}" for k in OUTCOMES if o[k] != r[k]]
        if o.get("collection_error") != r["collection_error"]:
            deltas.append(
                "collection error " + ("fixed" if not r["collection_error"] else "changed")
            )
        old_bad = {p["nodeid"] for p in o.get("problems", [])}
        new_bad = {p["nodeid"] for p in r["problems"]}
        regressed = sorted(new_bad - old_bad)
        if deltas:
            lines.append(f"{r['file']}: " + ", ".join(deltas))
        for nodeid in regressed[:10]:
            lines.append(f"    now failing: {nodeid}")
    return "\n".join(lines) or "no change"


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()


def _terminate(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="*", help="test files to run (core, test_core, test_core.py)")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--json", metavar="FILE", help="write the results (for --compare) to FILE")
    p.add_argument("--compare", metavar="FILE", help="show changes since a --json output")
    p.add_argument("--timeout", type=float, default=90.0, help="per-test timeout (s)")
    p.add_argument("--file-timeout", type=float, default=300.0, help="time bound per file (s)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--reasons", type=int, default=15, help="how many top failure reasons")
    p.add_argument(
        "--reference",
        action="store_true",
        help="run the suite on CherryPy itself (its own helper): what fails here anyway",
    )
    p.add_argument(
        "--against",
        metavar="FILE",
        help="with --markdown: a column of what CherryPy passed in a --reference --json run",
    )
    p.add_argument(
        "--source",
        metavar="DIR",
        help="a test directory to run instead of the installed CherryPy's (for our own tests)",
    )
    p.add_argument(
        "--render", metavar="FILE", help="print the table of a --json output instead of running"
    )
    args = p.parse_args(argv)
    # A SIGTERM (a timeout around the whole run) unwinds like Ctrl-C: the current
    # file's processes are stopped and the work directory removed.
    signal.signal(signal.SIGTERM, _terminate)

    if args.render:
        with open(args.render, encoding="utf-8") as f:
            rows = json.load(f)["files"]
    else:
        rows = run_all(args)
    report(args, rows)
    return 0


def run_all(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Run the chosen files; write ``--json``; return the rows."""
    source, version = cherrypy_test_dir()
    if args.source:
        source = Path(args.source).resolve()
    workdir = Path(tempfile.mkdtemp(prefix="cherrypy-upstream-"))
    rows = []
    try:
        suite = prepare(workdir, source, args.reference)
        files = select(suite, args.files)
        print(
            f"CherryPy {version}'s test suite ({len(files)} files) against "
            + ("CherryPy itself" if args.reference else f"cherrypy_rs {git_commit()}")
            + f"; work directory {workdir}",
            file=sys.stderr,
        )
        for path in files:
            row = run_file(path, suite, workdir, args.timeout, args.file_timeout, args.reference)
            rows.append(row)
            print(
                f"  {row['file']:<32} {row['passed']:>4} passed {row['failed']:>4} failed "
                f"{row['errors']:>3} errors {row['skipped']:>3} skipped  {row['seconds']:.0f}s "
                f"{note(row)[:80]}",
                file=sys.stderr,
                flush=True,
            )
    finally:
        stop_strays(str(workdir))
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    if args.json:
        data = {
            "cherrypy": version,
            "commit": git_commit(),
            "reference": args.reference,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "timeout": args.timeout,
            "file_timeout": args.file_timeout,
            "totals": totals(rows),
            "files": rows,
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
    return rows


def report(args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    """Print the table, the top failure reasons and the changes since ``--compare``."""
    against = None
    if args.against:
        with open(args.against, encoding="utf-8") as f:
            against = {r["file"]: r for r in json.load(f)["files"]}
    print(markdown_table(rows, against) if args.markdown else text_table(rows))
    reasons = top_reasons(rows, args.reasons)
    if reasons:
        print("\nTop reasons (tests or files stopped by each):")
        for n, message in reasons:
            print(f"- {n} x {message}" if args.markdown else f"{n:>5}  {message}")
    if args.compare:
        with open(args.compare, encoding="utf-8") as f:
            print("\nChanges since " + args.compare + ":\n" + compare(json.load(f), rows))


if __name__ == "__main__":
    raise SystemExit(main())
