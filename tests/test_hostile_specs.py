"""The hostile spec corpus (tests/hostile_specs.py) through the real CLI under a time limit and a
1 GiB memory limit: exit code 2, a located message, no traceback, no raw control character. The
fast lane runs one spec of each class (a few also each in a process of its own); `-m slow` runs them all
in batches (tests/clirun.py: one process per CPU, each case alone again if a process fails)."""
from __future__ import annotations

import math
import os
import unicodedata

import pytest

from .clirun import Job, Outcome, run_all_alone, run_alone, run_batch
from .hostile_specs import Hostile, corpus

MEMORY_LIMIT = 1024**3
ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
CORPUS = corpus()


def _raw_controls(text: str) -> list[str]:
    """Characters that would act on a terminal rather than show: controls (but the newline),
    format characters (bidi overrides, zero-width spaces), line and paragraph separators."""
    return sorted({f"U+{ord(ch):04X}" for ch in text
                   if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")})


def job(case: Hostile, folder) -> Job:
    path = folder / f"{case.id}.yaml"
    if isinstance(case.text, bytes):
        path.write_bytes(case.text)
    else:
        path.write_text(case.text, encoding="utf-8")
    return Job(case.id, ["table", str(path), "-f", "csv"], str(folder), math.ceil(case.timeout))


def problem(case: Hostile, outcome: Outcome, folder) -> str | None:
    """Why the outcome is not a clean refusal (exit 2, a located message, no traceback, no raw
    control character, nothing on stdout); None when it is."""
    err = outcome.stderr
    path = str(folder / f"{case.id}.yaml")
    checks = [(outcome.code == 2, f"exit {outcome.code} (None: past its time limit)\n{err[-2000:]}"),
              ("Traceback" not in err and "Error:" not in err.split("error:")[0], err[-2000:]),
              (err.startswith(f"{path}:"), err.splitlines()[0] if err else "no message"),  # located
              (case.needle in err, f"{case.needle!r} not in\n{err[-2000:]}"),
              (_raw_controls(outcome.stdout + err) == [], _raw_controls(outcome.stdout + err)),
              (outcome.stdout == "", outcome.stdout[:2000])]
    return next((f"{case.id}: {why}" for ok, why in checks if not ok), None)


# One case of each kind the issue names, for the fast lane (`-m slow` runs the whole corpus).
SAMPLE = ("nest-explicit-key-100000", "billion-laughs-9x9", "alias-chain-40x100", "tag-0", "expr-0", "expr-3",
          "expr-squares-vars", "field-dropout-p-nan", "skipped-conv-bogus", "size-adaptive-1000000000000",
          "when-nan", "name-esc", "op-0", "misspelt-variable", "block-arg", "many-problems", "raw-esc-in-comment", "use-self", "use-esc")


def _sample() -> list[Hostile]:
    by_id = {case.id: case for case in CORPUS}
    return [by_id[name] for name in SAMPLE]


def test_the_corpus_is_large_and_covers_every_class():
    assert len(CORPUS) >= 300
    classes = {case.id.split("-")[0] for case in CORPUS}
    assert {"nest", "billion", "alias", "tag", "syntax", "expr", "field", "skipped", "size", "when", "work", "max",
            "name", "description", "key", "op", "misspelt", "block", "use"} <= classes


def assert_refused(cases: list[Hostile], outcomes: dict[str, Outcome], folder) -> None:
    """Every case refused cleanly; the message lists every one that was not."""
    failures = [why for case in cases if (why := problem(case, outcomes[case.id], folder))]
    assert failures == [], "\n\n".join(failures)


# Through the real entry point, one process each: the ones that would crash or exhaust a process.
ALONE = ("nest-explicit-key-100000", "billion-laughs-9x9", "name-esc", "many-problems")


def test_hostile_spec_sample(tmp_path):
    jobs = {case.id: job(case, tmp_path) for case in _sample()}
    outcomes = run_batch(list(jobs.values()), ENV, MEMORY_LIMIT)
    assert_refused(_sample(), outcomes, tmp_path)
    # the batch runner that checks the whole corpus sees what the real entry point does
    assert run_all_alone([jobs[name] for name in ALONE], ENV, MEMORY_LIMIT) == {name: outcomes[name] for name in ALONE}


def test_a_case_the_batch_did_not_report_runs_alone(tmp_path):
    crashing = tmp_path / "crash.py"
    crashing.write_text("import os\nos.abort()\n")  # dies before reporting anything, as a crash would
    cases = _sample()[:2]
    outcomes = run_batch([job(case, tmp_path) for case in cases], ENV, MEMORY_LIMIT, script=crashing)
    assert [outcomes[case.id].code for case in cases] == [2, 2]
    assert_refused(cases, outcomes, tmp_path)


@pytest.mark.slow
def test_the_whole_hostile_corpus(tmp_path):
    assert_refused(CORPUS, run_batch([job(case, tmp_path) for case in CORPUS], ENV, MEMORY_LIMIT), tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_and_device_through_the_cli(tmp_path):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    os.symlink("/dev/zero", tmp_path / "zero.yaml")
    for path in (fifo, tmp_path / "zero.yaml"):
        outcome = run_alone(Job(path.name, ["table", str(path)], str(tmp_path), 60), ENV, MEMORY_LIMIT)
        assert outcome.code == 2
        assert outcome.stderr.startswith(f"{path}: error: not a regular file")
