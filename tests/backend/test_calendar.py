"""Legal due dates: working days, weekends and Vietnamese holidays skipped,
limits chosen by the date received (dated data, not constants)."""

from __future__ import annotations

from datetime import date

import yaml

from backend import calendar


def test_due_date_skips_tet_holiday_inside_the_window():
    # Received Friday 13/02/2026; Tết 16-20/02/2026 falls inside the 10 days.
    assert calendar.legal_due_date(date(2026, 2, 13), extended=False) == date(2026, 3, 6)


def test_due_date_skips_weekends():
    # Received Monday 01/06/2026 (2009 law, 10 working days): two weekends skipped.
    assert calendar.legal_due_date(date(2026, 6, 1), extended=False) == date(2026, 6, 15)


def test_verification_extends_the_limit_to_15_working_days():
    assert calendar.legal_due_date(date(2026, 6, 1), extended=True) == date(2026, 6, 22)


def test_law_107_shortens_the_limit_from_1_july_2026():
    assert calendar.time_limit_on(date(2026, 6, 30)).normal_days == 10
    limit = calendar.time_limit_on(date(2026, 7, 1))
    assert limit.normal_days == 5 and "107/2025" in limit.basis and limit.confidence == "medium"
    # Received Friday 28/08/2026: 1-2/09 (National Day) are skipped.
    assert calendar.legal_due_date(date(2026, 8, 28), extended=False) == date(2026, 9, 8)


def test_a_makeup_saturday_counts_as_a_working_day():
    # 26/04/2025 was worked to swap for 02/05/2025.
    assert calendar.legal_due_date(date(2025, 4, 25), extended=False) == date(2025, 5, 13)


def test_holiday_data_covers_2025_to_2027_with_sources_and_confidence():
    raw = yaml.safe_load((calendar.DATA / "holidays.yml").read_text(encoding="utf-8"))
    years = {item["date"].year for item in raw["holidays"]}
    assert years == {2025, 2026, 2027}
    assert all(item["confidence"] in {"high", "medium", "low", "unverified"} for item in raw["holidays"])
    assert "Bộ luật Lao động" in (calendar.DATA / "holidays.yml").read_text(encoding="utf-8")
    assert all(limit.sources and limit.basis for limit in calendar.time_limits())
