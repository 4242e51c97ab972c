"""Runs many `cnncalc` command lines in one process, for the hostile corpora (tests/clirun.py).

Reads a JSON list of jobs ({"key", "args", "cwd", "timeout"}) from stdin and prints one JSON line
per job ({"key", "code", "stdout", "stderr"}) on the real stdout, as it finishes. The interpreter
and cnncalc start once instead of once per job (hundreds of starts cost minutes on two cores).
Each job gets its time limit (SIGALRM) under the process's memory limit; tests/clirun.py runs in
a process of its own any job this one did not report, as a crash would leave."""
from __future__ import annotations

import io
import json
import os
import resource
import signal
import sys
from contextlib import redirect_stderr, redirect_stdout


class TimeLimit(Exception):
    pass


def _alarm(signum, frame):
    raise TimeLimit


def run(args: list[str], cwd: str, seconds: int) -> tuple[object, str, str]:
    from cnncalc.cli import app

    out, err = io.StringIO(), io.StringIO()
    code: object = 0
    os.chdir(cwd)
    signal.alarm(seconds)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            app(args, prog_name="cnncalc")
    except SystemExit as exc:
        code = exc.code if exc.code is not None else 0
    except TimeLimit:
        code = None
    except BaseException as exc:  # the test reports it as a failure, with what was raised
        code = f"raised {type(exc).__name__}: {exc}"
    finally:
        signal.alarm(0)
    return code, out.getvalue(), err.getvalue()


def main() -> None:
    jobs = json.load(sys.stdin)
    sys.stdin = open(os.devnull)  # noqa: SIM115 (a command that reads stdin reads nothing)
    limit = int(os.environ["CNNCALC_TEST_MEMORY"])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _alarm)
    real_stdout = sys.stdout
    for job in jobs:
        code, out, err = run(job["args"], job["cwd"], job["timeout"])
        print(json.dumps({"key": job["key"], "code": code, "stdout": out, "stderr": err}), file=real_stdout, flush=True)


if __name__ == "__main__":
    main()
