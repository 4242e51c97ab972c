"""The hostile spec corpus (tests/hostile_specs.py) through the real CLI under a time limit and a
1 GiB memory limit: exit code 2, a located message, no traceback, no raw control character. The
fast lane runs one spec of each class, each in a process of its own; `-m slow` runs them all
through tests/hostile_batch.py (one process per CPU, each case alone again if a process fails)."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest

from .hostile_specs import Hostile, corpus

MEMORY_LIMIT = 1024**3
BATCH = Path(__file__).with_name("hostile_batch.py")
ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
CORPUS = corpus()


def _limit_memory() -> None:  # runs in the child, before the CLI starts
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _raw_controls(text: str) -> list[str]:
    """Characters that would act on a terminal rather than show: controls (but the newline),
    format characters (bidi overrides, zero-width spaces), line and paragraph separators."""
    return sorted({f"U+{ord(ch):04X}" for ch in text
                   if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")})


class Outcome(NamedTuple):
    code: object  # the exit code, or what stopped the run ("timeout", "raised ...")
    stdout: str
    stderr: str


def _write(case: Hostile, folder) -> str:
    path = folder / f"{case.id}.yaml"
    if isinstance(case.text, bytes):
        path.write_bytes(case.text)
    else:
        path.write_text(case.text, encoding="utf-8")
    return str(path)


def run_alone(case: Hostile, folder) -> Outcome:
    """`cnncalc table` on the case in a process of its own: the real entry point, fully isolated."""
    path = _write(case, folder)
    try:
        result = subprocess.run([sys.executable, "-m", "cnncalc", "table", path, "-f", "csv"], capture_output=True,
                                timeout=case.timeout, preexec_fn=_limit_memory if os.name == "posix" else None,
                                env=ENV)
    except subprocess.TimeoutExpired:
        return Outcome("timeout", "", "")
    return Outcome(result.returncode, result.stdout.decode("utf-8", "replace"),
                   result.stderr.decode("utf-8", "replace"))


def run_batch(cases: list[Hostile], folder) -> dict[str, Outcome]:
    """The cases through tests/hostile_batch.py, one process per CPU; a case a process did not
    report (it crashed or ran out of time) runs again in a process of its own."""
    items = {_write(case, folder): case for case in cases}
    chunks = [list(items)[i::os.cpu_count() or 2] for i in range(os.cpu_count() or 2)]
    procs = [subprocess.Popen([sys.executable, str(BATCH), *(f"{math.ceil(items[p].timeout)}:{p}" for p in chunk)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=ENV, text=True)
             for chunk in chunks if chunk]
    outcomes: dict[str, Outcome] = {}
    for proc in procs:
        try:
            out, _ = proc.communicate(timeout=sum(case.timeout for case in cases))
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        for line in out.splitlines():
            row = json.loads(line)
            outcomes[items[row["path"]].id] = Outcome(row["code"], row["stdout"], row["stderr"])
    for case in cases:
        if case.id not in outcomes:
            outcomes[case.id] = run_alone(case, folder)
    return outcomes


def problem(case: Hostile, outcome: Outcome, folder) -> str | None:
    """Why the outcome is not a clean refusal (exit 2, a located message, no traceback, no raw
    control character, nothing on stdout); None when it is."""
    err = outcome.stderr
    path = str(folder / f"{case.id}.yaml")
    checks = [(outcome.code == 2, f"exit {outcome.code}\n{err[-2000:]}"),
              ("Traceback" not in err and "Error:" not in err.split("error:")[0], err[-2000:]),
              (err.startswith(f"{path}:"), err.splitlines()[0] if err else "no message"),  # located
              (case.needle in err, f"{case.needle!r} not in\n{err[-2000:]}"),
              (_raw_controls(outcome.stdout + err) == [], _raw_controls(outcome.stdout + err)),
              (outcome.stdout == "", outcome.stdout[:2000])]
    return next((f"{case.id}: {why}" for ok, why in checks if not ok), None)


# One case of each kind the issue names, for the fast lane (`-m slow` runs the whole corpus).
SAMPLE = ("nest-explicit-key-100000", "billion-laughs-9x9", "alias-chain-40x100", "tag-0", "expr-0", "expr-3",
          "expr-squares-vars", "field-dropout-p-nan", "skipped-conv-bogus", "size-adaptive-1000000000000",
          "when-nan", "name-esc", "op-0", "misspelt-variable", "block-arg", "many-problems")


def _sample() -> list[Hostile]:
    by_id = {case.id: case for case in CORPUS}
    return [by_id[name] for name in SAMPLE]


def test_the_corpus_is_large_and_covers_every_class():
    assert len(CORPUS) >= 300
    classes = {case.id.split("-")[0] for case in CORPUS}
    assert {"nest", "billion", "alias", "tag", "syntax", "expr", "field", "skipped", "size", "when", "work", "max",
            "name", "description", "key", "op", "misspelt", "block"} <= classes


def run_all_alone(cases: list[Hostile], folder) -> dict[str, Outcome]:
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(zip([case.id for case in cases], pool.map(lambda case: run_alone(case, folder), cases)))


def assert_refused(cases: list[Hostile], outcomes: dict[str, Outcome], folder) -> None:
    """Every case refused cleanly; the message lists every one that was not."""
    failures = [why for case in cases if (why := problem(case, outcomes[case.id], folder))]
    assert failures == [], "\n\n".join(failures)


def test_hostile_spec_sample(tmp_path):
    outcomes = run_all_alone(_sample(), tmp_path)
    assert_refused(_sample(), outcomes, tmp_path)
    # the batch runner that checks the whole corpus sees what the real entry point does
    assert run_batch(_sample(), tmp_path) == outcomes


def test_a_case_the_batch_did_not_report_runs_alone(tmp_path, monkeypatch):
    crashing = tmp_path / "crash.py"
    crashing.write_text("import os\nos.abort()\n")  # dies before reporting anything, as a crash would
    monkeypatch.setitem(globals(), "BATCH", crashing)
    cases = _sample()[:3]
    outcomes = run_batch(cases, tmp_path)
    assert [outcomes[case.id].code for case in cases] == [2, 2, 2]
    assert_refused(cases, outcomes, tmp_path)


@pytest.mark.slow
def test_the_whole_hostile_corpus(tmp_path):
    assert_refused(CORPUS, run_batch(CORPUS, tmp_path), tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_and_device_through_the_cli(tmp_path):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    os.symlink("/dev/zero", tmp_path / "zero.yaml")
    for path in (fifo, tmp_path / "zero.yaml"):
        result = subprocess.run([sys.executable, "-m", "cnncalc", "table", str(path)], capture_output=True, text=True,
                                timeout=60, preexec_fn=_limit_memory)
        assert result.returncode == 2
        assert result.stderr.startswith(f"{path}: error: not a regular file")
