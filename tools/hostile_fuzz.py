#!/usr/bin/env python3
"""Throws mutated specs, answer sheets, Ultralytics YAMLs and option values at every cnncalc command
and lists each run that is not a clean answer: a traceback or an escaped exception, an exit code
other than 0/1/2, a refusal (exit 2) whose message names no file or option, a raw control character
in the output, a run over the time limit or over the memory limit.

    python tools/hostile_fuzz.py [--seed N] [--per-spec N] [--jobs N] [--only CATEGORY] [--subprocess N]

Commands run in-process (the typer app, in worker processes that start once, each job under SIGALRM
and RLIMIT_AS: tests/cli_batch.py's way); `--subprocess N` also runs N sampled jobs through the real
entry point to see what the terminal gets. The report prints counts per command and category and
every finding, one per line; the exit code is 1 when there are findings."""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIME_LIMIT = 10  # seconds of CPU per job
MEMORY_LIMIT = 1 << 30  # growth of the worker's peak RSS per job
ADDRESS_LIMIT = 4 << 30  # the workers' address space (torch maps much more than it touches)
SHEET = str(ROOT / "tests" / "data" / "sheets" / "alexnet" / "bob.csv")
# a refusal names a file (`path: error:`), an option (`--name`), or is click's usage error
LOCATED = r"(^|\n)\S.*: error: |error: (Invalid|Missing|No such|Got unexpected)|--|Usage:"
# a "billion laughs" of 10**8 values, before a spec's `layers:`
BOMB = "x0: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(
    f"x{i}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 10) + "]\n" for i in range(1, 8))

HOSTILE_SCALARS = {
    "list": "[1, 2]", "map": "{a: 1}", "null": "null", "empty": "''", "huge-int": "9" * 40,
    "huge-int-5000": "9" * 5000, "1e400": "1e400", "nan": ".nan", "inf": ".inf", "ninf": "-.inf",
    "negative": "-7", "zero": "0", "bool": "true", "float": "2.5", "esc": '"\\e[2J\\e[31mPWN"',
    "bidi": '"a\\u202eb"', "nul": '"a\\0b"', "newline": '"a\\nerror: forged"', "long": "x" * 20000,
    "expr-huge": "'10**99'", "expr-pow": "'2*' * 1", "alias": "*nope", "tag": "!!python/name:os.system",
    "deep": "[" * 300 + "]" * 300, "neg-huge": "-" + "9" * 30, "tiny": "1e-400", "hex": "0x10",
    "date": "2001-12-14", "yes": "yes", "str-num": "'12'", "c1": '"a\\x9bb"', "zwsp": '"a\\u200bb"',
}


@dataclass
class Job:
    key: str
    category: str
    command: str
    args: list[str]
    expect: tuple[int, ...] = (0, 1, 2)
    needs_location: bool = True  # a refusal must name the file (or the option)


@dataclass
class Finding:
    job: Job
    why: str
    detail: str


@dataclass
class Plan:
    folder: Path
    jobs: list[Job] = field(default_factory=list)
    files: int = 0

    def write(self, name: str, content: str | bytes) -> str:
        self.files += 1
        path = self.folder / name
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogatepass")
        path.write_bytes(content)
        return str(path)


# ---- specs -----------------------------------------------------------------------------------

