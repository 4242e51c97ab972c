"""docs/api.md's examples are run: the documented API is the API."""
from __future__ import annotations

import doctest
import os

from .conftest import ROOT


def test_the_api_docs_examples_run():
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        result = doctest.testfile(str(ROOT / "docs" / "api.md"), module_relative=False, report=True,
                                  optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    finally:
        os.chdir(cwd)
    assert result.attempted >= 20
    assert result.failed == 0, f"{result.failed} of docs/api.md's examples failed (see the output above)"
