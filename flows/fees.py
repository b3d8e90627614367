"""Fee calculator: group, paper copies and date -> the amount, with its legal
basis, the date the rule applies from, when it was last checked, and its
source; exemptions and how to prove them; how to pay online and what to do
when a payment fails (never a promised refund).

Amounts come from the dated rules in `domain/data/knowledge/fees.yml` through
`domain.fees`, the same calculator the mock backend charges with.

```mermaid
stateDiagram-v2
    [*] --> GROUP: fees
    GROUP --> COPIES: standard / reduced / exempt
    COPIES --> RESULT: 0..20 copies (button or typed)
    COPIES --> COPIES: not a number
    RESULT --> DATE: another date
    DATE --> RESULT: dd/mm/yyyy
    DATE --> DATE: not a date / no rule for it
    RESULT --> GROUP: calculate again
    RESULT --> [*]: how to pay / payment failed / menu
    GROUP --> [*]: a question: answered, then "Tiếp tục tính phí?" back to this step (flows/intent.py)
    COPIES --> [*]: a question (no number), answered, then the same offer
```
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from enum import StrEnum

from core.dates import parse_date
from core.messages import Reply
from domain import fees
from flows.answers import answer_reply, fact_reply, rating_row
from flows.base import Context, Flow, Turn, is_plain_number, rows
from nlu.entities import find_copies


class State(StrEnum):
    GROUP = "group"
    COPIES = "copies"
    DATE = "date"
    RESULT = "result"


MAX_COPIES = 20
_NUMBER = re.compile(r"^\s*(\d{1,3})\s*(bản|ban|copies|copy)?\s*$", re.IGNORECASE)


class FeeCalculator(Flow):
    name = "fees"
    numeric_states = frozenset({State.COPIES, State.DATE})
    resumable_states = frozenset({State.GROUP, State.COPIES, State.DATE})

    def ask_again(self, ctx: Context) -> list[Reply]:
        if ctx.state == State.COPIES:
            return [self.ask_copies(ctx)]
        if ctx.state == State.DATE:
            return [self.ask_date(ctx)]
        return [self.ask_group(ctx)]

    async def start(self, ctx: Context, arg: str = "") -> list[Reply]:
        """`arg` is what a question already said: "<group>:<copies>", either part may be empty."""
        ctx.goto(self.name, State.GROUP)
        group, _, copies = arg.partition(":")
        if group in fees.GROUPS or copies.isdigit():
            ctx.data["group"] = group if group in fees.GROUPS else "standard"
            return self.result(ctx, copies=min(int(copies or 0), MAX_COPIES))
        return [self.ask_group(ctx)]

    def payment_failed(self, ctx: Context) -> Reply:
        """What to do when a payment failed: never pay twice, check the status first."""
        help_ = ctx.services.knowledge.payment_help(ctx.lang, ctx.today)
        steps = "\n".join(f"{n}. {step}" for n, step in enumerate(help_.failed_steps, start=1))
        failed = help_.if_failed
        text = "\n\n".join(part for part in (failed.text, steps) if part)
        buttons = rows(
            (ctx.button("menu.status", "menu:open:status"), ctx.button("menu.handoff", "menu:open:handoff")),
            ctx.menu_row(),
        )
        return answer_reply(ctx, replace(failed, text=text), buttons)

    def ask_group(self, ctx: Context) -> Reply:
        groups = fees.fee_rules().groups
        buttons = [
            (ctx.button("button.label", f"fees:group:{g}", label=groups[g]["label"][ctx.lang]),) for g in fees.GROUPS
        ]
        return Reply(ctx.t("fees.ask_group"), buttons=rows(*buttons, ctx.menu_row()))

    async def on_input(self, ctx: Context, turn: Turn) -> list[Reply] | None:
        action = turn.action[1:]
        match action:
            case ["group", group] if group in fees.GROUPS:
                if ctx.conversation.flow != self.name:
                    ctx.goto(self.name, State.GROUP)
                ctx.data["group"] = group
                ctx.set_state(State.COPIES)
                return [self.ask_copies(ctx)]
            case ["copies", number] if is_plain_number(number) and "group" in ctx.data:
                return self.result(ctx, copies=int(number))
            case ["date"] if "group" in ctx.data:
                ctx.set_state(State.DATE)
                return [self.ask_date(ctx)]
            case ["restart"]:
                return await self.start(ctx)
            case ["pay"]:
                help_ = ctx.services.knowledge.payment_help(ctx.lang, ctx.today)
                buttons = rows((ctx.button("fees.payment_failed", "fees:failed"),), ctx.menu_row())
                return [answer_reply(ctx, help_.how_to_pay, buttons)]
            case ["failed"]:
                return [self.payment_failed(ctx)]
            case []:
                pass
            case _:
                return None
        if ctx.conversation.flow != self.name or not turn.text:
            return None
        if ctx.state == State.GROUP:
            return self.fill_group(ctx, turn.text)
        if ctx.state == State.COPIES:
            typed_copies = find_copies(turn.text)  # "ba bản", "4 ban"
            if typed_copies is not None and typed_copies <= MAX_COPIES:
                return self.result(ctx, copies=typed_copies)
        if ctx.state in self.numeric_states and not any(char.isdigit() for char in turn.text):
            return None  # a question, not a number or date: routed by intent
        if ctx.state == State.COPIES:
            match = _NUMBER.match(turn.text)
            if match is None or int(match[1]) > MAX_COPIES:
                return [Reply(ctx.t("fees.copies_invalid", max=MAX_COPIES)), self.ask_copies(ctx)]
            return self.result(ctx, copies=int(match[1]))
        if ctx.state == State.DATE:
            on = parse_date(turn.text)
            if on is None:
                return [Reply(ctx.t("fees.date_invalid"), buttons=rows(ctx.menu_row()))]
            ctx.data["on"] = on.isoformat()
            return self.result(ctx, copies=int(ctx.data.get("copies", 0)))
        return None

    def fill_group(self, ctx: Context, text: str) -> list[Reply] | None:
        """Words typed at the group question that answer it ("sinh viên", "65 tuổi"), with
        any copies they name; None for anything else (a question, routed by intent)."""
        group = fees.fee_rules().group_mentioned(text)
        if group is None:
            return None
        ctx.data["group"] = group
        copies = find_copies(text)
        if copies is not None:
            return self.result(ctx, copies=min(copies, MAX_COPIES))
        ctx.set_state(State.COPIES)
        return [self.ask_copies(ctx)]

    def ask_date(self, ctx: Context) -> Reply:
        return Reply(ctx.t("fees.ask_date"), buttons=rows(ctx.menu_row()))

    def ask_copies(self, ctx: Context) -> Reply:
        # Numbered 1-3 so that on channels without buttons the option number
        # and the typed number of copies mean the same; "0" is said in words.
        counts = [ctx.button("fees.copies_n", f"fees:copies:{n}", n=n) for n in (1, 2, 3)]
        return Reply(
            ctx.t("fees.ask_copies", included=fees.fee_rules().included_copies),
            buttons=rows(counts, (ctx.button("fees.copies_none", "fees:copies:0"),)),
        )

    def result(self, ctx: Context, copies: int) -> list[Reply]:
        ctx.data["copies"] = copies
        on = date.fromisoformat(ctx.data["on"]) if "on" in ctx.data else ctx.today
        group = ctx.data["group"]
        try:
            quote = fees.quote(on, group, copies, "online")
        except LookupError:
            ctx.set_state(State.DATE)
            return [Reply(ctx.t("fees.no_rule", date=on.strftime("%d/%m/%Y")), buttons=rows(ctx.menu_row()))]
        ctx.set_state(State.RESULT)
        ctx.event("fee_quoted", group=group, copies=copies, year=on.year)
        label = fees.fee_rules().groups[group]["label"][ctx.lang]
        lines = [
            ctx.t("fees.result_total", amount=fees.format_vnd(quote.amount_vnd), date=on.strftime("%d/%m/%Y")),
            ctx.t("fees.result_base", group=label, amount=fees.format_vnd(quote.base_vnd)),
        ]
        extra = max(0, copies - fees.fee_rules().included_copies)
        if extra:
            each = fees.format_vnd(quote.period.extra_copy_vnd)
            lines.append(ctx.t("fees.result_copies", n=extra, each=each, amount=fees.format_vnd(quote.copies_vnd)))
        lines.append(ctx.t("fees.result_basis", basis=quote.basis(ctx.lang)))
        if quote.period.confidence not in ("high", "medium"):
            lines.append(ctx.t("fact.uncertain"))
        checked = fees.fee_rules().last_checked
        replies = [
            fact_reply(
                ctx,
                "\n".join(lines),
                quote.sources,
                quote.period.valid_from,
                rows(*self.after_buttons(ctx), ctx.menu_row(), rating_row(ctx, "fee_result")),
                checked,
            )
        ]
        if group == "exempt":
            proof = fees.fee_rules().groups["exempt"].get("proof", {}).get(ctx.lang)
            if proof:
                replies.append(Reply(proof))
        if quote.possible_waiver is not None and group != "exempt":
            waiver = quote.possible_waiver
            replies.append(fact_reply(ctx, waiver.text[ctx.lang], waiver.sources, waiver.valid_from, checked=checked))
        return replies

    def after_buttons(self, ctx: Context):
        return (
            (ctx.button("fees.how_to_pay", "fees:pay"), ctx.button("fees.payment_failed", "fees:failed")),
            (ctx.button("fees.other_date", "fees:date"), ctx.button("fees.again", "fees:restart")),
        )
