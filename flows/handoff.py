"""Handoff to people: the sourced contacts (the national VNeID hotline for
account problems, the province police where the knowledge base has them),
and a way to leave a question for an officer.

A left question, with long digit runs (id and phone numbers) masked and only
with the user's consent, goes live to the officers' Telegram group when one
is configured (`bot.handoff_relay.OfficerDesk`: officers reply there and the
answer comes back here); otherwise it is kept in the audit log for an
officer to answer through the bot later.

```mermaid
stateDiagram-v2
    [*] --> CONTACTS: human handoff / fallback after two misses
    [*] --> [*]: where to apply in person -> the receiving unit of the province asked about (not stored)
    CONTACTS --> ASK_QUESTION: leave a question
    ASK_QUESTION --> ASK_QUESTION: empty / too long
    ASK_QUESTION --> [*]: question saved -> menu
    CONTACTS --> [*]: menu
```
"""

from __future__ import annotations

import re
from enum import StrEnum

from core.messages import Reply
from core.redaction import mask_numbers
from flows.answers import answer_reply
from flows.base import Context, Flow, Turn, rows
from flows.onboarding import privacy_notice


class State(StrEnum):
    CONTACTS = "contacts"
    ASK_QUESTION = "ask_question"


MAX_QUESTION = 1000
_MEANINGFUL = re.compile(r"\w", re.UNICODE)


class Handoff(Flow):
    name = "handoff"

    async def start(self, ctx: Context, arg: str = "") -> list[Reply]:
        kind, _, province_code = arg.partition(":")
        if kind == "where":
            return self.where_to_apply(ctx, province_code)
        ctx.goto(self.name, State.CONTACTS)
        ctx.event("handoff_shown", province=ctx.user.province_code)
        contacts = ctx.services.knowledge.contacts(ctx.user.province_code, ctx.lang)
        buttons = rows((ctx.button("handoff.leave_question", "handoff:ask"),), ctx.menu_row())
        return [Reply(ctx.t("handoff.offer")), answer_reply(ctx, contacts, buttons)]

    def where_to_apply(self, ctx: Context, province_code: str) -> list[Reply]:
        """The receiving police unit, first, for the province the question
        named (used for this answer only) or else the user's own."""
        ctx.goto("menu", "main")
        ctx.event("answer_given", topic="receiving_unit")
        contacts = ctx.services.knowledge.contacts(province_code or ctx.user.province_code, ctx.lang)
        buttons = rows((ctx.button("menu.guide", "menu:open:guide"), ctx.button("menu.handoff", "menu:open:handoff")))
        return [answer_reply(ctx, contacts, rows(*buttons, ctx.menu_row()))]

    async def on_input(self, ctx: Context, turn: Turn) -> list[Reply] | None:
        desk = ctx.services.officer_desk
        if turn.action[1:] == ["close"]:
            if desk is None:
                return await ctx.start("menu")
            return [
                *await desk.close_by_citizen(ctx.user.channel, ctx.user.user_id, ctx.lang),
                *await ctx.start("menu"),
            ]
        if turn.action[1:] == ["ask"]:
            if ctx.user.consent_at is None:
                return [privacy_notice(ctx, ctx.t("handoff.needs_consent"), then="handoff:ask")]
            ctx.goto(self.name, State.ASK_QUESTION)
            return [Reply(ctx.t("handoff.ask_question"), buttons=rows(ctx.menu_row()))]
        if ctx.conversation.flow != self.name or ctx.state != State.ASK_QUESTION or not turn.text:
            return None
        question = turn.text.strip()
        if not _MEANINGFUL.search(question) or len(question) > MAX_QUESTION:
            return [Reply(ctx.t("handoff.question_invalid", max=MAX_QUESTION), buttons=rows(ctx.menu_row()))]
        if desk is not None and desk.enabled:
            ctx.event("officer_question_left", live=True)
            ctx.goto("menu", "start")
            return await desk.open_ticket(ctx.user, question, ctx.lang)
        await ctx.services.storage.audit(
            f"{ctx.user.channel}:{ctx.user.user_id}",
            "officer_question",
            {"question": mask_numbers(question), "province": ctx.user.province_code, "language": ctx.lang},
        )
        ctx.event("officer_question_left")
        return [Reply(ctx.t("handoff.question_saved")), *await ctx.start("menu")]
