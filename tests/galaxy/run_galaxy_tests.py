#!/usr/bin/env python3
"""Run every Galaxy wrapper's <tests> in a real, throw-away, offline Galaxy server.

    tests/galaxy/install_galaxy.sh            # once (cached)
    python3 tests/galaxy/run_galaxy_tests.py  # all wrappers in galaxy_wrappers/
    python3 tests/galaxy/run_galaxy_tests.py -t factornet_simulate --keep-work

Steps: write galaxy.yml + a toolbox listing galaxy_wrappers/*.xml into a work folder; start `galaxy-web`
on 127.0.0.1:<free port> and Galaxy's Celery worker (uploads and metadata) in their own process groups; wait for
/api/version and the worker; check /api/tools/<id> for every
wrapper (Galaxy only logs a tool that fails to load); run `galaxy-tool-test`; print a summary; always stop
the server. Exit 0 only when every wrapper loaded and every test passed.

Importable: ``with galaxy_server(...) as server:`` starts the same server for other clients (the browser test, the
workflow test; tests/galaxy/conftest.py starts it once per pytest session) and ``run_tool_tests(server, ...)`` runs
galaxy-tool-test against it.

The server's PATH starts with the project's bin folder (where `factornet` lives: --project-bin,
$FACTORNET_BIN, or the folder of `factornet` on PATH), then Galaxy's venv; VIRTUAL_ENV stays Galaxy's venv
because each job's metadata step runs Galaxy's Python. Standard library only: runs under any python3.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = Path(os.environ.get("FACTORNET_CACHE", Path.home() / ".cache" / "factornet"))


def discover_wrappers(wrappers_dir: Path) -> list[dict]:
    """Tool XML files in ``wrappers_dir`` (macros and other non-<tool> XML skipped): path, id, number of tests."""
    tools = []
    for path in sorted(wrappers_dir.glob("*.xml")):
        root = ET.parse(path).getroot()
        if root.tag != "tool":
            continue
        tests = root.find("tests")
        tools.append(
            {
                "path": path.resolve(),
                "id": root.get("id"),
                "n_tests": 0 if tests is None else len(tests.findall("test")),
            }
        )
    return tools


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(work: Path, port: int, admin_key: str, tools: list[dict], wrappers_dir: Path) -> Path:
    """galaxy.yml for an offline, sqlite, conda-free Galaxy that loads only ``tools``."""
    for sub in ("database", "files", "tmp", "jobs", "tool-data", "cache"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    toolbox = work / "tool_conf.xml"
    lines = ['<toolbox monitor="false">', '  <section id="factornet" name="FactorNet">']
    lines += [f'    <tool file="{t["path"]}"/>' for t in tools]
    lines += ["  </section>", "</toolbox>"]
    toolbox.write_text("\n".join(lines) + "\n")
    # The shipped data-table sample looks up an outside host; an empty one keeps the server offline. The wrappers'
    # test tables (built-in genomes pointing into test-data/, IUC's tool_data_table_conf.xml.test) come after it.
    tables = work / "tool_data_table_conf.xml"
    tables.write_text("<tables></tables>\n")
    table_configs = [str(tables)]
    if (wrappers_dir / "tool_data_table_conf.xml.test").is_file():
        table_configs.append(str(wrappers_dir / "tool_data_table_conf.xml.test"))
    test_data_dirs = [str(wrappers_dir / "test-data")] if (wrappers_dir / "test-data").is_dir() else []
    galaxy = {
        "database_connection": f"sqlite:///{work}/database/universe.sqlite?isolation_level=IMMEDIATE",
        "data_dir": str(work / "database"),
        "file_path": str(work / "files"),
        "new_file_path": str(work / "tmp"),
        "job_working_directory": str(work / "jobs"),
        "cache_dir": str(work / "cache"),
        "tool_config_file": str(toolbox),
        "tool_data_path": str(work / "tool-data"),
        "tool_data_table_config_path": ",".join(table_configs),
        "tool_dependency_dir": "none",
        "conda_auto_install": False,
        "conda_auto_init": False,
        "enable_mulled_containers": False,
        "admin_users": "admin@factornet.test",
        "bootstrap_admin_api_key": admin_key,
        "allow_local_account_creation": True,
        "id_secret": secrets.token_hex(16),
        # Uploads and metadata run as Celery tasks in one long-lived worker (start_celery_worker) instead of a job
        # script each: a job script starts a Python that imports Galaxy (8 CPU-s) once for data_fetch and once for
        # set_metadata. Measured on factornet_bag's 3 tests, 6 uploads, load 6 on 2 cores: 336 s -> 113 s.
        "enable_celery_tasks": True,
        "metadata_strategy": "directory_celery",
        "watch_tools": False,
        "cleanup_job": "onsuccess",  # a failed job's folder stays in the work folder for debugging
        "galaxy_infrastructure_url": f"http://127.0.0.1:{port}",
    }
    if test_data_dirs:
        galaxy["tool_test_data_directories"] = ",".join(test_data_dirs)
    gravity = {  # used only if the server is started with `galaxy` (gravity) instead of `galaxy-web`
        "process_manager": "multiprocessing",
        "gunicorn": {"bind": f"127.0.0.1:{port}"},
        "celery": {"enable": False, "enable_beat": False},
    }
    config = work / "galaxy.yml"
    # JSON is valid YAML: no PyYAML needed here.
    config.write_text(json.dumps({"gravity": gravity, "galaxy": galaxy}, indent=2) + "\n")
    return config


def api_get(url: str, key: str, timeout: float = 10):
    req = urllib.request.Request(url, headers={"x-api-key": key})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.load(resp)


def tail(path: Path, n: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def load_errors(log: Path) -> list[str]:
    """'Error reading tool from path: X' lines of the Galaxy log, each with its traceback's final line."""
    lines = log.read_text(errors="replace").splitlines()
    out = []
    for i, line in enumerate(lines):
        if "Error reading tool from path" not in line:
            continue
        j = i + 1
        if j < len(lines) and lines[j].startswith("Traceback"):
            # the traceback ends at the first unindented line after it: the exception itself
            j += 1
            while j < len(lines) and (lines[j].startswith(" ") or not lines[j].strip()):
                j += 1
        reason = lines[j] if j < len(lines) and j > i + 1 else ""
        out.append(line.split("] ", 1)[-1] + (f" -> {reason}" if reason else ""))
    return out


