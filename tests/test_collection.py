"""Collecting the tests imports none of the heavy packages: every xdist worker collects every test
module, so a module that imports PyTorch at its top costs each worker about 1.5 s of CPU even where
`-m "not slow"` deselects all its tests. Tests import them through the `torch`, `torchvision` and `timm`
fixtures of tests/conftest.py or inside their bodies (CONTRIBUTING.md: test lanes)."""
from __future__ import annotations

from .conftest import HEAVY_AT_COLLECTION


def test_collection_imports_no_heavy_package():
    assert HEAVY_AT_COLLECTION == {}, "imported when collecting (package: module): " + str(HEAVY_AT_COLLECTION)

