"""Human sizes for budgets and memory limits (core/quantities.py)."""
from __future__ import annotations

import re

import pytest

from cnncalc.core.errors import OptionError
from cnncalc.core.quantities import parse_bytes, parse_count


@pytest.mark.parametrize("text, value", [
    ("25M", 25_000_000),            # 25 × 10^6
    ("4G", 4_000_000_000),          # 4 × 10^9
    ("4.1e9", 4_100_000_000),       # 4.1 × 10^9, exact
    ("1.5k", 1_500),
    ("300M", 300_000_000),
    ("25557032", 25_557_032),
    ("25,557,032", 25_557_032),
    ("2T", 2_000_000_000_000),
])
def test_counts(text, value):
    assert parse_count(text) == value


@pytest.mark.parametrize("text, value", [
    ("24GiB", 24 * 2**30),          # 25,769,803,776
    ("80GB", 80 * 10**9),
    ("200MiB", 200 * 2**20),
    ("1.5GiB", 1_610_612_736),      # 1.5 × 2^30
    ("512B", 512),
    ("4096", 4096),
    ("1KiB", 1024),
    ("1KB", 1000),
])
def test_bytes(text, value):
    assert parse_bytes(text) == value


@pytest.mark.parametrize("text, message", [
    ("24G", "ambiguous: say GB (powers of 1000) or GiB (powers of 1024)"),
    ("24M", "ambiguous"),
    ("12 parsecs", "unknown unit"),
    ("lots", "not a size"),
    ("1.5B", "not a whole number"),
    ("-5GB", "not a size"),
    ("1e999GB", "not a size"),
    ("1e29GB", "too large"),
])
def test_bad_byte_sizes(text, message):
    with pytest.raises(OptionError, match=re.escape(message)):
        parse_bytes(text)


@pytest.mark.parametrize("text, message", [
    ("25MB", "number of bytes, not a count"),
    ("25Mi", "unknown unit"),
    ("0.5", "not a whole number"),
    ("", "not a size"),
])
def test_bad_counts(text, message):
    with pytest.raises(OptionError, match=message):
        parse_count(text)
