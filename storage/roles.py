"""Roles granted in the database (the `roles` table), by `troly admin
grant|revoke` or by an admin in chat. `bot.roles` adds those of config.yml,
checks them and audits every change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from storage.schema import of_user, roles, utcnow
from storage.sql import SqlStorage


@dataclass(frozen=True)
class GrantedRole:
    """A row of `roles`."""

    channel: str
    user_id: str
    role: str
    granted_by: str
    granted_at: datetime


class RoleStore:
    """The `roles` table, on a `SqlStorage`'s engine."""

    def __init__(self, storage: SqlStorage) -> None:
        self.storage = storage

    async def roles_of(self, channel: str, user_id: str) -> set[str]:
        async with self.storage.transaction() as conn:
            rows = await conn.execute(select(roles.c.role).where(*of_user(roles, channel, user_id)))
            return set(rows.scalars())

    async def grant(self, channel: str, user_id: str, role: str, granted_by: str) -> bool:
        """Record the grant; False if the database already had it."""
        values = {"channel": channel, "user_id": user_id, "role": role}
        async with self.storage.transaction(write=True) as conn:
            existing = await conn.execute(select(roles.c.role).filter_by(**values))
            if existing.first() is not None:
                return False
            await conn.execute(roles.insert().values(**values, granted_by=granted_by, granted_at=utcnow()))
        return True

    async def revoke(self, channel: str, user_id: str, role: str) -> bool:
        """Delete the grant; False if the database had no such grant."""
        async with self.storage.transaction(write=True) as conn:
            removed = await conn.execute(delete(roles).filter_by(channel=channel, user_id=user_id, role=role))
        return removed.rowcount != 0

    async def grants(self) -> list[GrantedRole]:
        """Every grant, by role, then channel."""
        async with self.storage.transaction() as conn:
            rows = (await conn.execute(select(roles).order_by(roles.c.role, roles.c.channel))).all()
        return [GrantedRole(row.channel, row.user_id, row.role, row.granted_by, row.granted_at) for row in rows]