def _scalar_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, path) of every plain scalar value of a YAML text."""
    import yaml

    spans: list[tuple[int, int, str]] = []

    def walk(node, path: str) -> None:
        if isinstance(node, yaml.ScalarNode):
            if node.start_mark.index < node.end_mark.index:
                spans.append((node.start_mark.index, node.end_mark.index, path))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, f"{path}[{i}]")
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                spans.append((key.start_mark.index, key.end_mark.index, f"{path}.<key {key.value}>"))
                walk(value, f"{path}.{key.value}")

    walk(yaml.compose(text), "")
    return spans


def _structural(text: str, rng: random.Random) -> dict[str, str | bytes]:
    lines = text.splitlines(keepends=True)
    cut = rng.randrange(1, max(2, len(text)))
    middle = rng.randrange(len(lines))
    return {
        "bom": "\ufeff" + text, "bom-twice": "\ufeff\ufeff" + text, "crlf": text.replace("\n", "\r\n"),
        "cr-only": text.replace("\n", "\r"), "tabs": text.replace("  ", "\t"),
        "latin1-byte": text.encode() + b"# caf\xe9\n", "nul": text[:cut] + "\x00" + text[cut:],
        "truncated": text[:cut], "empty": "", "spaces": "   \n\n", "utf16": text.encode("utf-16"),
        "doubled": text + text, "two-docs": text + "---\n" + text, "long-line": text + "# " + "x" * 2_000_000 + "\n",
        "long-comment-lines": text + ("#" * 1000 + "\n") * 3000, "esc-comment": text + "# \x1b[2J\x1b]0;pwned\x07\n",
        "line-dup": "".join(lines[:middle + 1] + lines[middle:]),
        "line-drop": "".join(lines[:middle] + lines[middle + 1:]),
        "indent-shift": "".join(lines[:middle] + [" " + line for line in lines[middle:]]),
        "surrogate": text.encode() + b"# \xed\xa0\x80\n", "overlong": text.encode() + b"# \xc0\xaf\n",
        "ctrl-raw": text.replace("input:", "input\x1b[31m:", 1), "bidi-raw": text.replace("name:", "na\u202eme:", 1),
        "dup-top-key": text + "input: [3, 8, 8]\n",
        "anchor-bomb": text.replace("layers:", BOMB + "layers:", 1),
    }


def _value_mutations(text: str, rng: random.Random, per_spec: int) -> dict[str, str]:
    spans = _scalar_spans(text)
    out = {}
    labels = list(HOSTILE_SCALARS)
    chosen = rng.sample(spans, min(per_spec, len(spans)))
    for start, end, path in chosen:
        label = rng.choice(labels)
        value = HOSTILE_SCALARS[label]
        if "<key" in path:
            value = value if label not in ("list", "map", "deep") else f'"{label}"'
        out[f"{path}={label}"] = text[:start] + value + text[end:]
    return out


def _spec_commands(path: str, folder: Path, n: int) -> list[tuple[str, list[str]]]:
    out = folder / f"out{n}"
    return [
        ("table", ["table", path]), ("table-json", ["table", path, "-f", "json"]),
        ("table-csv", ["table", path, "-f", "csv", "--depth", "1"]), ("explain", ["explain", path]),
        ("memory", ["memory", path]), ("memory-fit", ["memory", path, "--fit", "1GiB", "-f", "json"]),
        ("check", ["check", path, "--max-params", "1M", "--max-train-peak", "1GiB"]),
        ("compare", ["compare", path, "alexnet", "-f", "csv"]), ("grade-key", ["grade", "--key", path]),
        ("grade-template", ["grade", "--template", path, "--format", "yaml"]),
        ("report", ["report", path, "-o", f"{out}.html"]), ("plot", ["plot", path, "-o", f"{out}.svg"]),
        ("export", ["export", path, "--to", "pytorch", "-o", f"{out}.py", "--force"]),
        ("sweep", ["sweep", path, "--input", "3,32,32", "--input", "3,64,64", "-j", "1"]),
        ("symbolic", ["table", path, "--symbolic"]),
    ]


def spec_jobs(plan: Plan, rng: random.Random, per_spec: int, full: bool, pattern: str) -> None:
    sources = sorted({path for glob in pattern.split(",") for folder in (ROOT / "specs", ROOT / "docs" / "examples")
                      for path in folder.glob(glob)})
    sources = [s for s in sources if "ultralytics" not in s.name]
    n = 0
    for source in sources:
        text = source.read_text(encoding="utf-8")
        mutations: dict[str, str | bytes] = {**_value_mutations(text, rng, per_spec), **_structural(text, rng)}
        for label, content in mutations.items():
            n += 1
            path = plan.write(f"s{n}.yaml", content)
            commands = _spec_commands(path, plan.folder, n)
            if not full:  # the loader is shared: two commands besides the table
                commands = [commands[0], *rng.sample(commands[1:], 2)]
            for command, args in commands:
                plan.jobs.append(Job(f"{source.name}:{label}:{command}", "spec", command.split("-")[0], args))


def odd_paths(plan: Plan) -> None:
    folder = plan.folder
    os.mkfifo(folder / "fifo.yaml")
    (folder / "dir.yaml").mkdir()
    (folder / "zero.yaml").symlink_to("/dev/zero")
    (folder / "loop.yaml").symlink_to(folder / "loop.yaml")
    (folder / "dangling.yaml").symlink_to(folder / "missing")
    odd = ["fifo.yaml", "dir.yaml", "zero.yaml", "loop.yaml", "dangling.yaml", "/dev/stdin", "/proc/self/mem",
           "-", "", "\x1b[31mred.yaml", "a\u202eb.yaml", "x" * 5000 + ".yaml", "/etc/shadow", "nul\x00.yaml"]
    for i, name in enumerate(odd):
        path = name if name.startswith("/") or not name or name == "-" else str(folder / name)
        for command, args in _spec_commands(path, folder, 10_000 + i):
            plan.jobs.append(Job(f"path:{name[:40]!a}:{command}", "odd-path", command.split("-")[0], args))
        plan.jobs.append(Job(f"sheet-path:{name[:40]!a}", "odd-path", "grade", ["grade", "alexnet", "--", path]))
        plan.jobs.append(Job(f"import-path:{name[:40]!a}", "odd-path", "import", ["import", path]))


# ---- options ---------------------------------------------------------------------------------

OPTION_VALUES = ["", "-1", "0", "1e400", "nan", "inf", "-inf", "9" * 40, "9" * 5000, "1.5", "abc", "\x1b[31m",
                 "a\u202eb", "1,2", ",,,", "3,,8", "1e3", "24GiB", "24 GiB", "1 TiB", "0B", "-5M", "1e-9",
                 "1kk", "x=1", "=", "a=b=c", "width=\x1b[2J", "width=" + "1+" * 600 + "1", "width=1e400",
                 "width=nan", "width=[1,2]", "width={a: 1}", "width=__import__('os')", "width=10**99"]


def option_jobs(plan: Plan) -> None:
    spec = plan.write("vars.yaml", "input: [3, 32, 32]\nvars:\n  width: 8\n  depth: 2\nlayers:\n"
                      "  - {op: conv, name: c, out: width, kernel: 3, pad: 1, repeat: depth}\n"
                      "  - {op: gap}\n  - {op: flatten}\n  - {op: fc, out: 10}\n")
    options = {
        "table": ["--input", "--set", "--batch", "--depth", "--columns", "--convention", "--dtype", "--mode"],
        "memory": ["--fit", "--batch", "--optimizer", "--amp", "--checkpoint", "--set", "--input", "--dtype"],
        "check": ["--max-params", "--max-macs", "--max-activations", "--max-peak", "--max-train-peak", "--set",
                  "--input"],
        "compare": ["--input", "--set", "--plot-axes", "--by"],
        "sweep": ["--set", "--input", "--maximize", "--minimize", "--pareto", "--top", "--figures", "--plot-axes",
                  "--max-params", "--max-peak"],
        "grade": ["--weight", "--points", "--rtol", "--carry-forward-credit", "--depth", "--set"],
        "report": ["--depth", "--checkpoint", "--set", "--input"], "plot": ["--what", "--depth", "--checkpoint"],
        "export": ["--input", "--set"], "import": ["--scale", "--name"],
    }
    for command, names in options.items():
        for name in names:
            for value in OPTION_VALUES:
                args = _command_args(plan, command, spec)
                if command == "sweep" and name != "--set":
                    args += ["--set", "width=4,8"]
                plan.jobs.append(Job(f"{command} {name} {value[:30]!a}", "option", command, args + [name, value]))
    sweeps = ["width=0.5:1.5:0", "width=1:1000000000:1", "width=1:2:-1", "width=2:1:1", "width=1:2:1e-300",
              "width=1:1e400:1", "width=nan:2:1", "width=" + ",".join(["8"] * 100_000), "width=", "width=,",
              "width=1:2", "width=a:b:c", "depth=1:1000:1", "width=1:64:1", "nope=1,2", "width=8,8,8"]
    for grid in sweeps:
        args = ["sweep", spec, "--set", grid, "-j", "1", "--set", "depth=1:200:1"] if grid.startswith("width=1:64") \
            else ["sweep", spec, "--set", grid, "-j", "1"]
        plan.jobs.append(Job(f"sweep grid {grid[:40]!a}", "sweep-grid", "sweep", args))
    for target in _output_targets(plan):
        for command, extra in (("table", ["table", spec]), ("report", ["report", spec]), ("plot", ["plot", spec]),
                               ("export", ["export", spec, "--to", "pytorch"]), ("grade", ["grade", "--key", spec]),
                               ("memory", ["memory", spec]), ("compare", ["compare", spec, spec, "--plot"]),
                               ("sweep", ["sweep", spec, "--set", "width=4,8", "-j", "1", "--plot"])):
            args = extra + [target] if command in ("compare", "sweep") else extra + ["-o", target]
            plan.jobs.append(Job(f"{command} -o {target[-40:]!a}", "output", command, args))
        plan.jobs.append(Job(f"grade --feedback {target[-40:]!a}", "output", "grade",
                             ["grade", "alexnet", SHEET, "--feedback", target]))
        plan.jobs.append(Job(f"grade --gradebook {target[-40:]!a}", "output", "grade",
                             ["grade", "alexnet", SHEET, "--gradebook", target]))


def _command_args(plan: Plan, command: str, spec: str) -> list[str]:
    if command == "grade":
        return ["grade", spec, SHEET]
    if command == "compare":
        return ["compare", spec, spec]
    if command == "import":
        return ["import", str(ROOT / "docs/examples/ultralytics_tiny.yaml")]
    if command in ("report", "plot"):
        return [command, spec, "-o", str(plan.folder / f"o.{'html' if command == 'report' else 'svg'}")]
    if command == "export":
        return ["export", spec, "--to", "pytorch", "-o", str(plan.folder / "o.py"), "--force"]
    return [command, spec]


def _output_targets(plan: Plan) -> list[str]:
    folder = plan.folder / "outputs"
    folder.mkdir()
    (folder / "a-dir").mkdir()
    os.mkfifo(folder / "fifo.out")
    (folder / "file").write_text("x")
    return [str(folder / "a-dir"), str(folder / "missing" / "x.out"), str(folder / "file" / "x.out"),
            str(folder / "fifo.out"), "/dev/full", str(folder / "\x1b[31mred.out"), str(folder / ("x" * 300)),
            str(folder / "x.weird-suffix"), "/proc/version", str(folder / "nul\x00.out"), str(folder / "ok.svg")]


# ---- answer sheets and imports -----------------------------------------------------------------

def sheet_jobs(plan: Plan, rng: random.Random, count: int) -> None:
    from typer.testing import CliRunner

    from cnncalc.cli import app

    runner = CliRunner()
    for fmt in ("csv", "yaml"):
        key = runner.invoke(app, ["grade", "--key", "alexnet", "--format", fmt]).stdout
        cells = [(m.start(), m.end()) for m in re.finditer(r"[^,\n:{} \[\]]+", key)]
        for i in range(count):
            start, end = rng.choice(cells)
            label = rng.choice(list(HOSTILE_SCALARS))
            value = HOSTILE_SCALARS[label]
            if fmt == "csv":
                value = value.replace(",", ";")
            content: str | bytes = key[:start] + value + key[end:]
            path = plan.write(f"sheet{i}.{fmt}", content)
            plan.jobs.append(Job(f"sheet.{fmt}:{start}={label}", "sheet", "grade", ["grade", "alexnet", path]))
        for label, content in _structural(key, rng).items():
            path = plan.write(f"sheet-{label}.{fmt}", content)
            plan.jobs.append(Job(f"sheet.{fmt}:{label}", "sheet", "grade", ["grade", "alexnet", path]))
            plan.jobs.append(Job(f"assignment.{fmt}:{label}", "sheet", "grade",
                                 ["grade", "alexnet", "--assignment", path, SHEET]))


def import_jobs(plan: Plan, rng: random.Random, count: int) -> None:
    for source in sorted((ROOT / "docs" / "examples").glob("ultralytics*.yaml")):
        text = source.read_text(encoding="utf-8")
        mutations: dict[str, str | bytes] = {**_value_mutations(text, rng, count), **_structural(text, rng)}
        for i, (label, content) in enumerate(mutations.items()):
            path = plan.write(f"u{source.stem}{i}.yaml", content)
            out = str(plan.folder / f"u{source.stem}{i}.out.yaml")
            plan.jobs.append(Job(f"{source.name}:{label}", "import", "import", ["import", path, "-o", out]))
            plan.jobs.append(Job(f"{source.name}:{label}:table", "import", "table", ["table", out]))


# ---- fair grading: a right sheet written as students write it -----------------------------------

# Each rewrites a right cell of the key into another form of the same number at the same precision
# (an accepted form: the sheet must stay all right), by column.
_GROUP_SEPARATORS = [",", " ", "\u00a0", "\u202f", "'", "\u2019"]
_TIMES_TEN = ["e{}", "E+{:02d}", "\u00d710^{}", " x 10^{}", "*10**{}", "\u00b710{}"]
_SUPERSCRIPT = str.maketrans("0123456789-", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079\u207b")
_SUFFIXES = {"memory_kb": [" KB", "KB", " KiB", "kB", " kilobytes"],
             "params_k": ["k", " k", " K", " k params", " thousand", "K params"],
             "macs_m": ["M", " M", " MMACs", " million", " mil", " M MACs", "M FLOPs"]}
_NEXT_UNIT = {"params_k": (" M", 3), "macs_m": (" G", 3), "memory_kb": (" MB", None)}  # same step, next prefix


def _scientific(text: str, form: str) -> str:
    """'1134' -> '1.134e3' (the same digits: the same precision), in one of _TIMES_TEN's forms."""
    whole, _, frac = text.partition(".")
    digits = (whole + frac).lstrip("0") or "0"
    exponent = len(whole.lstrip("0")) - 1 if whole.strip("0") else -(len(frac) - len(frac.lstrip("0")) + 1)
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    places = len(frac) + exponent  # digits after the point, as written: kept by the mantissa's length
    if len(digits) - 1 != places:  # trailing zeros of a whole number would change the precision
        return text
    power = exponent
    rendered = f"E{'+' if power >= 0 else '-'}{abs(power):02d}" if form.startswith("E") else form.format(power)
    if form.startswith("\u00b7"):
        rendered = "\u00b710" + str(power).translate(_SUPERSCRIPT)
    return mantissa + rendered


