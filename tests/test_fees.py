from datetime import date

import pytest

from domain.fees import format_vnd, quote


def test_online_discount_applied_in_2025_and_gone_in_2026():
    assert quote(date(2025, 6, 1), "standard", 0, "online").amount_vnd == 170_000
    assert quote(date(2025, 6, 1), "standard", 0, "counter").amount_vnd == 200_000
    assert quote(date(2026, 1, 1), "standard", 0, "online").amount_vnd == 200_000


def test_reduced_group_pays_less_and_exempt_pays_nothing():
    assert quote(date(2026, 3, 1), "reduced").amount_vnd == 100_000
    assert quote(date(2026, 3, 1), "exempt", paper_copies=5).amount_vnd == 0


def test_paper_copies_from_the_third_cost_5000_each():
    two = quote(date(2026, 3, 1), "standard", paper_copies=2)
    five = quote(date(2026, 3, 1), "standard", paper_copies=5)
    assert two.amount_vnd == 200_000
    assert five.amount_vnd == 215_000 and five.copies_vnd == 15_000


def test_quote_carries_its_legal_basis_and_source():
    q = quote(date(2026, 3, 1))
    assert "16/2025/TT-BTC" in q.period.basis
    assert q.period.sources and q.period.sources[0].startswith("https://")


def test_digital_citizen_waiver_is_mentioned_only_inside_its_window_and_never_applied():
    inside = quote(date(2026, 11, 23))
    assert inside.possible_waiver is not None and inside.amount_vnd == 200_000
    assert quote(date(2027, 3, 1)).possible_waiver is None
    assert quote(date(2026, 8, 14)).possible_waiver is None


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError):
        quote(date(2026, 3, 1), "vip")
    with pytest.raises(ValueError):
        quote(date(2026, 3, 1), paper_copies=-1)


def test_amounts_are_formatted_the_vietnamese_way():
    assert format_vnd(215000) == "215.000 đ"
