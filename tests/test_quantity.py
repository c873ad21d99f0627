"""quantity.py: Kubernetes quantities by value, as the API server reads them (pure, table-driven)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from reconciler import quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", Decimal(1)),
        (2, Decimal(2)),
        ("500m", Decimal("0.5")),
        ("4000m", Decimal(4)),
        ("1k", Decimal(1000)),
        ("1Ki", Decimal(1024)),
        ("8Gi", Decimal(8 * 1024**3)),
        ("8192Mi", Decimal(8 * 1024**3)),
        ("1G", Decimal(10**9)),
        ("1e3", Decimal(1000)),
        ("1.5Gi", Decimal("1.5") * 1024**3),
        ("+2", Decimal(2)),
    ],
)
def test_parse(text: str | int, value: Decimal) -> None:
    assert quantity.parse(text) == value
    assert quantity.try_parse(text) == value


@pytest.mark.parametrize("text", ["", "Gi", "1GB", "1 Gi", "1gi", "--1", "one", "1e", "0x10"])
def test_not_a_quantity(text: str) -> None:
    with pytest.raises(quantity.QuantityError):
        quantity.parse(text)
    assert quantity.try_parse(text) is None


@pytest.mark.parametrize("value", [None, [], {}, True])
def test_try_parse_answers_none_for_what_is_not_a_string_or_number(value: object) -> None:
    assert quantity.try_parse(value) is None