def _group(text: str, separator: str) -> str:
    whole, dot, frac = text.partition(".")
    if len(whole) < 4:
        return text
    grouped = f"{int(whole):,}".replace(",", separator)
    return grouped + dot + frac


def fair_value(text: str, column: str, rng: random.Random) -> str:
    """Another accepted way to write the right value `text` (as the key wrote it) of `column`."""
    text = text.replace(",", "")
    if column == "c_out":
        return rng.choice([text, f" {text} ", f"{text}.0", f"+{text}"])
    if column == "hw_out":
        return rng.choice([text, f"{text}x{text}", f"{text} \u00d7 {text}", f"({text}, {text})", f"[{text},{text}]",
                           f"{text}\u00b2", f"{text}^2", f"{text} by {text}", f"{text}.0"])
    choice = rng.randrange(5)
    if choice == 0:
        return _group(text, rng.choice(_GROUP_SEPARATORS))
    if choice == 1:
        return _scientific(text, rng.choice(_TIMES_TEN))
    if choice == 2:
        return text + rng.choice(_SUFFIXES[column])
    if choice == 3 and "." not in text and _NEXT_UNIT[column][1]:
        unit, places = _NEXT_UNIT[column]
        return f"{int(text) / 10 ** places:.{places}f}{unit}" if len(text) <= 12 else text
    return rng.choice([f"{text}." if "." not in text else text, f"+{text}", f" {text}\t"])


