"""Every bundled spec loads, analyzes without a warning, and describes itself."""
from __future__ import annotations

import pytest

import cnncalc
from cnncalc.spec.bundled import bundled_specs
from cnncalc.spec.spec import load_spec

ZOO = bundled_specs()


@pytest.mark.parametrize("name", sorted(ZOO))
def test_spec_is_clean(name):
    symbolic = name.startswith("lecture/")  # the lecture's symbolic comparisons
    if symbolic:
        pytest.importorskip("sympy")
    spec = load_spec(ZOO[name], symbolic=symbolic)
    assert spec.name == name.rpartition("/")[2], "name: must equal the file name"
    assert spec.description, "a one-line description is shown by 'cnncalc specs'"
    report = cnncalc.analyze(name, symbolic=symbolic)
    assert [w.render() for w in report.warnings] == []
    assert report.totals.params == sum(row.params for row in report.rows)
