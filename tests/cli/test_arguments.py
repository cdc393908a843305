"""Command-line values: sizes in decimal and binary units, counts, files; anything else refused with a sentence."""

from __future__ import annotations

import argparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logship.cli import arguments

UNITS = {"": 1, "B": 1, "KB": 1000, "kB": 1000, "MB": 10**6, "GB": 10**9, "KiB": 1024, "MiB": 2**20, "GiB": 2**30}


@given(st.integers(1, 10**6), st.sampled_from(sorted(UNITS)), st.sampled_from(["", " "]))
def test_whole_sizes_in_every_unit(number, unit, space):
    """<n><unit> is n times the unit's bytes, decimal (KB, MB) or binary (KiB, MiB), with or without a space."""
    assert arguments.size(1)(f"{number}{space}{unit}") == number * UNITS[unit]


@pytest.mark.parametrize(
    ("text", "value"), [("3MiB", 3 * 2**20), ("1.5MB", 1_500_000), ("0.5KiB", 512), ("300kb", 300_000), ("7", 7)]
)
def test_sizes_of_the_readme(text, value):
    """The sizes people write: 3MiB, 1.5MB, 0.5KiB, 300kb, a bare number of bytes."""
    assert arguments.size(1)(text) == value


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("lots", "is not a size"),
        ("3 M", "is not a size"),
        ("3MBs", "is not a size"),
        ("1e6", "is not a size"),
        ("", "is not a size"),
        ("0", "must be from 1 to 1,000"),
        ("-1", "must be from 1 to 1,000"),
        ("0.4B", "must be from 1 to 1,000"),
        ("2KB", "must be from 1 to 1,000"),
    ],
)
def test_what_is_not_a_size_in_range_is_refused(text, says):
    """Words, unknown units, exponents, zero, negatives and sizes past the bound: one sentence each."""
    with pytest.raises(argparse.ArgumentTypeError, match=says):
        arguments.size(1, 1000)(text)


def test_counts_and_seconds_are_bounded():
    """Counts keep to their range; seconds must be a finite number above zero."""
    assert arguments.count(1)("20") == 20
    for bad in ("0", "-3", "x", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError):
            arguments.count(1)(bad)
    assert arguments.seconds("0.5") == 0.5
    for bad in ("0", "-1", "inf", "nan", "soon"):
        with pytest.raises(argparse.ArgumentTypeError):
            arguments.seconds(bad)


def test_output_and_input_files_are_checked_before_any_work(tmp_path):
    """An output file needs an existing, writable folder; an input file must exist and be a file."""
    assert arguments.output_file(str(tmp_path / "out.json")) == tmp_path / "out.json"
    with pytest.raises(argparse.ArgumentTypeError, match="does not exist"):
        arguments.output_file(str(tmp_path / "no" / "out.json"))
    with pytest.raises(argparse.ArgumentTypeError, match="is a folder"):
        arguments.output_file(str(tmp_path))
    (tmp_path / "in.json").write_text("{}")
    assert arguments.input_file(str(tmp_path / "in.json")) == tmp_path / "in.json"
    with pytest.raises(argparse.ArgumentTypeError, match="no such file"):
        arguments.input_file(str(tmp_path / "missing.json"))
    with pytest.raises(argparse.ArgumentTypeError, match="not a file"):
        arguments.input_file(str(tmp_path))