def _fair_layer(name: str, rng: random.Random) -> str:
    if name == "total":
        return rng.choice(["total", "Total", "TOTAL:", "Totals", "Sum", "\u03a3", " total "])
    return rng.choice([name, name.upper(), f" {name} ", f"{name}:"])


def _csv_text(rows: list[list[str]], delimiter: str, terminator: str) -> str:
    import csv
    import io

    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=terminator, quoting=csv.QUOTE_MINIMAL).writerows(rows)
    return out.getvalue()


def _dress(rows: list[list[str]], rng: random.Random) -> str | bytes:
    """The rows as a spreadsheet may save them: separators, line ends, encodings, titles, blanks."""
    header, body = rows[0], rows[1:]
    if rng.random() < 0.3:
        rng.shuffle(body)
    if rng.random() < 0.3:
        width = rng.randrange(1, 4)
        header, body = header + [""] * width, [row + [""] * width for row in body]
    table = [header, *body]
    if rng.random() < 0.2:
        table.insert(rng.randrange(1, len(table)), [""] * len(header))
    if rng.random() < 0.2:
        table.insert(0, ["Homework 3: AlexNet"] + [""] * (len(header) - 1))
    if rng.random() < 0.1:
        table.insert(rng.randrange(2, len(table)), list(header))  # two tables pasted together
    delimiter = rng.choice([",", ",", ";", "\t"])
    text = _csv_text(table, delimiter, rng.choice(["\n", "\r\n"]))
    encoding = rng.choice(["utf-8", "utf-8", "utf-8-sig", "utf-16"])
    return text.encode(encoding)


