"""Answers for the intents that need no dialogue (documents, time limits,
validity, paper delivery...), and the one way every fact-bearing reply is
written: the text, the rule's effective date ("theo quy định từ ngày …"), when
the fact was last checked ("kiểm tra lần cuối …", from the data's
`last_checked`), and a link to its source.

The facts themselves come from the knowledge base; an unverified fact is
phrased there with care or replaced by a referral, never stated here.

Under each answer (and each fee result) one unobtrusive row asks whether it
helped: 👍 / 👎, payload `answers:rate:<topic>:<n>:up|down`, where `n`
numbers the answers shown to this user. A rating is the analytics event
`answer_rated` (topic, up/down), counted once per answer shown: a second
press, or a forged payload, is thanked or refused but never counted. 👎
offers an officer and the menu. Channels without buttons show the pair as
numbered options, so a typed number rates too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from core.messages import Button, Link, Reply
from flows.base import Context, Flow, Turn, is_plain_number, rows

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
    "fee_info": (("fees.for_me", "menu:open:fees"), ("fees.how_to_pay", "fees:pay")),
    "who_issues": (("menu.handoff", "menu:open:handoff"), ("menu.guide", "menu:open:guide")),
    "law_107": (("menu.eligibility", "menu:open:eligibility"),),
    "lost_phone": (("menu.handoff", "menu:open:handoff"),),
    "child_request": (("menu.eligibility", "menu:open:eligibility"),),
    "abroad": (("menu.eligibility", "menu:open:eligibility"), ("menu.handoff", "menu:open:handoff")),
    "scams": (("menu.handoff", "menu:open:handoff"),),
    "out_of_scope": (),
    "get_certificate": (("menu.certificate", "menu:open:certificate"), ("menu.status", "menu:open:status")),
    "payment_refund": (("menu.handoff", "menu:open:handoff"),),
    "authorisation": (("menu.eligibility", "menu:open:eligibility"), ("menu.handoff", "menu:open:handoff")),
    "portal": (("menu.guide", "menu:open:guide"),),
    "foreigner": (("menu.eligibility", "menu:open:eligibility"), ("menu.handoff", "menu:open:handoff")),
}
# What can be rated: the answers above, and the fee calculator's result.
RATED_TOPICS = frozenset(ANSWER_TOPICS) | {"fee_result"}
RATINGS = ("up", "down")
REMEMBERED_RATINGS = 20  # recent answers whose rating is remembered (no double count)


def rating_row(ctx: Context, topic: str) -> tuple[Button, ...]:
    """The 👍 / 👎 pair for the answer about to be shown."""
    shown = int(ctx.memory.get("answers_shown", 0)) + 1
    ctx.memory["answers_shown"] = shown
    return tuple(ctx.button(f"rating.{value}", f"answers:rate:{topic}:{shown}:{value}") for value in RATINGS)


def dates_line(ctx: Context, since: date | None, checked: date | None = None) -> str:
    """ "Theo quy định từ ngày <since>. Kiểm tra lần cuối ngày <checked>." (either part may be absent)."""
    parts = [
        ctx.t(key, date=day.strftime("%d/%m/%Y"))
        for key, day in (("fact.since", since), ("fact.checked", checked))
        if day
    ]
    return "🗓 " + " ".join(parts) if parts else ""


def fact_reply(
    ctx: Context,
    text: str,
    sources: Sequence[Any],
    since: date | None,
    buttons: tuple[tuple[Button, ...], ...] = (),
    checked: date | None = None,
) -> Reply:
    """A reply stating a fact: its text, the date the rule applies from, the
    date the fact was last checked, and its first source (a knowledge
    `Source` with title and URL, or a bare URL)."""
    body = "\n\n".join(part for part in (text, dates_line(ctx, since, checked)) if part)
    link = None
    if sources:
        first = sources[0]
        url, title = (first, "") if isinstance(first, str) else (first.url, first.title or "")
        label = ctx.t("fact.source") + (f": {title}" if title and title != url else "")
        link = Link(label[:120], url)
    return Reply(body, buttons=buttons, link=link)


def answer_reply(ctx: Context, answer: Any, buttons: tuple[tuple[Button, ...], ...] = ()) -> Reply:
    """A knowledge-base `Answer` (or `Contacts`) as a reply."""
    return fact_reply(ctx, answer.text, list(answer.sources), answer.as_of, buttons, getattr(answer, "checked", None))


def knowledge_reply(ctx: Context, topic: str, buttons: tuple[tuple[Button, ...], ...] = ()) -> Reply:
    return answer_reply(ctx, ctx.services.knowledge.answer(topic, ctx.lang, on=ctx.today), buttons)


class Answers(Flow):
    """Stateless: `start(topic)` answers one intent and leaves the user at the menu."""

    name = "answers"

    async def start(self, ctx: Context, arg: str = "") -> list[Reply]:
        follow_ups = ANSWER_TOPICS.get(arg, ())
        buttons = rows(
            tuple(ctx.button(key, payload) for key, payload in follow_ups), ctx.menu_row(), rating_row(ctx, arg)
        )
        ctx.goto("menu", "main")
        ctx.event("answer_given", topic=arg)
        return [knowledge_reply(ctx, arg, buttons)]

    async def on_input(self, ctx: Context, turn: Turn) -> list[Reply] | None:
        action = turn.action[1:]
        if len(action) == 1 and action[0] in ANSWER_TOPICS:
            return await self.start(ctx, action[0])
        if len(action) == 4 and action[0] == "rate":
            return self.rate(ctx, *action[1:])
        return None

    def rate(self, ctx: Context, topic: str, number: str, value: str) -> list[Reply] | None:
        """Record a rating once per answer shown; None (a stale button) for a forged one."""
        shown = int(ctx.memory.get("answers_shown", 0))
        valid_number = is_plain_number(number) and 1 <= int(number) <= shown
        if topic not in RATED_TOPICS or value not in RATINGS or not valid_number:
            return None
        rated: list[int] = ctx.memory.setdefault("rated", [])
        if int(number) in rated:
            return [Reply(ctx.t("rating.already"))]
        rated.append(int(number))
        del rated[:-REMEMBERED_RATINGS]
        ctx.event("answer_rated", topic=topic, rating=value)
        if value == "up":
            return [Reply(ctx.t("rating.thanks_up"))]
        buttons = rows((ctx.button("menu.handoff", "menu:open:handoff"), ctx.menu_button()))
        return [Reply(ctx.t("rating.thanks_down"), buttons=buttons)]
