"""Blind indexes: stable for one value, distinct across values, kinds and secrets; never echo input."""

from __future__ import annotations

import hashlib
import re

import pytest

from worker.phi import IndexKey
from worker.phi.index import normalise
from worker.phi.text import encode

SECRET = b"an installation secret of 32 b!!"


@pytest.fixture(scope="module")
def key() -> IndexKey:
    return IndexKey.from_secret(SECRET)


def test_stable_and_short(key: IndexKey) -> None:
    first = key.blind_index("+14155552671")
    assert first == key.blind_index("+14155552671") == IndexKey.from_secret(SECRET).blind_index(" +14155552671\n")
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", first)


def test_distinct_values_distinct_indexes(key: IndexKey) -> None:
    values = [f"+1415555{i:04d}" for i in range(2000)] + [f"p{i}@example.com" for i in range(2000)]
    assert len({key.blind_index(v) for v in values}) == len(values)


def test_email_is_lowercased(key: IndexKey) -> None:
    assert key.blind_index("Ana.Lopez@Example.COM") == key.blind_index("ana.lopez@example.com")


def test_phone_is_taken_as_given(key: IndexKey) -> None:
    with pytest.raises(ValueError, match=r"not an E\.164 number"):
        key.blind_index("+1 415 555 2671")  # intake normalises to E.164; the index does not guess


def test_kinds_are_separated() -> None:
    assert normalise("+14155552671") == b"phone:+14155552671"
    assert normalise("A@B.org") == b"email:a@b.org"


def test_another_secret_another_index(key: IndexKey) -> None:
    other = IndexKey.from_secret(SECRET[:-1] + b"?")
    assert other.blind_index("+14155552671") != key.blind_index("+14155552671")


def test_index_is_not_a_plain_hash(key: IndexKey) -> None:
    plain = hashlib.sha256(b"phone:+14155552671").digest()[:16]
    assert key.blind_index("+14155552671") != encode(plain)


@pytest.mark.parametrize("value", ["4155552671", "+04155552671", "+1415555267112345", "", "ana lopez@x.org", "Ana"])
def test_refuses_without_echoing(key: IndexKey, value: str) -> None:
    with pytest.raises(ValueError) as caught:
        key.blind_index(value)
    assert not value or value not in str(caught.value)


def test_secret_too_short() -> None:
    with pytest.raises(ValueError, match="CAREDRIP_SECRET_KEY"):
        IndexKey.from_secret(b"short")


def test_repr_hides_the_key(key: IndexKey) -> None:
    assert repr(key) == "IndexKey(…)"