def fair_jobs(plan: Plan, rng: random.Random, count: int) -> None:
    """The key of a bundled spec rewritten as students write it (forms of each right value, layer
    names, separators, encodings, order): must stay all right (exit 0). One cell made wrong, in an
    accepted form: must fail (exit 1)."""
    import csv
    import io

    from typer.testing import CliRunner

    from cnncalc.cli import app
    from cnncalc.grade.columns import classify_header

    runner = CliRunner()
    for spec in ("alexnet", "googlenet_stem", "resnet18", "vgg16"):
        key = runner.invoke(app, ["grade", "--key", spec]).stdout
        rows = list(csv.reader(io.StringIO(key)))
        keys = [getattr(classify_header(h), "key", None) for h in rows[0]]
        for i in range(count):
            mutated = [rows[0]]
            for row in rows[1:]:
                cells = [_fair_layer(row[0], rng)] + [
                    fair_value(cell, keys[j], rng) if cell and keys[j] and rng.random() < 0.7 else cell
                    for j, cell in enumerate(row) if j > 0]
                mutated.append(cells)
            wrong = i % 3 == 2
            if wrong:  # one numeric cell off by a third, in an accepted form
                numeric = [(r, j) for r in range(1, len(rows)) for j, k in enumerate(keys)
                           if k in _SUFFIXES and rows[r][j] and float(rows[r][j].replace(",", "")) >= 3]
                r, j = rng.choice(numeric)
                value = float(rows[r][j].replace(",", "")) * 4 // 3 + 1
                mutated[r][j] = fair_value(f"{value:.0f}", keys[j], rng)
            path = plan.write(f"fair-{spec}-{i}.csv", _dress(mutated, rng))
            plan.jobs.append(Job(f"fair:{spec}:{i}:{'wrong' if wrong else 'right'}", "fair", "grade",
                                 ["grade", spec, path], expect=(1,) if wrong else (0,)))


# ---- messy files, folders of sheets ---------------------------------------------------------------

