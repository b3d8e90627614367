"""Who may do what: admins, officers and outreach staff, per channel user.

Roles come from two places: `config.yml` (`roles:`, for the first admins and
for deployments managed as files) and the `roles` table (`storage.roles`:
granted and revoked with `troly admin grant|revoke`, or by an admin in chat). An admin may do
everything an officer or outreach staff member may. Every grant and revoke
is written to the audit log. Channels whose ids the client chooses (the web
chat, `bot.config.CLIENT_CHOSEN_ID_CHANNELS`) hold no role: granting one is
refused, config.yml naming one does not load, and an old grant is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.config import CLIENT_CHOSEN_ID_CHANNELS, RolesSettings, client_chosen_id_problem
from storage.roles import RoleStore
from storage.sql import SqlStorage


class Role(StrEnum):
    ADMIN = "admin"
    OFFICER = "officer"
    OUTREACH = "outreach"


_CONFIG_FIELDS = {Role.ADMIN: "admins", Role.OFFICER: "officers", Role.OUTREACH: "outreach"}


class RoleError(ValueError):
    """A grant or revoke that cannot be done, with a message for the admin."""


@dataclass(frozen=True)
class RoleGrant:
    channel: str
    user_id: str
    role: Role
    source: str  # "config" or "database"
    granted_by: str | None = None
    granted_at: datetime | None = None

    @property
    def who(self) -> str:
        return f"{self.channel}:{self.user_id}"


def parse_who(who: str) -> tuple[str, str]:
    """`telegram:123` -> ("telegram", "123"), with a clear error otherwise."""
    channel, sep, user_id = who.strip().partition(":")
    if not sep or not channel or not user_id or " " in user_id:
        raise RoleError(f"{who!r}: write the person as <channel>:<user id>, e.g. telegram:123456789")
    return channel, user_id


class Roles:
    def __init__(self, storage: SqlStorage, settings: RolesSettings) -> None:
        self.storage = storage
        self._granted = RoleStore(storage)
        self._configured = {
            (*parse_who(who), role) for role, field in _CONFIG_FIELDS.items() for who in getattr(settings, field)
        }

    async def roles_of(self, channel: str, user_id: str) -> set[Role]:
        if channel in CLIENT_CHOSEN_ID_CHANNELS:
            return set()  # a grant made before these were refused gives no power
        found = {role for c, u, role in self._configured if (c, u) == (channel, user_id)}
        return found | {Role(role) for role in await self._granted.roles_of(channel, user_id)}

    async def has(self, channel: str, user_id: str, role: Role) -> bool:
        """Whether the person holds `role` (admins hold every role)."""
        held = await self.roles_of(channel, user_id)
        return role in held or Role.ADMIN in held

    async def grant(self, who: str, role: Role, actor: str) -> bool:
        """Give `who` the role; False if they already had it in the database."""
        channel, user_id = parse_who(who)
        if problem := client_chosen_id_problem(who):
            raise RoleError(problem)
        if not await self._granted.grant(channel, user_id, role.value, actor):
            return False
        await self.storage.audit(actor, "role.granted", {"who": who, "role": role.value})
        return True

    async def revoke(self, who: str, role: Role, actor: str) -> bool:
        """Take the role away; False if the database had no such grant.
        A role from config.yml can only be removed there."""
        channel, user_id = parse_who(who)
        if (channel, user_id, role) in self._configured:
            raise RoleError(f"{who} is {role.value} in config.yml (roles.{_CONFIG_FIELDS[role]}): remove it there")
        if not await self._granted.revoke(channel, user_id, role.value):
            return False
        await self.storage.audit(actor, "role.revoked", {"who": who, "role": role.value})
        return True

    async def list(self) -> list[RoleGrant]:
        grants = [RoleGrant(c, u, role, "config") for c, u, role in sorted(self._configured)]
        grants += [
            RoleGrant(row.channel, row.user_id, Role(row.role), "database", row.granted_by, row.granted_at)
            for row in await self._granted.grants()
        ]
        return grants
