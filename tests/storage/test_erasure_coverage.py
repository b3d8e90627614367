"""Issue 20, finding 8: forget-me is checked against the schema itself, not
against the erasure code's own list of tables. A row about the user goes
into EVERY table the metadata has (values made from the column types, so a
table added later is filled too), then `/forget`: nothing of that user may
remain anywhere, and another user's rows stay."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, Integer, LargeBinary, String, Table, Text, select
from sqlalchemy.types import DateTime

from storage.base import user_actor
from storage.privacy import erased_tables
from storage.schema import audit_log, metadata

CHANNEL = "telegram"
FORGOTTEN = "u7319264058"
OTHER = "u5550001112"
# Columns that say which person a row is about. A table with one of them is
# "user-keyed": erasure must cover it (by channel and id, or by keyed hash).
PERSON_COLUMNS = {"user_id", "user_hash", "chat_id"}
# Columns that name who did something, as "channel:user_id".
ACTOR_COLUMNS = {"actor", "created_by", "granted_by", "closed_by"}


def user_keyed_tables() -> list[Table]:
    return [table for table in metadata.sorted_tables if PERSON_COLUMNS & set(table.c.keys())]


def _value(table: Table, column, user_id: str, user_hash: str, parents: dict[str, int]):
    """A value for `column` in a row about `user_id` (None: let the database choose)."""
    name = column.name
    if name == "channel":
        return CHANNEL
    if name in ("user_id", "chat_id"):
        return user_id
    if name == "user_hash":
        return user_hash
    if name in ACTOR_COLUMNS:
        return user_actor(CHANNEL, user_id)
    for key in column.foreign_keys:
        return parents[key.column.table.name]
    if column.primary_key and isinstance(column.type, Integer):
        return None  # autoincrement
    kind = column.type
    if isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime):
        return datetime.now(UTC)
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, Integer):
        return 1
    if isinstance(kind, LargeBinary):
        return b"\x89PNG"
    if isinstance(kind, JSON):
        return {"channel": CHANNEL, "user_id": user_id} if table is audit_log else {}
    if isinstance(kind, String | Text):
        text = f"{table.name}.{name}.{user_id[-4:]}"
        return text[-kind.length :] if getattr(kind, "length", None) else text
    raise AssertionError(f"no test value for {table.name}.{name} ({kind!r}): teach _value this type")


async def fill_every_table(storage, user_ids: list[str]) -> None:
    """One row per table and user (tables without a person column get one
    row only), parents before children."""
    parents: dict[str, int] = {}
    async with storage.transaction(write=True) as conn:
        for table in metadata.sorted_tables:
            owners = user_ids if PERSON_COLUMNS & set(table.c.keys()) or table is audit_log else user_ids[:1]
            for user_id in owners:
                row = {}
                for column in table.c:
                    value = _value(table, column, user_id, storage.pseudonym(CHANNEL, user_id), parents)
                    if value is not None:
                        row[column.name] = value
                inserted = await conn.execute(table.insert().values(**row))
                if inserted.inserted_primary_key and table.name not in parents:
                    parents[table.name] = inserted.inserted_primary_key[0]


async def rows_by_table(storage) -> dict[str, list[str]]:
    async with storage.transaction() as conn:
        return {
            table.name: [json.dumps(dict(row._mapping), default=str) for row in await conn.execute(select(table))]
            for table in metadata.sorted_tables
        }


async def test_forget_leaves_nothing_of_the_user_in_any_table_the_schema_has(storage):
    await fill_every_table(storage, [FORGOTTEN, OTHER])
    forgotten_hash = storage.pseudonym(CHANNEL, FORGOTTEN)
    before = await rows_by_table(storage)
    for table in user_keyed_tables():
        assert any(FORGOTTEN in row or forgotten_hash in row for row in before[table.name]), table.name

    await storage.forget_user(CHANNEL, FORGOTTEN)

    after = await rows_by_table(storage)
    pseudonym = f"erased:{forgotten_hash}"  # what they did as staff stays, signed by it
    for name, rows in after.items():
        for row in rows:
            assert FORGOTTEN not in row, f"{name} still names the forgotten user: {row[:200]}"
            bare = row.replace(pseudonym, "")
            assert forgotten_hash not in bare, f"{name} still holds the user's keyed hash: {row[:200]}"
    assert any(pseudonym in row for row in after[audit_log.name])
    for table in user_keyed_tables():  # the other user keeps everything
        other_hash = storage.pseudonym(CHANNEL, OTHER)
        assert [row for row in after[table.name] if OTHER in row or other_hash in row], table.name


def test_every_user_keyed_table_of_the_schema_is_one_erasure_covers():
    """A table added with a person column that erasure does not reach (say a
    `user_id` without `channel`, or a new name for the hash) fails here."""
    covered = {table.name for table in erased_tables()}
    missing = sorted(table.name for table in user_keyed_tables() if table.name not in covered)
    assert not missing, f"tables about users that /forget does not erase: {missing}"
    assert {"pending_notices", "broadcast_deliveries", "handoff_tickets", "events"} <= covered