def stop(proc: subprocess.Popen) -> None:
    """Stop the server's whole process group: SIGTERM, then SIGKILL after 30 s."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def summarize(results_path: Path, tools: list[dict]) -> dict:
    """Counts and per-test lines from galaxy-tool-test's JSON report."""
    data = json.loads(results_path.read_text()) if results_path.exists() else {"tests": []}
    rows, passed, failed = [], 0, 0
    for test in data.get("tests", []):
        d = test.get("data", {})
        status = d.get("status", "error")
        ok = status == "success"
        passed += ok
        failed += not ok
        problems = list(d.get("output_problems") or [])
        if d.get("execution_problem"):
            problems.append(d["execution_problem"])
        job = d.get("job") or {}
        rows.append(
            {
                "tool_id": d.get("tool_id"),
                "test_index": d.get("test_index"),
                "status": status,
                "problems": problems,
                "exit_code": job.get("exit_code"),
                "stderr": job.get("tool_stderr") or job.get("stderr") or job.get("job_stderr") or "",
            }
        )
    return {
        "tools": len(tools),
        "tests_expected": sum(t["n_tests"] for t in tools),
        "tests_run": passed + failed,
        "passed": passed,
        "failed": failed,
        "tests": rows,
    }


class GalaxyError(RuntimeError):
    """The server did not start, or a wrapper did not load; the message says why (log tail, load errors)."""


@dataclasses.dataclass
class GalaxyServer:
    """A running test server: its URL, the admin API key, the work folder and the environment jobs see."""

    url: str
    admin_key: str
    work: Path
    env: dict[str, str]
    galaxy_bin: Path
    tools: list[dict]
    start_s: float

    @property
    def log(self) -> Path:
        return self.work / "galaxy.log"


