"""Answers for the intents that need no dialogue (documents, time limits,
validity, paper delivery...), and the one way every fact-bearing reply is
written: the text, "as of <date>", and a link to its source.

The facts themselves come from the knowledge base; an unverified fact is
phrased there with care or replaced by a referral, never stated here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from bot.messages import Button, Link, Reply
from flows.base import Context, Flow, Turn, rows

# Intents answered straight from the knowledge base, and the follow-up
# buttons that fit each one.
ANSWER_TOPICS: dict[str, tuple[tuple[str, str], ...]] = {
    "account_help": (("menu.guide", "menu:open:guide"), ("menu.handoff", "menu:open:handoff")),
    "certificate_types": (("menu.eligibility", "menu:open:eligibility"),),
    "documents_needed": (("menu.guide", "menu:open:guide"),),
    "payment_help": (("fees.payment_failed", "fees:failed"), ("menu.fees", "menu:open:fees")),
    "processing_time": (("menu.status", "menu:open:status"),),
    "paper_delivery": (("menu.fees", "menu:open:fees"),),
    "validity": (("menu.certificate", "menu:open:certificate"),),
}


def as_of_line(ctx: Context, as_of: date | None) -> str:
    return ctx.t("fact.as_of", date=as_of.strftime("%d/%m/%Y")) if as_of else ""


def fact_reply(
    ctx: Context,
    text: str,
    sources: Sequence[Any],
    as_of: date | None,
    buttons: tuple[tuple[Button, ...], ...] = (),
) -> Reply:
    """A reply stating a fact: its text, "as of <date>", and its first source
    (a knowledge `Source` with title and URL, or a bare URL)."""
    body = "\n\n".join(part for part in (text, as_of_line(ctx, as_of)) if part)
    link = None
    if sources:
        first = sources[0]
        url, title = (first, "") if isinstance(first, str) else (first.url, first.title or "")
        label = ctx.t("fact.source") + (f": {title}" if title and title != url else "")
        link = Link(label[:120], url)
    return Reply(body, buttons=buttons, link=link)


def answer_reply(ctx: Context, answer: Any, buttons: tuple[tuple[Button, ...], ...] = ()) -> Reply:
    """A knowledge-base `Answer` as a reply."""
    return fact_reply(ctx, answer.text, list(answer.sources), answer.as_of, buttons)


def knowledge_reply(ctx: Context, topic: str, buttons: tuple[tuple[Button, ...], ...] = ()) -> Reply:
    return answer_reply(ctx, ctx.services.knowledge.answer(topic, ctx.lang, on=ctx.today), buttons)


class Answers(Flow):
    """Stateless: `start(topic)` answers one intent and leaves the user at the menu."""

    name = "answers"

    async def start(self, ctx: Context, arg: str = "") -> list[Reply]:
        follow_ups = ANSWER_TOPICS.get(arg, ())
        buttons = rows(tuple(ctx.button(key, payload) for key, payload in follow_ups), ctx.menu_row())
        ctx.goto("menu", "main")
        ctx.event("answer_given", topic=arg)
        return [knowledge_reply(ctx, arg, buttons)]

    async def on_input(self, ctx: Context, turn: Turn) -> list[Reply] | None:
        action = turn.action[1:]
        if len(action) == 1 and action[0] in ANSWER_TOPICS:
            return await self.start(ctx, action[0])
        return None
