"""Task ids and ULIDs: random, Crockford base32, prefixes people can type."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from lanectl import ids

CROCKFORD = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def test_alphabet_is_crockford() -> None:
    assert len(ids.ALPHABET) == 32
    assert set(ids.ALPHABET) == CROCKFORD
    assert not set("ILOU") & set(ids.ALPHABET)


def test_encode() -> None:
    assert ids.encode(0, 8) == "00000000"
    assert ids.encode(31, 1) == "Z"
    assert ids.encode(32, 2) == "10"
    assert ids.encode(2**40 - 1, 8) == "ZZZZZZZZ"
    assert ids.encode(0x7FFF, 3) == "ZZZ"


def test_task_ids_carry_at_least_40_random_bits() -> None:
    made = [ids.new_task_id() for _ in range(5000)]
    assert all(re.fullmatch(r"T-[0-9A-HJKMNP-TV-Z]{8}", t) for t in made)
    assert all(ids.is_task_id(t) for t in made)
    assert 5 * ids.TASK_ID_CHARS >= 40
    assert len(set(made)) == len(made)
    # every position uses the whole alphabet (a counter or a timestamp would not)
    for position in range(2, 10):
        assert set(t[position] for t in made) == CROCKFORD, position
    # and the first character is not skewed the way a clock prefix would be
    first = Counter(t[2] for t in made)
    assert max(first.values()) < 5000 / 32 * 2
    # not sequential: consecutive ids are not neighbours
    values = [int("".join(str(ids.ALPHABET.index(c)).zfill(2) for c in t[2:])) for t in made]
    assert sorted(values) != values


@pytest.mark.parametrize(
    ("typed", "prefix"),
    [
        ("T-7K2M9Q4D", "T-7K2M9Q4D"),
        ("t-7k2m9q4d", "T-7K2M9Q4D"),
        ("7K2M", "T-7K2M"),
        ("7k2m", "T-7K2M"),
        ("  7k2m  ", "T-7K2M"),
        ("t-7", "T-7"),
        ("T", "T-T"),  # a lone T is a prefix of ids like T-T…
        ("3fia", "T-3F1A"),  # I reads as 1
        ("3fla", "T-3F1A"),  # L reads as 1
        ("o0", "T-00"),  # O reads as 0
    ],
)
def test_normalise_query(typed: str, prefix: str) -> None:
    assert ids.normalise_query(typed) == prefix


@pytest.mark.parametrize(
    "typed",
    ["", "T-", "t-", "../../etc", "T-../x", "7K2M/..", "a b", "U", "7K2M9Q4DX", "T-7K2M9Q4D0", "—"],
)
def test_normalise_query_refuses_what_cannot_be_an_id(typed: str) -> None:
    assert ids.normalise_query(typed) is None


def test_is_task_id() -> None:
    assert ids.is_task_id("T-7K2M9Q4D")
    for text in (
        "t-7K2M9Q4D",
        "T-7K2M9Q4",
        "T-7K2M9Q4DD",
        "T-7K2M9Q4U",
        "7K2M9Q4D",
        "T-7K2M9Q4D\n",
    ):
        assert not ids.is_task_id(text), text


def test_ulids_sort_by_time_and_stay_monotonic_within_a_millisecond() -> None:
    first = ids.new_ulid(now_ms=1_700_000_000_000)
    assert len(first) == 26
    assert set(first) <= CROCKFORD
    same_ms = [ids.new_ulid(now_ms=1_700_000_000_000) for _ in range(100)]
    assert same_ms == sorted(same_ms)
    assert len(set(same_ms)) == 100
    assert first < same_ms[0]
    later = ids.new_ulid(now_ms=1_700_000_000_001)
    assert later > same_ms[-1]
    # a clock that steps back never makes an id sort before the last one
    assert ids.new_ulid(now_ms=1_600_000_000_000) > later
    assert ids.new_ulid()[:10] >= later[:10]
