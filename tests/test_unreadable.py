"""Input files the user may not read: a spec, an answer sheet (named, or in a folder), an assignment,
a model YAML to import, a folder of sheets that cannot be listed or searched. Each gets a located
message (`FILE: error: cannot read ...`) and exit 2, no traceback; the readable sheets of a batch
are still graded.

Root reads every file whatever its mode, so as root the command lines run as `nobody` (setpriv,
util-linux); as anyone else, as the user running the tests. All of them in one process
(tests/cli_batch.py), which starts the interpreter once."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .clirun import BATCH
from .conftest import SPECS

NOBODY = 65534
SETPRIV = shutil.which("setpriv")
TIMEOUT_S = 60
SHEET = "layer,c_out,hw_out,memory_kb,params_k,macs_m\nc1,6,28,,,\n"
DENIED = "error: cannot read file: Permission denied"

pytestmark = pytest.mark.skipif(not hasattr(os, "geteuid") or (os.geteuid() == 0 and SETPRIV is None),
                                reason="as root, an unreadable file needs setpriv (util-linux) to run as nobody")

# name -> (the command line, the message lines it must print on stderr, what stdout must hold)
CASES: dict[str, tuple[list[str], list[str], list[str]]] = {
    "spec": (["table", "locked/spec.yaml"], [f"locked/spec.yaml: {DENIED}"], []),
    "spec-in-a-folder-without-search-permission": (
        ["table", "unsearchable/spec.yaml"], [f"unsearchable/spec.yaml: {DENIED}"], []),
    "spec-of-grade": (["grade", "locked/spec.yaml", "open/a.csv"], [f"locked/spec.yaml: {DENIED}"], []),
    "sheet-named-with-a-readable-one": (
        ["grade", "open/spec.yaml", "locked/b.csv", "open/a.csv", "--format", "csv"],
        [f"locked/b.csv: {DENIED}"], ["open/a.csv,"]),
    "sheet-in-a-folder": (["grade", "open/spec.yaml", "mixed", "--format", "csv"],
                          [f"mixed/b.csv: {DENIED}"], ["mixed/a.csv,"]),
    "folder-that-cannot-be-listed": (["grade", "open/spec.yaml", "unlistable"],
                                     ["unlistable: error: cannot read folder: Permission denied"], []),
    "sheets-in-a-folder-without-search-permission": (
        ["grade", "open/spec.yaml", "unsearchable"],
        [f"unsearchable/a.csv: {DENIED}", f"unsearchable/spec.yaml: {DENIED}"], []),
    "assignment": (["grade", "open/spec.yaml", "open/a.csv", "--assignment", "locked/b.csv"],
                   [f"locked/b.csv: {DENIED}"], []),
    "import": (["import", "locked/yolo.yaml"], [f"locked/yolo.yaml: {DENIED}"], []),
}


def _lay_out(root: Path) -> None:
    """open/ as it should be; locked/ holds files of mode 000; mixed/ a readable and a locked sheet;
    unlistable/ (mode 0o311: no read) and unsearchable/ (0o644: no search) hold readable files."""
    spec = (SPECS / "lenet5.yaml").read_text(encoding="utf-8")
    yolo = "nc: 80\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\nhead:\n  - [-1, 1, Conv, [32, 3, 2]]\n"
    files = {"open/spec.yaml": spec, "open/a.csv": SHEET, "locked/spec.yaml": spec, "locked/b.csv": SHEET,
             "locked/yolo.yaml": yolo, "mixed/a.csv": SHEET, "mixed/b.csv": SHEET, "unlistable/a.csv": SHEET,
             "unsearchable/a.csv": SHEET, "unsearchable/spec.yaml": spec}
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(0o000 if name.startswith("locked/") or name == "mixed/b.csv" else 0o644)
    (root / "unlistable").chmod(0o311)
    (root / "unsearchable").chmod(0o644)


@pytest.fixture(scope="module")
def outcomes() -> Iterator[dict[str, dict]]:
    """Every case's exit code, stdout and stderr, from one process (not under pytest's own temporary
    folder, which only its owner may enter)."""
    with tempfile.TemporaryDirectory(prefix="cnncalc-unreadable-") as folder:
        root = Path(folder)
        root.chmod(0o755)
        _lay_out(root)
        as_other = [SETPRIV, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] if os.geteuid() == 0 else []
        lines = {"control": ["table", "open/spec.yaml"]} | {key: args for key, (args, _, _) in CASES.items()}
        jobs = [{"key": key, "args": args, "cwd": folder, "timeout": TIMEOUT_S} for key, args in lines.items()]
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "CNNCALC_TEST_MEMORY": str(2 * 1024**3)}
        try:
            done = subprocess.run([*as_other, sys.executable, str(BATCH)], input=json.dumps(jobs), capture_output=True,
                                  text=True, timeout=TIMEOUT_S * 2, env=env)
        finally:
            for name in ("unlistable", "unsearchable"):  # so that the folder can be removed
                (root / name).chmod(0o755)
        rows = [json.loads(line) for line in done.stdout.splitlines()]
        if not rows and os.geteuid() == 0:
            pytest.skip(f"the command line cannot run as nobody here: {done.stderr[-500:]}")
        assert done.returncode == 0, done.stderr[-3000:]
        yield {row["key"]: row for row in rows}


def test_the_commands_read_the_readable_files(outcomes):
    """The control: the same process reads open/ (else the cases could pass for another reason)."""
    assert outcomes["control"]["code"] == 0, outcomes["control"]
    assert "c1" in outcomes["control"]["stdout"]


@pytest.mark.parametrize("case", CASES)
def test_an_unreadable_input_is_a_located_error(outcomes, case):
    _, messages, shown = CASES[case]
    outcome = outcomes[case]
    assert outcome["code"] == 2, outcome
    errors = [line for line in outcome["stderr"].splitlines() if ": error: " in line]
    assert errors == messages, outcome["stderr"]
    assert "Traceback" not in outcome["stderr"]
    for text in shown:
        assert text in outcome["stdout"]
