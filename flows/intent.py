"""Free text routed by intent, and the fallback when the NLU is unsure.

A confident intent starts its flow or answer. A question typed while a flow
waits for an answer (the fee calculator's group, the status lookup's code) is
answered, then the flow is offered back ("Tiếp tục tính phí?"): its place is
kept (`paused`) in the data of the flow the answer left the user in, so it
goes, with any request code in it, as soon as another flow starts; the button
`intent:resume` asks that step's question again. An unsure guess (Rasa's
`nlu_fallback`) is never answered blindly: the user confirms one of the top
two intents with a button. After two misses in a row the bot offers the menu
and a human. Every miss keeps the question, masked, for admins to improve the
NLU data (`storage.feedback`), if the citizen agreed to the privacy notice;
a guess the citizen then presses labels that question with its intent.

```mermaid
stateDiagram-v2
    [*] --> ROUTED: confident intent -> its flow or answer
    [*] --> ROUTED: unsure, but a top-two guess confirmed by the words (a guide step, a purpose, its topic's words)
    [*] --> ROUTED: out of scope, but the certificate and a purpose named (or a type, certificate types second)
    [*] --> CONFIRM: unsure -> buttons for the top two intents
    CONFIRM --> ROUTED: a guess pressed (intent:<name>)
    CONFIRM --> CONFIRM: still unsure (1 miss)
    CONFIRM --> MENU_AND_HUMAN: second miss in a row
    MENU_AND_HUMAN --> [*]
    ROUTED --> OFFER_RESUME: asked mid-flow, and the answer left that flow
    OFFER_RESUME --> [*]: resume -> the flow at the same step, its question again
```
"""

from __future__ import annotations

import copy
import logging
import re
from enum import StrEnum
from typing import Any

