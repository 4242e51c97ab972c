"""Runs `cnncalc table FILE -f csv` on many files in one process, for tests/test_hostile_specs.py:
one JSON line per file on the real stdout, with its exit code, stdout and stderr.

The interpreter and cnncalc start once instead of once per file (539 starts cost minutes on two
cores). Each file gets the case's time limit (SIGALRM) under the process's 1 GiB memory limit;
the test runs in a process of its own any file this one did not report, as a crash would leave."""
from __future__ import annotations

import io
import json
import resource
import signal
import sys
from contextlib import redirect_stderr, redirect_stdout

MEMORY_LIMIT = 1024**3


class TimeLimit(Exception):
    pass


def _alarm(signum, frame):
    raise TimeLimit


def run(path: str, seconds: int) -> dict:
    from cnncalc.cli import app

    out, err = io.StringIO(), io.StringIO()
    code: object = 0
    signal.alarm(seconds)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            app(["table", path, "-f", "csv"], prog_name="cnncalc")
    except SystemExit as exc:
        code = exc.code if exc.code is not None else 0
    except TimeLimit:
        code = "timeout"
    except BaseException as exc:  # reported as the test's failure, with what was raised
        code = f"raised {type(exc).__name__}: {exc}"
    finally:
        signal.alarm(0)
    return {"path": path, "code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def main(argv: list[str]) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    signal.signal(signal.SIGALRM, _alarm)
    real_stdout = sys.stdout
    for item in argv:
        seconds, path = item.split(":", 1)
        print(json.dumps(run(path, int(seconds))), file=real_stdout, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
