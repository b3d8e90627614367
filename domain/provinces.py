"""Vietnam's 34 provinces and their communes since 1 July 2025: the records.

Data, not code: the admin-units snapshot in `domain/data/admin_units/` (MIT,
thanglequoc/vietnamese-provinces-database; replace the JSON file with a newer
snapshot and nothing else changes). The pre-2025 province names are in
`domain/data/provinces-2025.csv`. Finding provinces in a citizen's words is
`nlu.provinces`' job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from core.textkey import clean

DATA_DIR = Path(__file__).resolve().parent / "data"
ADMIN_UNITS_DIR = DATA_DIR / "admin_units"
ID_CODES_FILE = DATA_DIR / "provinces-2025.csv"


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
def all_provinces() -> list[Province]:
    """The current provinces, from the admin-units snapshot."""
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


def province_by_code(code: str) -> Province | None:
    """The province with this 2-digit statistical code ("79" or "079")."""
    code = str(code).strip()
    for province in all_provinces():
        if province.code == code or province.code == code.lstrip("0").zfill(2):
            return province
    return None
