"""`--output`: one atomic writer (core/io.py) that keeps the umask and the target's mode, follows
symbolic links, refuses what is not a regular file and never overwrites the command's input."""
from __future__ import annotations

import os
import stat

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.core.errors import InputError
from cnncalc.core.io import write_atomic

runner = CliRunner()


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    """Set a umask for one test and restore the previous one."""
    previous = os.umask(0o022)
    os.umask(previous)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(previous)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_the_mode_of_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    target = tmp_path / "table.txt"
    result = runner.invoke(app, ["table", "alexnet", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert mode(target) == expected  # 0o666 & ~mask, as open() would create it


def test_an_existing_file_keeps_its_mode(tmp_path, umask):
    umask(0o077)
    target = tmp_path / "table.txt"
    target.write_text("old")
    os.chmod(target, 0o644)
    write_atomic(target, "new")
    assert target.read_text() == "new" and mode(target) == 0o644
    os.chmod(target, 0o640)
    write_atomic(target, b"bytes")
    assert target.read_bytes() == b"bytes" and mode(target) == 0o640


def test_a_symbolic_link_is_followed_and_kept(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    write_atomic(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_a_dangling_link_is_refused(tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "missing.txt")
    with pytest.raises(InputError, match="symbolic link to a file that does not exist"):
        write_atomic(link, "x")
    assert not (tmp_path / "missing.txt").exists()


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result = runner.invoke(app, ["table", "alexnet", "-o", str(fifo)])
    assert result.exit_code == 2
    assert f"{fifo}: error: not a regular file (a device, pipe or socket)" in result.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still the FIFO, not replaced


def test_a_device_is_refused():
    with pytest.raises(InputError, match="not a regular file"):
        write_atomic(__import__("pathlib").Path("/dev/null"), "x")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_directory_is_refused(tmp_path):
    result = runner.invoke(app, ["table", "alexnet", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "is a directory; give a file name" in result.stderr


def test_a_250_character_name_is_written(tmp_path):
    # The temporary file's name must not grow with the target's: 250 + a prefix would pass 255.
    target = tmp_path / ("t" * 250)
    result = runner.invoke(app, ["table", "alexnet", "-f", "csv", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text().startswith("layer,op,")
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]  # no temporary file left


def test_a_name_too_long_for_the_file_system_is_a_located_error(tmp_path):
    target = tmp_path / ("t" * 300)
    result = runner.invoke(app, ["table", "alexnet", "-o", str(target)])
    assert result.exit_code == 2
    assert "error: cannot write file: File name too long" in result.stderr
    assert "Traceback" not in result.output


def test_the_input_spec_is_never_overwritten(tmp_path):
    spec = tmp_path / "net.yaml"
    text = "input: [3, 8, 8]\nlayers:\n  - {op: conv, out: 4, kernel: 3}\n"
    spec.write_text(text)
    result = runner.invoke(app, ["table", str(spec), "-o", str(spec)])
    assert result.exit_code == 2
    assert f"{spec}: error: is {spec}, an input of this command: writing would overwrite it" in result.stderr
    assert spec.read_text() == text
    link = tmp_path / "other-name.yaml"
    link.symlink_to(spec)
    result = runner.invoke(app, ["table", str(spec), "-f", "json", "-o", str(link)])
    assert result.exit_code == 2 and spec.read_text() == text


def test_an_answer_sheet_is_never_overwritten(tmp_path):
    sheet = tmp_path / "alice.csv"
    sheet.write_text("Layer,C_out\nconv1,96\n")
    result = runner.invoke(app, ["grade", "alexnet", str(sheet), "-f", "csv", "-o", str(sheet)])
    assert result.exit_code == 2 and "an input of this command" in result.stderr
    assert sheet.read_text() == "Layer,C_out\nconv1,96\n"


def test_a_missing_folder_is_a_located_error(tmp_path):
    result = runner.invoke(app, ["table", "alexnet", "-o", str(tmp_path / "no" / "t.txt")])
    assert result.exit_code == 2 and "does not exist" in result.stderr
