"""Vietnam's 34 provinces and their communes since 1 July 2025: the records.

Data, not code: the admin-units snapshot in `domain/data/admin_units/` (MIT,
thanglequoc/vietnamese-provinces-database; replace the JSON file with a newer
snapshot and nothing else changes). Changes the snapshot predates (Quảng Ninh
and Bắc Ninh becoming cities in 2026) are carried, sourced and dated, in
`domain/data/province_overrides.yml` and applied from their effective date.
The pre-2025 province names are in `domain/data/provinces-2025.csv`. Finding provinces in a citizen's words is
`nlu.provinces`' job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from pathlib import Path

import yaml

from core.textkey import clean

DATA_DIR = Path(__file__).resolve().parent / "data"
ADMIN_UNITS_DIR = DATA_DIR / "admin_units"
ID_CODES_FILE = DATA_DIR / "provinces-2025.csv"
OVERRIDES_FILE = DATA_DIR / "province_overrides.yml"
OVERRIDABLE = ("name", "full_name", "name_en")  # the fields an override may change


@dataclass(frozen=True)
class ProvinceOverride:
    """A sourced, dated change the admin-units snapshot does not have yet."""

    code: str
    effective_from: date
    changes: dict[str, str]
    basis: str
    confidence: str
    sources: tuple[str, ...]

    def apply(self, province: Province) -> Province:
        return replace(
            province,
            name=self.changes.get("name", province.name),
            full_name=self.changes.get("full_name", province.full_name),
            name_en=self.changes.get("name_en", province.name_en),
        )


@dataclass(frozen=True)
class Commune:
    """A commune (xã), ward (phường) or special zone (đặc khu)."""

    code: str
    name: str
    full_name: str
    name_en: str
    kind: str  # "Xã", "Phường", "Đặc khu"
    province_code: str


@dataclass(frozen=True)
class Province:
    """A current (post-2025) province or centrally-run city."""

    code: str  # 2-digit statistical code
    name: str
    full_name: str
    name_en: str
    communes: tuple[Commune, ...] = field(repr=False, default=())


def _snapshot_file() -> Path:
    files = sorted(ADMIN_UNITS_DIR.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no admin-units snapshot (*.json) in {ADMIN_UNITS_DIR}")
    return files[-1]


@lru_cache(maxsize=1)
def province_overrides() -> tuple[ProvinceOverride, ...]:
    raw = yaml.safe_load(OVERRIDES_FILE.read_text(encoding="utf-8")) or {}
    return tuple(
        ProvinceOverride(
            code=str(item["code"]),
            effective_from=item["effective_from"],
            changes={name: str(item[name]) for name in OVERRIDABLE if name in item},
            basis=str(item["basis"]),
            confidence=str(item["confidence"]),
            sources=tuple(item["sources"]),
        )
        for item in raw.get("overrides") or ()
    )


@lru_cache(maxsize=8)
def all_provinces(on: date | None = None) -> list[Province]:
    """The provinces on `on`: the admin-units snapshot with the overrides in
    force by then applied. No date means the day of the first call (a process
    running past a new override's date picks it up at its next start)."""
    on = on or date.today()
    provinces = _snapshot_provinces()
    for override in province_overrides():
        if override.effective_from <= on:
            provinces = [override.apply(p) if p.code == override.code else p for p in provinces]
    return provinces


def _snapshot_provinces() -> list[Province]:
    """The provinces as the admin-units snapshot has them."""
    raw = json.loads(_snapshot_file().read_text(encoding="utf-8"))
    provinces = []
    for item in raw:
        communes = tuple(
            Commune(
                code=ward["Code"],
                name=clean(ward["Name"]),
                full_name=clean(ward["FullName"]),
                name_en=ward.get("NameEn") or "",
                kind=ward.get("AdministrativeUnitShortName") or "",
                province_code=item["Code"],
            )
            for ward in item.get("Wards") or ()
        )
        provinces.append(
            Province(
                code=item["Code"],
                name=clean(item["Name"]),
                full_name=clean(item["FullName"]),
                name_en=item.get("NameEn") or "",
                communes=communes,
            )
        )
    return provinces


def province_by_code(code: str, on: date | None = None) -> Province | None:
    """The province with this 2-digit statistical code ("79" or "079"), as on `on`."""
    code = str(code).strip()
    for province in all_provinces(on):
        if province.code == code or province.code == code.lstrip("0").zfill(2):
            return province
    return None
