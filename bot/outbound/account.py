"""A bot account's outbound path, as every channel adapter builds it: one
pacer for all its sends (shared with the other workers through PostgreSQL)
and one queue for its replies."""

from __future__ import annotations

from bot.config import BroadcastSettings, ChannelRate, OutboundSettings
from bot.outbound.pacing import ChannelPacer, pacer_for
from bot.outbound.queue import OutboundQueue, SendReply
from bot.outbound.shared_slots import SharedSlots
from storage.outbound import OutboundStore
from storage.outbound_budget import SharedBudget
from storage.sql import SqlStorage

# Of the shared budget, this share is used: slots spaced evenly at the full
# rate leave no room for one message delayed on its way.
SHARED_BUDGET_SHARE = 0.97


def account_outbound(
    channel: str,
    send_reply: SendReply,
    storage: object | None,
    rate: ChannelRate | None = None,
    settings: OutboundSettings | None = None,
) -> tuple[ChannelPacer, OutboundQueue]:
    """The pacer and queue of the bot account on `channel` (without `rate`
    or `settings`: the configuration's defaults). Without a `SqlStorage`
    (unit tests, `troly chat`) the queue keeps nothing."""
    rate = rate or BroadcastSettings().rate_for(channel)
    settings = settings or OutboundSettings()
    pacer = pacer_for(rate)
    sql = storage if isinstance(storage, SqlStorage) else None
    if sql is not None and sql.is_postgres:  # several workers may send for this account
        budget = SharedBudget(sql, channel, rate.per_second * SHARED_BUDGET_SHARE)
        pacer.shared = SharedSlots(budget, pacer.clock)
    queue = OutboundQueue(channel, send_reply, pacer, settings, OutboundStore(sql) if sql is not None else None)
    return pacer, queue