FOLDER_SHEETS = 500  # 7 to 14 ms of CPU each, the grids drawn: 3,000 sheets take 20 to 27 s (docs/limits.md)


def messy_jobs(plan: Plan, rng: random.Random) -> None:
    """Files as they come from a class: encodings, binary junk, names with control characters, huge
    files, folders with thousands of sheets and entries that are not files."""
    from typer.testing import CliRunner

    from cnncalc.cli import app

    key = CliRunner().invoke(app, ["grade", "--key", "alexnet"]).stdout
    contents: dict[str, str | bytes] = {
        "cp1252": ("# student: Jos\u00e9\n" + key).encode("cp1252"), "utf16le-no-bom": key.encode("utf-16-le"),
        "utf16be-bom": b"\xfe\xff" + key.encode("utf-16-be"), "utf32": key.encode("utf-32"),
        "junk": bytes(rng.randrange(256) for _ in range(4096)), "junk-no-nul": bytes(rng.randrange(1, 256)
                                                                                    for _ in range(4096)),
        "gzip": __import__("gzip").compress(key.encode()), "only-bom": "\ufeff", "only-commas": ",,,,\n" * 50,
        "huge-1MiB": key + "#" * (1 << 20), "just-under": key + ("# " + "x" * 1000 + "\n") * 1000,
        "10k-rows": key + "conv1,,,,,,,1,1,1,1,1\n" * 10_001, "many-columns": key.replace("\n", "," * 300 + "\n"),
        "long-cell": key.replace("1,134", "1" * 100_000), "quoted-newlines": key.replace("conv2,", '"conv\n2",'),
        "unterminated": key + '"conv9,1,2\n', "header-twice": key + key, "cr-only": key.replace("\n", "\r"),
        "formulas": key.replace("1,134", "=1134").replace("35", "@SUM(A1)"),
        "esc-everywhere": key.replace("conv1", "\x1b[2Jconv1\x1b]0;x\x07").replace("55", "5\u202e5"),
        "student-ctrl": "# student: \x1b[31mEve\u202e\n" + key, "yaml-as-csv": "conv1: {c_out: 96}\n",
        "numbers-words": key.replace("1,134", "one thousand").replace(",105", ",lots"),
    }
    for label, content in contents.items():
        path = plan.write(f"messy-{label}.csv", content)
        plan.jobs.append(Job(f"messy:{label}", "messy", "grade", ["grade", "alexnet", path]))
        plan.jobs.append(Job(f"messy:{label}:json", "messy", "grade", ["grade", "alexnet", path, "-f", "json"]))
    for name in ["ctrl\x1b[31m\x07.csv", "bidi\u202eVSC.csv", "new\nline.csv", "x" * 250 + ".csv",
                 "sp ace s.csv", "-dash.csv", "caf\u00e9.csv"]:
        path = plan.write(name, key)
        plan.jobs.append(Job(f"messy-name:{name[:30]!a}", "messy", "grade", ["grade", "alexnet", "--", path]))
    folder = plan.folder / "class"
    folder.mkdir()
    for i in range(FOLDER_SHEETS):
        (folder / f"s{i:04d}.csv").write_text(key if i % 7 else key.replace("1,134", "1,143"))
    plan.files += FOLDER_SHEETS
    (folder / "dir.csv").mkdir()
    (folder / "loop.csv").symlink_to("loop.csv")
    (folder / "dangling.csv").symlink_to("nowhere.csv")
    os.mkfifo(folder / "fifo.csv")
    (folder / ".hidden.csv").write_text("junk")
    (folder / "notes.md").write_text("not a sheet")
    for extra in ([], ["--summary"], ["-f", "json"], ["--gradebook", "-"], ["-f", "csv"]):
        # the odd entries are named (exit 2); the sheets graded in bounded time and memory
        plan.jobs.append(Job(f"folder:{FOLDER_SHEETS}{''.join(extra)}", "messy", "grade",
                             ["grade", "alexnet", str(folder), *extra], expect=(2,)))
    loop = plan.folder / "loopdir"
    loop.mkdir()
    (loop / "self").symlink_to(loop)
    plan.jobs.append(Job("folder:symlink-to-itself", "messy", "grade", ["grade", "alexnet", str(loop / "self")],
                         expect=(2,)))


# ---- the Python API -------------------------------------------------------------------------------

API_SPEC = str(ROOT / "docs" / "examples" / "tiny.yaml")
# hostile Python values, by label (made in the worker: they are not JSON)
API_VALUES = ["None", "0", "-1", "1.5", "float('nan')", "float('inf')", "10**100", "True", "'x'", "''", "b'x'",
              "[1, 2]", "{'a': 1}", "object()", "'\\x1b[2J'", "'1e400'", "(3, -1, 8)", "(3, 8)", "'9' * 5000"]
