"""A turn's replies, written down in the turn's own transaction.

A channel opens `TurnReplies` around the dispatcher's call; the dispatcher
hands the replies to `Storage.save_turn`, which queues them with the update
id and the conversation, all or nothing. No crash can then leave an update
recorded as handled with its answer unwritten (a redelivered update is
dropped as a duplicate, so that answer would be lost for good). The
channel's `OutboundQueue.deliver` then sends the row it finds here instead
of writing a second one.

    with queue.turn_replies(chat_id, meta) as written:
        replies = await receiver.dispatch(handle, inbound)
    await queue.deliver(chat_id, replies, meta, written=written)

A turn that saves nothing (a duplicate, a staff command, a failure) leaves
`queued` empty, and `deliver` writes its replies down itself.

A channel that answers in the webhook response says which replies may
ride there (`rider`); their row is then written `riding`, with the
update's id, and a copy of the update delivered again (`redelivered`)
releases the row if its worker died before responding (`storage/outbound.py`).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.outbound.codec import encode
from core.messages import Reply
from storage.outbound_rows import NewOutgoing, Queued

_current: contextvars.ContextVar[TurnReplies | None] = contextvars.ContextVar("turn_replies", default=None)


@dataclass
class TurnReplies:
    """Where the replies of the turn for `chat_id` on `channel` go:
    `prepare` gives them the shape the channel sends (Telegram folds plain
    texts together); `queued` says where they went once saved."""

    storage: object  # where the queue keeps its rows: the turn's own storage, or nothing is written here
    channel: str
    chat_id: str
    meta: dict[str, Any]
    worker_id: str
    lease: timedelta
    priority: int
    prepare: Callable[[Sequence[Reply]], list[Reply]] = list
    # The channel's call that would carry the last reply in the webhook response now, or None.
    rider: Callable[[Sequence[Reply]], Any] | None = None
    queued: Queued | None = None
    replies: list[Reply] = field(default_factory=list)  # as written, once `queued`
    ride: Any = None  # what `rider` gave for the replies
    redelivered: str | None = None  # the update id, when the turn found it already handled
    _prepared: list[Reply] = field(default_factory=list, repr=False)

    def to_write(
        self, storage: object, channel: str, chat_id: str, update_id: str | None, replies: Sequence[Reply]
    ) -> NewOutgoing | None:
        """The row for this turn's `replies` (to update `update_id`) in
        `storage`, or None when they are not the ones this channel waits for
        there (another chat or database, or already written)."""
        if self.queued is not None or storage is not self.storage or (channel, chat_id) != (self.channel, self.chat_id):
            return None
        self._prepared = self.prepare(replies)
        if not self._prepared:
            return None
        self.ride = self.rider(self._prepared) if update_id is not None and self.rider is not None else None
        encoded = encode(self._prepared, self.meta)
        return NewOutgoing(
            channel, chat_id, encoded.payload, self.worker_id, self.lease, self.priority, encoded.pictures,
            update_id if self.ride is not None else None,
        )  # fmt: skip

    def written(self, queued: Queued | None) -> None:
        """The turn was saved; its row (if it wrote one) is `queued`."""
        if queued is not None:
            self.queued, self.replies = queued, self._prepared

    @property
    def riding(self) -> bool:
        """`queued` rides: claimed by this worker, its last reply for the webhook response."""
        return self.queued is not None and self.queued.mine and self.ride is not None


@contextlib.contextmanager
def opened(written: TurnReplies) -> Iterator[TurnReplies]:
    """`written` is where the replies of turns handled inside go."""
    token = _current.set(written)
    try:
        yield written
    finally:
        _current.reset(token)


def current() -> TurnReplies | None:
    """The open `TurnReplies` of this task, if any (for the dispatcher)."""
    return _current.get()
