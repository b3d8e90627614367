"""Free text routed by intent, and the fallback when the NLU is unsure.

A confident intent starts its flow or answer. An unsure guess (Rasa's
`nlu_fallback`) is never answered blindly: the user confirms one of the top
two intents with a button. After two misses in a row the bot offers the menu
and a human. Every miss keeps the question, masked, for admins to improve the
NLU data (`storage.feedback`), if the citizen agreed to the privacy notice;
a guess the citizen then presses labels that question with its intent.

```mermaid
stateDiagram-v2
    [*] --> ROUTED: confident intent -> its flow or answer
    [*] --> ROUTED: unsure, but a top-two guess confirmed by the words (a guide step, a purpose)
    [*] --> CONFIRM: unsure -> buttons for the top two intents
    CONFIRM --> ROUTED: a guess pressed (intent:<name>)
    CONFIRM --> CONFIRM: still unsure (1 miss)
    CONFIRM --> MENU_AND_HUMAN: second miss in a row
    MENU_AND_HUMAN --> [*]
```
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from core.messages import Reply
from domain import fees
from flows.answers import ANSWER_TOPICS
from flows.base import Context, Flow, Turn, rows
from nlu.provinces import find_province

INTENT_FLOWS = {
    "request_guide": "guide",
    "guide_step": "guide",
    "human_handoff": "handoff",
}
SMALL_TALK = {"greet", "goodbye", "thanks", "affirm", "deny"}
# Intents a user can be offered as a guess (they all lead somewhere useful).
OFFERABLE = (set(INTENT_FLOWS) | set(ANSWER_TOPICS) | {"check_status", "get_certificate", "receiving_unit"}) - {
    "out_of_scope"
}
MISSES_BEFORE_HUMAN = 2

log = logging.getLogger(__name__)


class State(StrEnum):
    CONFIRM = "confirm"


def entity_value(parse: dict[str, Any], name: str) -> str:
    for entity in parse.get("entities") or []:
        if entity.get("entity") == name:
            return str(entity.get("value") or "")
    return ""


class IntentRouter(Flow):
    """Payloads `intent:<name>` (a confirmed guess) land here too."""

    name = "intent"

    async def start(self, ctx: Context, arg: str = "") -> list[Reply]:
        return await self.route(ctx, arg, {})

    async def on_input(self, ctx: Context, turn: Turn) -> list[Reply] | None:
        action = turn.action[1:]
        if len(action) == 1 and (action[0] in OFFERABLE or action[0] in SMALL_TALK):
            ctx.event("guess_confirmed", intent=action[0])
            await label_unanswered(ctx, action[0])
            return await self.route(ctx, action[0], {})
        return None

    async def route(self, ctx: Context, intent: str, parse: dict[str, Any]) -> list[Reply]:
        if intent in ("nlu_fallback", ""):
            intent = self.confirmed_guess(ctx, parse) or intent
        if intent in ("nlu_fallback", ""):
            return await self.miss(ctx, parse, intent)
        if intent == "out_of_scope":
            # An honest "not mine" with the official channels that can help; kept for admins too.
            ctx.event("fallback", kind=intent, misses=0)
            await keep_unanswered(ctx, parse, intent)
            return await ctx.start("answers", intent)
        ctx.memory["misses"] = 0
        ctx.memory.pop("unanswered_id", None)  # understood now: a later guess is about something else
        code = entity_value(parse, "request_code")
        if intent == "fee_info":
            return await self.fee_question(ctx, parse)
        if intent == "certificate_types":
            # A purpose the question names ("giấy phép lao động") gets that purpose's answer.
            purpose = ctx.services.knowledge.purpose_named(str(parse.get("text") or ""), ctx.today)
            if purpose:
                return await ctx.start("eligibility", f"purpose:{purpose}")
            return await ctx.start("answers", "certificate_types")
        if intent == "receiving_unit":
            found = find_province(str(parse.get("text") or ""))
            return await ctx.start("handoff", f"where:{found.province.code if found else ''}")
        if INTENT_FLOWS.get(intent) == "guide":
            # A question naming a step ("tạo yêu cầu mới") opens the guide at that step.
            step = ctx.services.knowledge.guide_step_named(str(parse.get("text") or ""), ctx.today)
            return await ctx.start("guide", "" if step is None else str(step))
        if intent in INTENT_FLOWS:
            return await ctx.start(INTENT_FLOWS[intent])
        if intent == "get_certificate" and not code:
            return await ctx.start("answers", intent)  # how the certificate arrives; its QR with a code
        if intent in ANSWER_TOPICS:
            return await ctx.start("answers", intent)
        # The message goes along: it may carry the proof of ownership as well as the code.
        typed = f"{code}|{parse.get('text', '')}" if code else ""
        if intent == "check_status":
            return await ctx.start("status", f"status|{typed}")
        if intent == "get_certificate":
            return await ctx.start("certificate", typed)
        if intent in SMALL_TALK:
            reply = Reply(ctx.t(f"smalltalk.{intent}"))
            return [reply, *await ctx.start("menu")] if intent in ("greet", "affirm", "deny") else [reply]
        return await self.miss(ctx, parse, "out_of_scope")

    def confirmed_guess(self, ctx: Context, parse: dict[str, Any]) -> str | None:
        """An unsure guess among the top two that the question's own words
        confirm: a guide step or a purpose it names (from the knowledge data),
        a certificate type ("phiếu 1") for the certificate types."""
        text = str(parse.get("text") or "")
        knowledge = ctx.services.knowledge
        ranking = [item.get("name") for item in parse.get("intent_ranking") or []]
        for guess in [name for name in ranking if name and name != "nlu_fallback"][:2]:
            if INTENT_FLOWS.get(guess) == "guide" and knowledge.guide_step_named(text, ctx.today) is not None:
                return guess
            if guess == "certificate_types" and (
                entity_value(parse, "certificate_type") or knowledge.purpose_named(text, ctx.today)
            ):
                return guess
        return None

    async def fee_question(self, ctx: Context, parse: dict[str, Any]) -> list[Reply]:
        """The fee for the asker's own case when the question says it ("sinh viên",
        "4 bản"); otherwise the general answer, with the calculator offered."""
        group = fees.fee_rules().group_mentioned(str(parse.get("text") or "")) or ""
        copies = entity_value(parse, "copies")
        if group or copies:
            return await ctx.start("fees", f"{group}:{copies}")
        return await ctx.start("answers", "fee_info")

    async def miss(self, ctx: Context, parse: dict[str, Any], intent: str) -> list[Reply]:
        misses = int(ctx.memory.get("misses", 0)) + 1
        ctx.memory["misses"] = misses
        ctx.event("fallback", kind=intent or "nlu_fallback", misses=misses)
        await keep_unanswered(ctx, parse, intent or "nlu_fallback")
        if misses >= MISSES_BEFORE_HUMAN:
            ctx.memory["misses"] = 0
            ctx.goto("menu", "main")
            return [
                Reply(
                    ctx.t("fallback.menu_and_human"),
                    buttons=rows(
                        (ctx.menu_button(), ctx.button("menu.handoff", "menu:open:handoff")),
                    ),
                )
            ]
        guesses = [item["name"] for item in parse.get("intent_ranking") or [] if item.get("name") in OFFERABLE][:2]
        if intent == "out_of_scope" or not guesses:
            return [Reply(ctx.t("fallback.out_of_scope"), buttons=rows(ctx.menu_row()))]
        buttons = [(ctx.button(f"intent.{name}", f"intent:{name}"),) for name in guesses]
        return [Reply(ctx.t("fallback.did_you_mean"), buttons=rows(*buttons, ctx.menu_row()))]


async def keep_unanswered(ctx: Context, parse: dict[str, Any], kind: str) -> None:
    """Keep the question the bot could not answer (masked, see
    `storage.feedback`) with the NLU's best guess, for admins to improve the
    NLU data. Only for citizens who agreed to the privacy notice; a failure
    here never costs the citizen their answer."""
    store = ctx.services.feedback
    text = str(parse.get("text") or "").strip()
    if store is None or not text or ctx.user.consent_at is None:
        return
    ranking = [item.get("name") for item in parse.get("intent_ranking") or [] if item.get("name")]
    guess = "out_of_scope" if kind == "out_of_scope" or not ranking else str(ranking[0])
    try:
        question_id = await store.record_unanswered(
            ctx.user.channel, ctx.user.user_id, text, language=ctx.lang, guess=guess, update_id=ctx.update_id
        )
    except Exception:
        log.exception("could not keep an unanswered question")
        return
    if question_id is not None:
        ctx.memory["unanswered_id"] = question_id


async def label_unanswered(ctx: Context, intent: str) -> None:
    """The citizen pressed a guess offered for their last kept question:
    label it with that intent (a ready NLU training example)."""
    question_id = ctx.memory.pop("unanswered_id", None)
    if not isinstance(question_id, int) or ctx.services.feedback is None:
        return
    try:
        await ctx.services.feedback.confirm(question_id, ctx.user.channel, ctx.user.user_id, intent)
    except Exception:
        log.exception("could not label an unanswered question")
