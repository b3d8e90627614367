"""Eligibility check: a level-2 VNeID account? for whom? old enough? which
certificate (Phiếu số 1 or 2) for which purpose?

The questions are interface text; every conclusion is a knowledge-base
answer (with its source and date), so a rule change is a data change.

```mermaid
stateDiagram-v2
    [*] --> ACCOUNT: eligibility
    ACCOUNT --> FOR_WHOM: level 2
    ACCOUNT --> ACCOUNT_HELP: level 1 / not sure (how to get level 2)
    ACCOUNT_HELP --> FOR_WHOM: continue
    FOR_WHOM --> AGE: myself
    FOR_WHOM --> PURPOSE: my child under 14
    FOR_WHOM --> [*]: another adult (other ways to apply)
    AGE --> PURPOSE: 16 or older
    AGE --> [*]: under 16 (the age rule)
    PURPOSE --> [*]: job / own record / visa / other -> which Phiếu
    [*] --> DONE: a question naming a purpose -> that purpose's answer
    [*] --> DONE: a question about one aspect of Phiếu 1 or 2 -> that record
    PURPOSE --> [*]: typed text is a question: answered, then an offer back to the step (flows/intent.py)
```
"""

from __future__ import annotations

from enum import StrEnum

from core.messages import Reply
from domain.knowledge.model import CERTIFICATE_ASPECTS
from flows.answers import answer_reply
from flows.base import Context, Flow, Turn, rows


class State(StrEnum):
    ACCOUNT = "account"
    ACCOUNT_HELP = "account_help"
    FOR_WHOM = "for_whom"
    AGE = "age"
    PURPOSE = "purpose"
    DONE = "done"


PURPOSES = ("job", "own_record", "visa", "other")
REQUESTERS = {"child": "child_under_14", "other_adult": "other_adult"}


def conclusion_record(ctx: Context, answer: str):
    """The dated, sourced knowledge record that answers the user's choice."""
    rules = ctx.services.knowledge.eligibility(ctx.today)
    if answer == "account":
        return rules.how_to_get_level2
    if answer == "under_16":
        return rules.age_rule
    if answer in REQUESTERS:
        return rules.requesters[REQUESTERS[answer]].record
    return rules.purposes[answer].record


class Eligibility(Flow):
    name = "eligibility"
    resumable_states = frozenset({State.ACCOUNT, State.FOR_WHOM, State.AGE, State.PURPOSE})

    def ask_again(self, ctx: Context) -> list[Reply]:
        return [self.question(ctx, State(ctx.state))]

    async def start(self, ctx: Context, arg: str = "") -> list[Reply]:
        """`arg` "purpose:<name>": a question named a purpose; "certificate:<n>:<aspect>":
        a question about one aspect of Phiếu n ("phiếu 1 dùng để làm gì"). Their answer at once."""
        kind, _, purpose = arg.partition(":")
        rules = ctx.services.knowledge.eligibility(ctx.today)
        if kind == "purpose" and purpose in rules.purposes:
            ctx.goto(self.name, State.PURPOSE)
            return self.done(ctx, purpose)
        number, _, aspect = purpose.partition(":")
        if kind == "certificate" and number in rules.certificate_types and aspect in CERTIFICATE_ASPECTS:
            ctx.goto(self.name, State.DONE)
            ctx.event("eligibility_result", result=f"phieu{number}_{aspect}")
            record = getattr(rules.certificate_types[number], aspect)
            buttons = (
                ctx.button("menu.eligibility", "menu:open:eligibility"),
                ctx.button("menu.guide", "menu:open:guide"),
            )
            return [answer_reply(ctx, record.answer(ctx.lang), rows(buttons, ctx.menu_row()))]
        ctx.goto(self.name, State.ACCOUNT)
        ctx.event("eligibility_started")
        return [self.question(ctx, State.ACCOUNT)]

    def question(self, ctx: Context, state: State) -> Reply:
        def b(key: str, answer: str):
            return ctx.button(key, f"eligibility:{state}:{answer}")

        options = {
            State.ACCOUNT: [
                (b("eligibility.level2", "yes"),),
                (b("eligibility.level1", "no"), b("button.not_sure", "unsure")),
            ],
            State.FOR_WHOM: [
                (b("eligibility.myself", "me"),),
                (b("eligibility.my_child", "child"),),
                (b("eligibility.other_adult", "other"),),
            ],
            State.AGE: [(b("eligibility.age_16_plus", "adult"), b("eligibility.age_under_16", "minor"))],
            State.PURPOSE: [
                (b("eligibility.purpose_job", "job"),),
                (b("eligibility.purpose_own_record", "own_record"),),
                (b("eligibility.purpose_visa", "visa"),),
                (b("eligibility.purpose_other", "other"),),
            ],
        }[state]
        return Reply(ctx.t(f"eligibility.ask_{state}"), buttons=rows(*options, ctx.menu_row()))

    async def on_input(self, ctx: Context, turn: Turn) -> list[Reply] | None:
        action = turn.action[1:]
        if len(action) != 2:
            return None
        state, answer = action
        if ctx.conversation.flow != self.name:
            ctx.goto(self.name, state)
        match state, answer:
            case State.ACCOUNT, "yes":
                return self.ask(ctx, State.FOR_WHOM)
            case State.ACCOUNT, ("no" | "unsure"):
                ctx.set_state(State.ACCOUNT_HELP)
                return [
                    self.conclusion(ctx, "account", (ctx.button("button.continue", "eligibility:account_help:go"),))
                ]
            case State.ACCOUNT_HELP, "go":
                return self.ask(ctx, State.FOR_WHOM)
            case State.FOR_WHOM, "me":
                return self.ask(ctx, State.AGE)
            case State.FOR_WHOM, "child":
                ctx.data["for"] = "child"
                return [self.conclusion(ctx, "child"), self.ask(ctx, State.PURPOSE)[0]]
            case State.FOR_WHOM, "other":
                return self.done(ctx, "other_adult")
            case State.AGE, "adult":
                return self.ask(ctx, State.PURPOSE)
            case State.AGE, "minor":
                return self.done(ctx, "under_16")
            case State.PURPOSE, purpose if purpose in PURPOSES:
                return self.done(ctx, purpose)
        return None

    def ask(self, ctx: Context, state: State) -> list[Reply]:
        ctx.set_state(state)
        return [self.question(ctx, state)]

    def conclusion(self, ctx: Context, answer: str, extra=()) -> Reply:
        record = conclusion_record(ctx, answer)
        return answer_reply(ctx, record.answer(ctx.lang), rows(tuple(extra), ctx.menu_row()))

    def done(self, ctx: Context, answer: str) -> list[Reply]:
        ctx.set_state(State.DONE)
        ctx.event("eligibility_result", result=answer)
        next_steps = (ctx.button("menu.guide", "menu:open:guide"), ctx.button("menu.fees", "menu:open:fees"))
        return [self.conclusion(ctx, answer, next_steps)]