API_BOMB = "x0: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(
    f"x{i}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 10) + "]\n" for i in range(1, 8)) + \
    "input: [3, 8, 8]\nlayers:\n  - {op: conv, out: 4, kernel: 3}\n"
API_ARGUMENTS = {
    "analyze": ["spec", "set", "input", "convention", "batch", "dtype", "depth", "mode"],
    "memory": ["spec", "mode", "batch", "optimizer", "amp", "dtype", "set", "input", "checkpoint", "fit"],
    "check": ["spec", "limits", "set", "input", "batch", "optimizer"],
    "compare": ["specs", "inputs", "set", "batch"],
    "sweep": ["spec", "set", "inputs", "limits", "maximize", "pareto", "figures", "batch", "jobs"],
}
API_TEXTS = {"bomb": API_BOMB, "deep-flow": "input: [3, 8, 8]\nlayers: " + "[" * 5000 + "]" * 5000 + "\n",
             "deep-block": "input: [3, 8, 8]\nlayers:\n" + "".join("  " * i + "- \n" for i in range(3000)),
             "anchors": "a: &a {op: conv, out: 4, kernel: 3}\ninput: [3, 8, 8]\nlayers: [*a, *a, *a]\n",
             "merge": "a: &a {op: conv}\ninput: [3, 8, 8]\nlayers: [{<<: *a, out: 4, kernel: 3}]\n",
             "tag": "!!python/object/apply:os.system ['echo pwned']\n", "nul": "input: [3, 8, 8]\n\x00\n"}


def api_jobs(plan: Plan) -> None:
    for function, names in API_ARGUMENTS.items():
        for name in names:
            for value in API_VALUES:
                plan.jobs.append(Job(f"api:{function}({name}={value[:20]})", "api", "api",
                                     ["@api", function, name, value], needs_location=False))
        for label in API_TEXTS:
            plan.jobs.append(Job(f"api:{function}(<{label}>)", "api", "api", ["@api", function, "@text", label],
                                 needs_location=False))


def _api_call(function: str, name: str, value: str) -> None:
    """One API call with one hostile argument; only an InputError may come out of it."""
    import cnncalc

    base: dict = {"analyze": {"spec": API_SPEC}, "memory": {"spec": API_SPEC},
                  "check": {"spec": API_SPEC, "limits": {"params": "1M"}}, "compare": {"specs": [API_SPEC, API_SPEC]},
                  "sweep": {"spec": API_SPEC, "jobs": 1}}[function]
    if name == "@text":
        given: object = API_TEXTS[value]
        name = "specs" if function == "compare" else "spec"
        given = [given] if function == "compare" else given
    else:
        given = eval(value)  # a label of API_VALUES, written above (the values are not JSON)
    kwargs = {**base, name: given}
    positional = kwargs.pop("specs" if function == "compare" else "spec")
    try:
        getattr(cnncalc, function)(positional, **kwargs)
    except cnncalc.InputError as exc:
        print(exc.render(), file=sys.stderr)
        raise SystemExit(2) from None


# ---- running -----------------------------------------------------------------------------------

def worker() -> None:
    """One process: run the JSON jobs of stdin, one JSON line of results each."""
    import io
    import signal
    from contextlib import redirect_stderr, redirect_stdout

    from cnncalc.cli import app

    class TimeLimit(BaseException):
        pass

    def alarm(signum, frame):
        raise TimeLimit

    jobs = json.load(sys.stdin)
    sys.stdin = open(os.devnull)  # noqa: SIM115
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_LIMIT, ADDRESS_LIMIT))
    signal.signal(signal.SIGALRM, alarm)
    real = sys.stdout
    for job in jobs:
        out, err = io.StringIO(), io.StringIO()
        before_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cpu = time.process_time()
        code: object = 0
        signal.setitimer(signal.ITIMER_PROF, TIME_LIMIT * 3)  # CPU time of this process (sweep's workers apart)
        signal.signal(signal.SIGPROF, alarm)
        try:
            with redirect_stdout(out), redirect_stderr(err):
                if job["args"][:1] == ["@api"]:
                    _api_call(*job["args"][1:])
                else:
                    app(job["args"], prog_name="cnncalc")
        except SystemExit as exc:
            code = exc.code if exc.code is not None else 0
        except TimeLimit:
            code = None
        except BaseException as exc:  # a finding
            import traceback
            code = f"raised {type(exc).__name__}: {exc}\n{traceback.format_exc()[-1500:]}"
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        print(json.dumps({"key": job["key"], "code": code, "stdout": out.getvalue()[-20000:],
                          "stderr": err.getvalue()[-20000:], "cpu": time.process_time() - cpu,
                          "rss": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_rss) * 1024}),
              file=real, flush=True)


CHUNK = 250  # jobs per worker process: a fresh interpreter now and then (torch maps gigabytes of address space)


