"""Property tests (hypothesis) of the whole static path, loader -> graph -> engine -> renderers, and,
where PyTorch is installed, against the torch lowering.

Random specs are built from the layer types' own fields; mangled specs splice random text into a
valid one. Either the spec is refused with an InputError (located, exit code 2 on the command
line) or every renderer works and the numbers add up; no other exception may escape.

The default run is short (FUZZ_EXAMPLES examples per property). For a release, run it long:

    CNNCALC_FUZZ_EXAMPLES=20000 python -m pytest tests/test_fuzz.py -p no:cacheprovider
"""
from __future__ import annotations

import csv
import io
import json
import os

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from cnncalc.analysis.engine import analyze  # noqa: E402
from cnncalc.core.errors import InputError  # noqa: E402
from cnncalc.render.console import plain_text  # noqa: E402
from cnncalc.render.lecture import lecture_markdown, lecture_summary_lines, lecture_table  # noqa: E402
from cnncalc.render.machine import to_csv, to_json  # noqa: E402
from cnncalc.spec.graph import build  # noqa: E402
from cnncalc.spec.spec import parse_spec  # noqa: E402

FUZZ_EXAMPLES = int(os.environ.get("CNNCALC_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize="CNNCALC_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

small = st.integers(1, 4)
pad = st.integers(0, 2)
FEATURE_MAP_LAYERS = [
    st.builds(lambda o, k, s, p, d, b: f"{{op: conv, out: {o}, kernel: {k}, stride: {s}, pad: {p}, dilation: {d}, "
              f"bias: {str(b).lower()}}}", st.integers(1, 8), small, st.integers(1, 3), pad, st.integers(1, 2),
              st.booleans()),
    st.builds(lambda o, k, s: f"{{op: conv, out: {o}, kernel: {k}, stride: {s}, pad: same}}", st.integers(1, 8),
              small, st.integers(1, 3)),
    st.builds(lambda k, s, c: f"{{op: maxpool, kernel: {k}, stride: {s}, pad: {k // 2}, ceil: {str(c).lower()}}}",
              small, st.integers(1, 3), st.booleans()),
    st.builds(lambda k, s: f"{{op: avgpool, kernel: {k}, stride: {s}}}", small, st.integers(1, 3)),
    st.builds(lambda o, k, s, p: f"{{op: conv_transpose, out: {o}, kernel: {k}, stride: {s}, pad: {p}}}",
              st.integers(1, 6), small, st.integers(1, 2), st.integers(0, 1)),
    st.builds(lambda h, w: f"{{op: adaptive_avgpool, size: [{h}, {w}]}}", small, small),
    st.builds(lambda h: f"{{op: adaptive_maxpool, size: {h}}}", small),
    st.builds(lambda s: f"{{op: upsample, scale: {s}}}", st.integers(1, 2)),
    st.builds(lambda p: f"{{op: zeropad, pad: {p}}}", pad),
    st.sampled_from(["{op: relu}", "{op: bn}", "{op: tanh}", "{op: sigmoid}", "{op: gelu}", "{op: identity}",
                     "{op: layernorm}", "{op: layer_scale}", "{op: hardswish}", "{op: lrn, size: 3}",
                     "{op: dropout, p: 0.25}", "{op: leaky_relu, slope: 0.2}", "{op: global_avgpool}"]),
]
VECTOR_LAYERS = [
    st.builds(lambda o, b: f"{{op: linear, out: {o}, bias: {str(b).lower()}}}", st.integers(1, 16), st.booleans()),
    st.sampled_from(["{op: relu}", "{op: softmax}", "{op: dropout, p: 0.5}", "{op: identity}", "{op: tanh}"]),
]


@st.composite
def specs(draw) -> str:
    """A sequential spec: feature-map layers, then (sometimes) a flatten and vector layers."""
    c, h, w = draw(st.integers(1, 6)), draw(st.integers(1, 24)), draw(st.integers(1, 24))
    layers = draw(st.lists(st.one_of(FEATURE_MAP_LAYERS), min_size=1, max_size=6))
    if draw(st.booleans()):
        layers += ["{op: flatten}", *draw(st.lists(st.one_of(VECTOR_LAYERS), max_size=3))]
    return f"input: [{c}, {h}, {w}]\nlayers:\n" + "".join(f"  - {layer}\n" for layer in layers)


def analyzed(text: str):
    """The report of `text`, or None when the spec is refused (an InputError, as it must be)."""
    try:
        return analyze(build(parse_spec(text, "fuzz.yaml")))
    except InputError as exc:
        rendered = exc.render()
        assert rendered.startswith("fuzz.yaml"), rendered  # located
        return None


def check_renderers(report) -> None:
    table = plain_text(lecture_table(report), *lecture_summary_lines(report))
    assert all(row.name in table for row in report.rows)
    assert lecture_markdown(report).count("\n") >= len(report.rows) + 2
    data = json.loads(to_json(report))
    assert len(data["layers"]) == len(report.rows)
    assert data["totals"]["params"] == sum(layer["params"] for layer in data["layers"])
    assert data["totals"]["macs"] == sum(layer["macs"] for layer in data["layers"])
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert [r["layer"] for r in rows] == [row.name for row in report.rows] + ["total"]
    assert int(rows[-1]["memory_bytes"]) == sum(int(r["memory_bytes"]) for r in rows[:-1])


@FUZZ
@given(specs())
def test_random_specs_analyse_and_render_or_are_refused(text):
    report = analyzed(text)
    if report is not None:
        check_renderers(report)


JUNK = st.one_of(st.text(max_size=12), st.sampled_from([
    "[", "]", "{", "}", ": ", "- ", "&a ", "*a", "!!python/name:os.system ", "'", '"', "\t", "\n  ", "? ",
    ".nan", "-.inf", "1e999", "99999999999999999999999", "when: false, ", "repeat: 1000, ", "in: [input], ",
    "op: convv, ", "out: widht, ", "kernel: '1/0', ", "\x1b[2J", "\u202e", "<<: *a", "---\n", "%TAG ! x\n"]))


@FUZZ
@given(specs(), st.lists(st.tuples(st.floats(0, 1), JUNK), min_size=1, max_size=4))
def test_mangled_specs_are_refused_or_analysed(text, splices):
    for where, junk in splices:
        cut = int(where * len(text))
        text = text[:cut] + junk + text[cut:]
    report = analyzed(text)
    if report is not None:
        check_renderers(report)


@pytest.mark.torch
@settings(max_examples=max(FUZZ_EXAMPLES // 4, 10), deadline=None,
          derandomize="CNNCALC_FUZZ_EXAMPLES" not in os.environ,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(specs())
def test_random_specs_match_the_pytorch_lowering(text):
    pytest.importorskip("torch")
    from cnncalc.pytorch.verify import verify

    try:
        graph = build(parse_spec(text, "fuzz.yaml"))
    except InputError:
        return
    report = analyze(graph)
    mismatches = [c for c in verify(graph, report, device="cpu") if not c.ok]
    assert mismatches == [], text
