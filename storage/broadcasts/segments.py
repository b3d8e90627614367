"""Which citizens a segment reaches, as one SQL query over `users`.

Opted-out and unreachable users are never chosen; the worker checks again
at send time, so someone who opts out after a broadcast started is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, exists, false, or_, select

from storage.broadcasts.model import Segment
from storage.schema import subscriptions, users

DEFAULT_LANGUAGE = "vi"  # users who never chose a language read Vietnamese


def recipients_query(segment: Segment, request_codes: Sequence[str] | None = None):
    """A subquery of (channel, user_id, chat_id) for the segment.
    `request_codes`: the requests whose followers qualify when the segment
    filters by request status (see `BroadcastStore._request_codes`)."""
    query: Select = select(users.c.channel, users.c.user_id, users.c.chat_id).where(
        users.c.announcements_opt_out == false(), users.c.unreachable == false()
    )
    if segment.channel:
        query = query.where(users.c.channel.in_(segment.channel))
    if segment.province:
        query = query.where(users.c.province_code.in_(segment.province))
    if segment.commune:
        query = query.where(users.c.commune_code.in_(segment.commune))
    if segment.language:
        wanted = users.c.language.in_(segment.language)
        query = query.where(or_(wanted, users.c.language.is_(None)) if DEFAULT_LANGUAGE in segment.language else wanted)
    if segment.source:
        query = query.where(or_(*(users.c.source.startswith(prefix, autoescape=True) for prefix in segment.source)))
    if segment.following:
        follows = exists().where(subscriptions.c.channel == users.c.channel, subscriptions.c.user_id == users.c.user_id)
        if request_codes is not None:
            follows = follows.where(subscriptions.c.request_code.in_(list(request_codes)))
        query = query.where(follows)
    return query.subquery("recipients")
