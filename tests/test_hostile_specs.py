"""The hostile spec corpus (tests/hostile_specs.py) through the real CLI, each spec in its own
process with a time limit and a 1 GiB memory limit: exit code 2, a located message, no traceback,
no raw control character. The fast lane runs one spec of each class; `-m slow` runs them all."""
from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from concurrent.futures import ThreadPoolExecutor

import pytest

from .hostile_specs import Hostile, corpus

MEMORY_LIMIT = 1024**3
CORPUS = corpus()


def _limit_memory() -> None:  # runs in the child, before the CLI starts
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _raw_controls(text: str) -> list[str]:
    """Characters that would act on a terminal rather than show: controls (but the newline),
    format characters (bidi overrides, zero-width spaces), line and paragraph separators."""
    return sorted({f"U+{ord(ch):04X}" for ch in text
                   if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")})


def run_hostile(case: Hostile, folder) -> subprocess.CompletedProcess:
    path = folder / f"{case.id}.yaml"
    if isinstance(case.text, bytes):
        path.write_bytes(case.text)
    else:
        path.write_text(case.text, encoding="utf-8")
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "cnncalc", "table", str(path), "-f", "csv"], capture_output=True,
                          timeout=case.timeout, preexec_fn=_limit_memory if os.name == "posix" else None, env=env)


def check(case: Hostile, folder) -> None:
    result = run_hostile(case, folder)
    out = result.stdout.decode("utf-8", "replace")
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 2, f"exit {result.returncode}\n{err[-2000:]}"
    assert "Traceback" not in err and "Error:" not in err.split("error:")[0], err[-2000:]
    path = str(folder / f"{case.id}.yaml")
    first = err.splitlines()[0]
    assert first.startswith(f"{path}:"), first  # located: the file, then line:column where there is one
    assert case.needle in err, f"{case.needle!r} not in\n{err[-2000:]}"
    assert _raw_controls(out + err) == []
    assert out == ""


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


def check_all(cases: list[Hostile], folder) -> None:
    """Check the cases in parallel processes (one per CPU), and report every one that fails."""

    def failure(case: Hostile) -> str | None:
        try:
            check(case, folder)
        except (AssertionError, subprocess.TimeoutExpired) as exc:
            return f"{case.id}: {exc}"
        return None

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        failures = [f for f in pool.map(failure, cases) if f]
    assert failures == [], "\n\n".join(failures)


def test_hostile_spec_sample(tmp_path):
    check_all(_sample(), tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted({case.id.split("-")[0] for case in CORPUS}))
def test_hostile_specs_of_class(kind, tmp_path):
    check_all([case for case in CORPUS if case.id.split("-")[0] == kind], tmp_path)


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
