"""The main menu, help, and the account commands (language, privacy, forget-me).

```mermaid
stateDiagram-v2
    [*] --> MAIN: menu / cancel / start (already onboarded)
    MAIN --> guide: Hướng dẫn
    MAIN --> eligibility: Điều kiện
    MAIN --> fees: Lệ phí
    MAIN --> status: Tra cứu
    MAIN --> certificate: Nhận phiếu
    MAIN --> handoff: Hỏi cán bộ
    MAIN --> CONFIRM_FORGET: forget-me
    CONFIRM_FORGET --> [*]: yes (everything erased)
    CONFIRM_FORGET --> MAIN: no
```
"""

from __future__ import annotations

from enum import StrEnum

from core.messages import Reply
from flows.base import Context, Flow, Turn, rows
from flows.onboarding import LANGUAGE_BUTTONS


class State(StrEnum):
    MAIN = "main"
    CONFIRM_FORGET = "confirm_forget"


class Menu(Flow):
    name = "menu"

    async def start(self, ctx: Context, arg: str = "") -> list[Reply]:
        ctx.goto(self.name, State.MAIN)
        return [main_menu(ctx)]

    async def on_input(self, ctx: Context, turn: Turn) -> list[Reply] | None:
        action = turn.action[1:]
        if not action:
            return None
        match action:
            case ["show"]:
                return await self.start(ctx)
            case ["open", flow]:
                if flow in ctx.flows:
                    ctx.event("menu_choice", flow=flow)
                    return await ctx.start(flow)
            case ["help"]:
                return await self.help(ctx)
            case ["language"]:
                return language_choice(ctx)
            case ["privacy"]:
                return privacy(ctx)
            case ["forget"]:
                return forget_confirmation(ctx)
            case ["forget", "yes"]:
                return await forget(ctx)
            case ["forget", "no"]:
                return await self.start(ctx)
        return None

    async def help(self, ctx: Context) -> list[Reply]:
        ctx.goto(self.name, State.MAIN)
        return [Reply(ctx.t("menu.help")), main_menu(ctx)]


def main_menu(ctx: Context) -> Reply:
    def open_(key: str, flow: str):
        return ctx.button(key, f"menu:open:{flow}")

    return Reply(
        ctx.t("menu.title"),
        buttons=rows(
            (open_("menu.guide", "guide"), open_("menu.eligibility", "eligibility")),
            (open_("menu.fees", "fees"), open_("menu.status", "status")),
            (open_("menu.certificate", "certificate"), open_("menu.handoff", "handoff")),
            (ctx.button("menu.language", "menu:language"), ctx.button("menu.privacy", "menu:privacy")),
        ),
        kind="menu",
    )


def language_choice(ctx: Context) -> list[Reply]:
    return [Reply(ctx.t("menu.choose_language"), buttons=(LANGUAGE_BUTTONS,))]


def privacy(ctx: Context) -> list[Reply]:
    status_key = "privacy.status_given" if ctx.user.consent_at else "privacy.status_not_given"
    consent_row = (
        ctx.button("privacy.withdraw", "onboarding:consent:no")
        if ctx.user.consent_at
        else ctx.button("privacy.agree", "onboarding:consent:yes"),
    )
    return [
        Reply(
            f"{ctx.t('privacy.details')}\n\n{ctx.t(status_key)}",
            buttons=rows(consent_row, (ctx.button("privacy.forget", "menu:forget"),), ctx.menu_row()),
        )
    ]


def forget_confirmation(ctx: Context) -> list[Reply]:
    ctx.goto("menu", State.CONFIRM_FORGET)
    return [
        Reply(
            ctx.t("privacy.forget_confirm"),
            buttons=rows(
                (ctx.button("button.yes_erase", "menu:forget:yes"), ctx.button("button.no", "menu:forget:no"))
            ),
        )
    ]


async def forget(ctx: Context) -> list[Reply]:
    """Erase everything about the user (PDPL right to erasure)."""
    user = ctx.user
    text = ctx.t("privacy.forgotten")
    await ctx.services.storage.forget_user(user.channel, user.user_id)
    ctx.forgotten = True
    return [Reply(text, buttons=rows((ctx.button("button.start_again", "menu:show"),)))]