def run_jobs(jobs: list[Job], processes: int) -> dict[str, dict]:
    """Every job's result, in worker processes (`processes` at a time); a job whose worker died is
    reported as such, and the rest of its chunk runs again."""
    from concurrent.futures import ThreadPoolExecutor

    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    results: dict[str, dict] = {}

    def run_chunk(chunk: list[Job]) -> None:
        proc = subprocess.Popen([sys.executable, __file__, "--worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env, cwd=str(ROOT))
        out, err = proc.communicate(json.dumps([{"key": j.key, "args": j.args} for j in chunk]))
        done = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        results.update({row["key"]: row for row in done})
        if len(done) < len(chunk):  # the next job killed the worker
            dead = chunk[len(done)]
            results[dead.key] = {"key": dead.key, "code": f"worker died ({proc.returncode})", "stdout": "",
                                 "stderr": err[-2000:], "cpu": 0, "rss": 0}

    pending = list(jobs)
    while pending:
        with ThreadPoolExecutor(max_workers=processes) as pool:
            list(pool.map(run_chunk, [pending[i:i + CHUNK] for i in range(0, len(pending), CHUNK)]))
        pending = [job for job in pending if job.key not in results]
    return results


def raw_controls(text: str) -> list[str]:
    return sorted({f"U+{ord(ch):04X}" for ch in text
                   if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")})


def judge(job: Job, row: dict) -> list[Finding]:
    code, out, err = row["code"], row["stdout"], row["stderr"]
    found = []
    if code is None:
        found.append(Finding(job, "time", f"over {TIME_LIMIT * 3} s of CPU"))
    elif isinstance(code, str):
        found.append(Finding(job, "exception", code))
    elif code not in job.expect:
        found.append(Finding(job, "exit", f"exit {code}: {err[-500:]}"))
    if "Traceback" in out + err:
        found.append(Finding(job, "traceback", (out + err)[-1500:]))
    if row["cpu"] > TIME_LIMIT:
        found.append(Finding(job, "slow", f"{row['cpu']:.1f} s CPU"))
    if row["rss"] > MEMORY_LIMIT:
        found.append(Finding(job, "memory", f"{row['rss'] / 2**20:.0f} MiB"))
    if code == 2 and job.needs_location and not re.search(LOCATED, err):
        found.append(Finding(job, "unlocated", err[-500:]))
    if code == 2 and not err.strip():
        found.append(Finding(job, "silent", "exit 2 with nothing on stderr"))
    controls = raw_controls(out + err)
    if controls and job.command not in ("export",):
        found.append(Finding(job, "control", f"{controls}: {(err or out)[-300:]!a}"))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-spec", type=int, default=6, help="value mutations per bundled spec")
    parser.add_argument("--full", action="store_true", help="every command on every spec mutation")
    parser.add_argument("--specs", default="*.yaml", help="which bundled specs to mutate (globs, comma-separated)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", choices=["spec", "odd-path", "option", "sheet", "import", "fair", "messy", "api"])
    parser.add_argument("--fair", type=int, default=600, help="rewritten keys per spec (fair grading)")
    parser.add_argument("--json", type=Path, help="also write every result here")
    args = parser.parse_args()
    if args.worker:
        worker()
        return 0
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        plan = Plan(Path(tmp))
        builders = {"spec": lambda: spec_jobs(plan, rng, args.per_spec, args.full, args.specs),
                    "odd-path": lambda: odd_paths(plan),
                    "option": lambda: option_jobs(plan), "sheet": lambda: sheet_jobs(plan, rng, 150),
                    "import": lambda: import_jobs(plan, rng, 40), "fair": lambda: fair_jobs(plan, rng, args.fair),
                    "messy": lambda: messy_jobs(plan, rng), "api": lambda: api_jobs(plan)}
        for name, build in builders.items():
            if args.only in (None, name):
                build()
        for i, job in enumerate(plan.jobs):
            job.key = f"{i}:{job.key}"
        started = time.time()
        results = run_jobs(plan.jobs, args.jobs)
        findings = [f for job in plan.jobs for f in judge(job, results[job.key])]
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
    counts = Counter((job.category, job.command) for job in plan.jobs)
    codes = Counter((job.command, str(results[job.key]["code"])[:12]) for job in plan.jobs)
    print(f"{len(plan.jobs)} runs, {plan.files} files, {time.time() - started:.0f} s")
    for (category, command), n in sorted(counts.items()):
        print(f"  {category:9} {command:8} {n:5}")
    print("exit codes:", dict(sorted(codes.items())))
    for f in findings:
        shown = [arg if len(arg) < 120 else arg[:60] + f"...({len(arg)} chars)" for arg in f.job.args]
        print(f"FINDING {f.why:10} {f.job.key[:150]!a}\n    args={shown!a}\n    {f.detail[-1200:]!a}")
    print(f"{len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
