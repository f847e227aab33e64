"""Ids from text: ASCII digits that fit a BIGINT, nothing else."""

import pytest

from billing_portal.ids import parse_id


@pytest.mark.parametrize("value, expected", [
    ("12", 12), (12, 12), ("0", 0), ("9" * 18, int("9" * 18)),
    ("9" * 19, None), ("", None), (None, None), ("-3", None), (-3, None), ("1.5", None), (" 12", None),
    ("²", None), ("١٢", None), ("１２", None), (True, None), (1.0, None), ("12\x00", None), ([], None),
])
def test_only_plain_digits_that_fit_the_database_are_ids(value, expected):
    assert parse_id(value) == expected
