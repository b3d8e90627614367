"""Citizens reached per outreach poster (place and staff member), and how
far they got: guide started and finished, status checked, certificate
delivered.

Citizens are counted from `users.source` (the start payload they came
with); their progress from analytics events, which carry only a keyed hash
of the user, so the hashes are computed here and never shown.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from bot.outreach.deeplink import parse_payload
from storage.sql import SqlStorage
from storage.statistics import outreach_rows

# Funnel stages and the analytics events that mark them (flows/*.py).
FUNNEL = {
    "guide_started": "guide_started",
    "guide_finished": "guide_finished",
    "status_checked": "status_lookup",
    "certificate_delivered": "certificate_sent",
}


@dataclass
class OutreachRow:
    place: str
    staff: str
    citizens: int = 0
    stages: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FUNNEL, 0))

    def as_dict(self) -> dict[str, object]:
        return {"place": self.place, "staff": self.staff, "citizens": self.citizens, **self.stages}


async def outreach_stats(storage: SqlStorage) -> list[OutreachRow]:
    """One row per (place, staff), most citizens first."""
    people, reached = await outreach_rows(storage, FUNNEL.values())
    stages_of: dict[str, set[str]] = defaultdict(set)
    for user_hash, name in reached:
        stages_of[user_hash].add(name)
    rows: dict[tuple[str, str], OutreachRow] = {}
    for channel, user_id, source in people:
        poster = parse_payload(source)
        if poster is None:
            continue
        row = rows.setdefault(poster, OutreachRow(*poster))
        row.citizens += 1
        done = stages_of.get(storage.pseudonym(channel, user_id), set())
        for stage, event in FUNNEL.items():
            row.stages[stage] += event in done
    return sorted(rows.values(), key=lambda row: (-row.citizens, row.place, row.staff))
