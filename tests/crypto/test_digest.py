"""Digests and the canonical hash that approvals, manifests and the audit chain rely on."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bankgate.crypto.digest import DigestAlgorithm, canonical_bytes, canonical_hash, hexdigest


def test_sha256_and_sm3_give_their_known_digests_of_abc() -> None:
    assert hexdigest(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    assert hexdigest(b"abc", DigestAlgorithm.SM3) == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")


def test_key_order_and_whitespace_do_not_change_the_canonical_bytes() -> None:
    a = {"amount": Decimal("12.50"), "payee": "示例", "on": dt.date(2026, 12, 1)}
    b = {"on": dt.date(2026, 12, 1), "payee": "示例", "amount": Decimal("12.50")}
    assert canonical_bytes(a) == canonical_bytes(b)
    assert canonical_bytes(a) == '{"amount":"12.50","on":"2026-12-01","payee":"示例"}'.encode()


def test_a_changed_amount_changes_the_hash() -> None:
    assert canonical_hash({"amount": Decimal("12.50")}) != canonical_hash(
        {"amount": Decimal("12.51")})


def test_aware_datetimes_are_hashed_in_utc() -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    assert canonical_bytes(dt.datetime(2026, 12, 1, 8, 0, tzinfo=shanghai)) == (
        canonical_bytes(dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC)))


@pytest.mark.parametrize(("value", "message"), [
    ({"amount": 12.5}, r"\$\.amount: floats"),
    ([dt.datetime(2026, 1, 1)], r"\$\[0\]: naive datetime"),
    ({1: "x"}, "keys must be strings"),
    (Decimal("NaN"), "not a finite decimal"),
    (object(), "object cannot be hashed"),
])
def test_values_without_one_canonical_form_are_refused_naming_where(value: object,
                                                                    message: str) -> None:
    with pytest.raises(ValueError, match=message):
        canonical_bytes(value)