from core.messages import Reply
from core.textkey import text_key
from domain import fees
from flows.answers import ANSWER_TOPICS, fact_reply
from flows.base import Context, Flow, Turn, rows
from nlu.provinces import find_province
from nlu.topic_words import names_topic

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
# The certificate itself, named in a question (compared as `text_key`s).
_ASKS_FOR_THE_CERTIFICATE = re.compile(r"\b(phieu|lltp|ly lich tu phap|certificate|criminal record)\b")

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
        if action == ["resume"]:
            return self.resume(ctx)
        if len(action) == 1 and (action[0] in OFFERABLE or action[0] in SMALL_TALK):
            ctx.event("guess_confirmed", intent=action[0])
            await label_unanswered(ctx, action[0])
            return await self.route(ctx, action[0], {})
        return None

    async def route(self, ctx: Context, intent: str, parse: dict[str, Any]) -> list[Reply]:
        """The intent's answer; if it took the user out of a flow that was
        waiting for an answer, followed by the offer to go on there."""
        waiting = self.waiting_step(ctx)
        replies = await self.answer(ctx, intent, parse)
        if waiting is not None and self.waiting_step(ctx) is None and ctx.conversation.flow != waiting["flow"]:
            ctx.data["paused"] = waiting
            resume = ctx.button("button.continue", "intent:resume")
            replies.append(Reply(ctx.t(f"resume.{waiting['flow']}"), buttons=rows((resume,), ctx.menu_row())))
        return replies

    def waiting_step(self, ctx: Context) -> dict[str, Any] | None:
        """The active flow's place when it waits for an answer (a resumable state)."""
        flow = ctx.flows.get(ctx.conversation.flow)
        if flow is None or ctx.state not in flow.resumable_states:
            return None
        return {"flow": flow.name, "state": ctx.state, "data": copy.deepcopy(ctx.data)}

    def resume(self, ctx: Context) -> list[Reply] | None:
        """Back to the step a question interrupted, its question asked again;
        None (a stale button) when there is no such step."""
        paused = ctx.data.pop("paused", None)
        flow = ctx.flows.get(paused["flow"]) if isinstance(paused, dict) else None
        if flow is None or paused["state"] not in flow.resumable_states:
            return None
        ctx.goto(flow.name, paused["state"], **paused["data"])
        ctx.event("flow_resumed", flow=flow.name)
        return flow.ask_again(ctx)

    async def answer(self, ctx: Context, intent: str, parse: dict[str, Any]) -> list[Reply]:
        if intent in ("nlu_fallback", ""):
            intent = self.confirmed_guess(ctx, parse) or intent
        elif intent == "out_of_scope" and _ASKS_FOR_THE_CERTIFICATE.search(text_key(str(parse.get("text") or ""))):
            # "Not mine" is wrong for a question about the certificate that names a purpose in our data
            # ("nhận con nuôi ... cần phiếu mấy"): that purpose's answer says which type; steps are
            # not checked, their words are too common.
            if ctx.services.knowledge.purpose_named(str(parse.get("text") or ""), ctx.today):
                intent = "certificate_types"
            else:
                intent = self.confirmed_guess(ctx, parse, steps=False) or intent
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
            return await self.certificate_question(ctx, parse)
        if intent == "who_issues":
            return await self.who_issues(ctx, parse)
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

    def confirmed_guess(self, ctx: Context, parse: dict[str, Any], steps: bool = True) -> str | None:
        """A guess among the top two that the question's own words confirm: a
        guide step (unless `steps` is False) or a purpose it names (from the
        knowledge data), a certificate type ("phiếu 1") for the certificate types,
        or the words of the guess's topic ("tốn bao nhiêu" for the fee, nlu/data/topic_words.yml),
        a fee group or a number of copies named ("người khuyết tật", "5 copies") for the fee."""
        text = str(parse.get("text") or "")
        knowledge = ctx.services.knowledge
        ranking = [item.get("name") for item in parse.get("intent_ranking") or []]
        for guess in [name for name in ranking if name and name != "nlu_fallback"][:2]:
            if steps and INTENT_FLOWS.get(guess) == "guide" and knowledge.guide_step_named(text, ctx.today) is not None:
                return guess
            if guess == "certificate_types" and (
                entity_value(parse, "certificate_type") or knowledge.purpose_named(text, ctx.today)
            ):
                return guess
            if names_topic(guess, text) or (guess == "fee_info" and self.names_fee_case(parse)):
                return guess
        return None

    @staticmethod
    def names_fee_case(parse: dict[str, Any]) -> bool:
        """Whether the question names what the fee depends on: a fee group or a number of copies."""
        return bool(entity_value(parse, "copies") or fees.fee_rules().group_mentioned(str(parse.get("text") or "")))

    async def fee_question(self, ctx: Context, parse: dict[str, Any]) -> list[Reply]:
        """The fee for the asker's own case when the question says it ("sinh viên",
        "4 bản", "bản thứ 3"); otherwise the general answer, with the calculator offered."""
        group = fees.fee_rules().group_mentioned(str(parse.get("text") or "")) or ""
        # Several counts ("ngoài 2 bản, bản thứ 3 ..."): the largest is the total asked about.
        counts = [int(e["value"]) for e in parse.get("entities") or [] if e.get("entity") == "copies"]
        copies = str(max(counts)) if counts else ""
        if group or copies:
            return await ctx.start("fees", f"{group}:{copies}")
        return await ctx.start("answers", "fee_info")

    async def certificate_question(self, ctx: Context, parse: dict[str, Any]) -> list[Reply]:
        """A purpose the question names ("giấy phép lao động") gets that purpose's
        answer; one type named and what about it ("phiếu 1 dùng để làm gì") that
        record alone; anything else both types."""
        text = str(parse.get("text") or "")
        knowledge = ctx.services.knowledge
        purpose = knowledge.purpose_named(text, ctx.today)
        if purpose:
            return await ctx.start("eligibility", f"purpose:{purpose}")
        numbers = {str(e.get("value")) for e in parse.get("entities") or [] if e.get("entity") == "certificate_type"}
        if len(numbers) == 1:
            number = numbers.pop()
            aspect = knowledge.certificate_aspect_named(text, number, ctx.today)
            if aspect:
                return await ctx.start("eligibility", f"certificate:{number}:{aspect}")
        return await ctx.start("answers", "certificate_types")

    async def who_issues(self, ctx: Context, parse: dict[str, Any]) -> list[Reply]:
        """Who issues the certificate; for a province the question names, that
        province's receiving police unit too (used for this answer only)."""
        replies = await ctx.start("answers", "who_issues")
        found = find_province(str(parse.get("text") or ""))
        if found is not None:
            contacts = ctx.services.knowledge.contacts(found.province.code, ctx.lang, ctx.today)
            unit = fact_reply(ctx, contacts.receiving_unit, contacts.sources, contacts.as_of, checked=contacts.checked)
            replies.append(unit)
        return replies

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