def find_project_bin(explicit: Path | None = None) -> Path | None:
    """The folder holding `factornet`: ``explicit``, $FACTORNET_BIN, or the folder of `factornet` on PATH."""
    for cand in (
        explicit,
        Path(os.environ["FACTORNET_BIN"]) if os.environ.get("FACTORNET_BIN") else None,
        Path(shutil.which("factornet")).parent if shutil.which("factornet") else None,
    ):
        if cand is not None and (cand / "factornet").exists():
            return cand.resolve()
    return None


@contextlib.contextmanager
def galaxy_server(
    *,
    galaxy_venv: Path = DEFAULT_CACHE / "galaxy-venv",
    project_bin: Path,
    wrappers_dir: Path = REPO / "galaxy_wrappers",
    tool_ids: list[str] | None = None,
    work: Path | None = None,
    start_timeout: float = 600,
) -> Iterator[GalaxyServer]:
    """Start an offline Galaxy serving the wrappers (all, or ``tool_ids``); stop its process group on exit.

    Raises GalaxyError when the server does not answer within ``start_timeout`` seconds or a wrapper fails to load
    (Galaxy only logs that). The work folder (``work`` or a new temporary one) is left in place for the caller.
    """
    galaxy_venv = galaxy_venv.resolve()  # absolute: the server and its jobs run in other folders
    galaxy_bin = galaxy_venv / "bin"
    for exe in ("galaxy-web", "galaxy-tool-test"):
        if not (galaxy_bin / exe).exists():
            raise GalaxyError(f"{galaxy_bin / exe} missing; run tests/galaxy/install_galaxy.sh")
    project_bin = project_bin.resolve()
    wrappers_dir = wrappers_dir.resolve()
    tools = discover_wrappers(wrappers_dir)
    if tool_ids:
        unknown = set(tool_ids) - {t["id"] for t in tools}
        if unknown:
            raise GalaxyError(f"no wrapper with id {sorted(unknown)} in {wrappers_dir}")
        tools = [t for t in tools if t["id"] in tool_ids]
    if not tools:
        raise GalaxyError(f"no tool XML in {wrappers_dir}")

    work = (work or Path(tempfile.mkdtemp(prefix="factornet-galaxy-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    admin_key = secrets.token_hex(16)
    config = write_config(work, port, admin_key, tools, wrappers_dir)
    env = dict(os.environ)
    env.update(
        # Same order a job sees (its script puts $VIRTUAL_ENV/bin first); `factornet` exists only in project_bin.
        PATH=os.pathsep.join([str(galaxy_bin), str(project_bin), env.get("PATH", "/usr/bin:/bin")]),
        VIRTUAL_ENV=str(galaxy_venv),
        TMPDIR=str(work / "tmp"),  # galaxy-tool-test leaves ephemeris_* folders in TMPDIR
        GALAXY_CONFIG_FILE=str(config),
        PYTHONNOUSERSITE="1",
    )
    env.pop("PYTHONPATH", None)
    log = work / "galaxy.log"
    t0 = time.monotonic()
    with open(log, "wb") as log_fh:
        proc = subprocess.Popen(
            [str(galaxy_bin / "galaxy-web"), "-c", str(config), "-b", f"127.0.0.1:{port}"],
            cwd=work,
            env=env,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = start_celery_worker(galaxy_bin, work, env)
    try:
        while True:
            if proc.poll() is not None:
                raise GalaxyError(
                    f"Galaxy exited ({proc.returncode}) before answering; log tail:\n{tail(log)}"
                )
            try:
                api_get(f"{url}/api/version", admin_key)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
                pass
            if time.monotonic() - t0 > start_timeout:
                raise GalaxyError(f"Galaxy not answering after {start_timeout:.0f} s; log tail:\n{tail(log)}")
            time.sleep(2)
        wait_for_worker(worker, work / "celery.log", start_timeout - (time.monotonic() - t0))
        missing = []
        for t in tools:
            try:
                t["version"] = api_get(f"{url}/api/tools/{t['id']}", admin_key).get("version")
            except urllib.error.HTTPError:
                missing.append(t["id"])
        if missing:
            reasons = "\n    ".join(load_errors(log))
            raise GalaxyError(f"tools that failed to load: {missing}; Galaxy's reasons:\n    {reasons}")
        yield GalaxyServer(url, admin_key, work, env, galaxy_bin, tools, round(time.monotonic() - t0, 1))
    finally:
        stop(proc)
        stop(worker)


def start_celery_worker(galaxy_bin: Path, work: Path, env: dict[str, str]) -> subprocess.Popen:
    """Galaxy's Celery worker (the queues gravity would start), brokered through the server's sqlite database
    (``amqp_internal_connection``); its log is ``work/celery.log``."""
    with open(work / "celery.log", "wb") as log_fh:
        return subprocess.Popen(
            [
                str(galaxy_bin / "celery"),
                "--app",
                "galaxy.celery",
                "worker",
                "--concurrency",
                "2",
                "--pool",
                "threads",
                "--queues",
                "celery,galaxy.internal,galaxy.external",
                "--loglevel",
                "INFO",
            ],
            cwd=work,
            env=env,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_worker(worker: subprocess.Popen, log: Path, timeout: float) -> None:
    """Until the worker logs "ready." (it imports Galaxy: ~15 s quiet, a minute busy); uploads queued before that
    would wait for it anyway, but a test's clock would be running. Raises GalaxyError if it exits or times out."""
    t0 = time.monotonic()
    while " ready." not in log.read_text(errors="replace"):
        if worker.poll() is not None:
            raise GalaxyError(f"Galaxy's Celery worker exited ({worker.returncode}); log tail:\n{tail(log)}")
        if time.monotonic() - t0 > max(timeout, 60):
            raise GalaxyError(
                f"Galaxy's Celery worker not ready after {timeout:.0f} s; log tail:\n{tail(log)}"
            )
        time.sleep(1)


def run_tool_tests(
    server: GalaxyServer,
    *,
    tool_id: str | None = None,
    parallel_tests: int = 2,
    timeout: float | None = None,
    results: Path | None = None,
) -> dict:
    """galaxy-tool-test against ``server`` (every tool it serves, or ``tool_id``) → the summary of summarize().

    ``timeout`` defaults to 240 s per test (~30 s on a quiet machine, 2-4x on a busy 2-core one) divided by
    ``parallel_tests``, at least 900 s.
    """
    tools = [t for t in server.tools if tool_id in (None, t["id"])]
    if timeout is None:  # scale with the work, not a fixed figure a busy machine outruns
        timeout = max(900.0, 240.0 * sum(t["n_tests"] for t in tools) / max(1, parallel_tests))
    results = results or server.work / f"results-{tool_id or 'all'}.json"
    cmd = [str(server.galaxy_bin / "galaxy-tool-test"), "-u", server.url, "-a", server.admin_key]
    cmd += ["-j", str(results), "--parallel-tests", str(parallel_tests)]
    # Tests of built-in genomes use data tables (tool_data_table_conf.xml.test); galaxy-tool-test skips them unless told.
    cmd += ["--with-reference-data"]
    # -t takes one id; without it galaxy-tool-test runs every tool the server has, i.e. exactly the wrappers.
    if tool_id is None and len(tools) == 1:
        tool_id = tools[0]["id"]
    if tool_id is not None:
        cmd += ["-t", tool_id]
    t1 = time.monotonic()
    try:
        rc = subprocess.run(cmd, cwd=server.work, env=server.env, timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        print(f"galaxy-tool-test ran past {timeout:.0f} s", file=sys.stderr)
        rc = 124
    summary = summarize(results, tools)
    summary.update(test_s=round(time.monotonic() - t1, 1), tool_test_rc=rc, work_dir=str(server.work))
    summary["ok"] = rc == 0 and summary["failed"] == 0 and summary["tests_run"] == summary["tests_expected"]
    return summary


def report(summary: dict) -> str:
    """The per-test lines and the totals, as printed at the end of a run."""
    lines = ["== Galaxy wrapper tests =="]
    for row in summary["tests"]:
        index = row["test_index"] + 1 if row["test_index"] is not None else "?"
        lines.append(f"  {row['status']:8s} {row['tool_id']} test {index}")
        lines += [f"      {str(prob).strip()[:2000]}" for prob in row["problems"]]
        if row["status"] != "success" and row["stderr"]:
            lines.append("      stderr: " + row["stderr"].strip()[-2000:].replace("\n", "\n              "))
    lines.append(
        f"tools {summary['tools']}  tests run {summary['tests_run']}/{summary['tests_expected']}  "
        f"passed {summary['passed']}  failed {summary['failed']}  (tests {summary['test_s']:.0f} s)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--galaxy-venv", type=Path, default=DEFAULT_CACHE / "galaxy-venv")
    p.add_argument("--wrappers-dir", type=Path, default=REPO / "galaxy_wrappers")
    p.add_argument("--project-bin", type=Path, default=None, help="folder holding the `factornet` executable")
    p.add_argument("-t", "--tool-id", action="append", default=[], help="test only this tool (repeatable)")
    p.add_argument("--work-dir", type=Path, default=None, help="default: a new temporary folder")
    p.add_argument("--keep-work", action="store_true", help="keep the work folder (always kept on failure)")
    p.add_argument("--parallel-tests", type=int, default=2)
    p.add_argument(
        "--start-timeout",
        type=float,
        default=600,
        help="seconds to wait for /api/version (~50 s quiet, 5+ min busy)",
    )
    p.add_argument(
        "--test-timeout",
        type=float,
        default=None,
        help="seconds for all tool tests together; default: 240 s per test (a test takes ~30 s on a quiet "
        "machine, 2-4x that on a busy 2-core one), divided by --parallel-tests, at least 900 s",
    )
    p.add_argument("--summary-json", type=Path, default=None, help="also write the summary here")
    args = p.parse_args(argv)

    project_bin = find_project_bin(args.project_bin)
    if project_bin is None:
        print(
            "run_galaxy_tests: error: no `factornet` executable; install the project (pip install -e .) "
            "or pass --project-bin / set FACTORNET_BIN",
            file=sys.stderr,
        )
        return 2
    # SIGTERM/SIGHUP (CI cancel, pytest timeout) still stop the server through the context manager's finally.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(143))
    work = (args.work_dir or Path(tempfile.mkdtemp(prefix="factornet-galaxy-"))).resolve()
    ok = False
    t0 = time.monotonic()
    try:
        with galaxy_server(
            galaxy_venv=args.galaxy_venv,
            project_bin=project_bin,
            wrappers_dir=args.wrappers_dir,
            tool_ids=args.tool_id,
            work=work,
            start_timeout=args.start_timeout,
        ) as server:
            print(f"Galaxy up at {server.url} in {server.start_s:.0f} s; work folder {work}")
            for t in server.tools:
                print(f"  loaded {t['id']} {t.get('version')} ({t['n_tests']} test(s))")
            summary = run_tool_tests(
                server,
                parallel_tests=args.parallel_tests,
                timeout=args.test_timeout,
                results=work / "results.json",
            )
            summary["galaxy_start_s"] = server.start_s
        print("\n" + report(summary) + f"  (total {time.monotonic() - t0:.0f} s)")
        if args.summary_json:
            args.summary_json.write_text(json.dumps(summary, indent=2) + "\n")
        ok = summary["ok"]
        return 0 if ok else 1
    except GalaxyError as exc:
        print(f"run_galaxy_tests: error: {exc}", file=sys.stderr)
        return 2 if "missing; run" in str(exc) or "no wrapper with id" in str(exc) else 1
    finally:
        if ok and not args.keep_work and args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
        elif not ok:
            print(
                f"work folder kept for debugging: {work} (galaxy.log, results.json, jobs/)", file=sys.stderr
            )


if __name__ == "__main__":
    sys.exit(main())
