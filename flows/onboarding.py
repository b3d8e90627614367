"""Onboarding: greeting, language, privacy notice and consent, province.

The privacy notice follows the Personal Data Protection Law 91/2025/QH15 (in
force 1/1/2026). It is short: what it is for, what is never kept, how to
withdraw or erase; the full notice (what we keep, why, for how long) is behind
"Xem chi tiết". It comes before the first thing the bot would keep: here the
province, elsewhere a question for an officer or a request code to watch
(`privacy_notice` with the reason); agreeing there carries on with what
asked for it. A question typed at any step is answered at once. Without
consent the bot still answers, but keeps no province, no status
subscriptions and no request code beyond the step on screen; withdrawing
consent deletes them. The same states serve the `language` and `privacy`
commands later on.

```mermaid
stateDiagram-v2
    [*] --> LANGUAGE: first message
    LANGUAGE --> CONSENT: Tiếng Việt / English
    CONSENT --> CONSENT: read more
    CONSENT --> PROVINCE: agree
    CONSENT --> menu: decline / withdraw (what consent kept is deleted)
    CONSENT --> [*]: agree outside onboarding -> the action that asked for consent (watch a request, ask an officer)
    PROVINCE --> PROVINCE: not recognised / several provinces have that place (buttons)
    PROVINCE --> menu: province found / skip
    menu --> [*]
```
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from core.messages import Button, Reply
from domain.provinces import province_by_code
from flows.base import Context, Flow, Turn, rows
from nlu.provinces import candidate_provinces, find_communes, find_province


class State(StrEnum):
    LANGUAGE = "language"
    CONSENT = "consent"
    PROVINCE = "province"


LANGUAGE_BUTTONS = (Button("Tiếng Việt", "onboarding:lang:vi"), Button("English", "onboarding:lang:en"))
# The flow-data key of the button action that asked for consent.
AFTER_CONSENT = "after_consent"
# Memory kept only with consent: the request codes the user proved theirs
# (to watch them) and their last unanswered question's id.
KEPT_UNDER_CONSENT = ("proven_codes", "unanswered_id")


class Onboarding(Flow):
    name = "onboarding"

    async def start(self, ctx: Context, arg: str = "") -> list[Reply]:
        if arg and ctx.user.source is None:
            ctx.user.source = arg[:64]  # the outreach deep link the user came from
        ctx.goto(self.name, State.LANGUAGE)
        ctx.event("onboarding_started", source=ctx.user.source)
        # Bilingual on purpose: we do not know the language yet.
        return [Reply(ctx.services.texts.get("onboarding.welcome", "vi"), buttons=(LANGUAGE_BUTTONS,))]

    async def on_input(self, ctx: Context, turn: Turn) -> list[Reply] | None:
        action = turn.action
        if action[1:2] == ["lang"] and len(action) == 3:
            return await self.choose_language(ctx, action[2])
        if action[1:2] == ["consent"] and len(action) == 3:
            return await self.consent(ctx, action[2])
        if action[1:3] == ["province", "skip"]:
            return await self.finish(ctx, [Reply(ctx.t("onboarding.province_skipped"))])
        if action[1:3] == ["province", "set"] and len(action) == 4:
            province = province_by_code(action[3])
            if province is not None:
                return await self.set_province(ctx, province, None)
        if ctx.state == State.PROVINCE and turn.text:
            return await self.province(ctx, turn.text)
        return None

    async def choose_language(self, ctx: Context, lang: str) -> list[Reply]:
        ctx.user.language = "en" if lang == "en" else "vi"
        ctx.event("language_chosen", language=ctx.user.language)
        if ctx.conversation.flow != self.name:  # the `language` command
            return [Reply(ctx.t("onboarding.language_set")), *await ctx.start("menu")]
        ctx.set_state(State.CONSENT)
        return [privacy_notice(ctx)]

    async def consent(self, ctx: Context, answer: str) -> list[Reply]:
        if answer == "more":
            return [Reply(ctx.t("privacy.details"), buttons=privacy_notice(ctx).buttons)]
        in_onboarding = ctx.conversation.flow == self.name
        if answer == "yes":
            ctx.user.consent_at = datetime.now(UTC)
            ctx.memory.pop("consent_declined", None)
            ctx.event("consent_given")
            await ctx.services.storage.audit(f"{ctx.user.channel}:{ctx.user.user_id}", "consent_given")
            if in_onboarding:
                ctx.set_state(State.PROVINCE)
                return [
                    Reply(
                        ctx.t("onboarding.ask_province"),
                        buttons=rows((ctx.button("button.skip", "onboarding:province:skip"),)),
                    )
                ]
            # What the user was doing when consent was asked for goes on.
            then = ctx.data.pop(AFTER_CONSENT, None)
            return [Reply(ctx.t("privacy.thanks")), *(await ctx.press(then) if then else await ctx.start("menu"))]
        # Declining, or withdrawing earlier consent: keep nothing personal.
        had_consent = ctx.user.consent_at is not None
        ctx.user.consent_at = None
        ctx.user.province_code = None
        ctx.user.commune_code = None
        for kept in KEPT_UNDER_CONSENT:
            ctx.memory.pop(kept, None)
        ctx.data.pop(AFTER_CONSENT, None)
        ctx.memory["consent_declined"] = True
        ctx.event("consent_withdrawn" if had_consent else "consent_declined")
        if had_consent:
            await ctx.services.storage.withdraw_consent(ctx.user.channel, ctx.user.user_id)
            await ctx.services.storage.audit(f"{ctx.user.channel}:{ctx.user.user_id}", "consent_withdrawn")
        return await self.finish(ctx, [Reply(ctx.t("privacy.declined"))])

    async def province(self, ctx: Context, text: str) -> list[Reply]:
        match = find_province(text)
        if match is None:
            # A commune or former district name: one province, or ask which.
            candidates = candidate_provinces(find_communes(text))
            if len(candidates) == 1:
                return await self.set_province(ctx, candidates[0], None)
            skip = (ctx.button("button.skip", "onboarding:province:skip"),)
            if candidates:
                choices = [
                    (Button(p.full_name if ctx.lang == "vi" else p.name_en, f"onboarding:province:set:{p.code}"),)
                    for p in candidates[:6]
                ]
                return [Reply(ctx.t("onboarding.province_which"), buttons=rows(*choices, skip))]
            return [Reply(ctx.t("onboarding.province_unknown"), buttons=rows(skip))]
        return await self.set_province(ctx, match.province, match.former_name)

    async def set_province(self, ctx: Context, province, former_name: str | None) -> list[Reply]:
        if ctx.user.consent_at is None:  # an old or forged button: nothing personal kept before consent
            reason = ctx.t("onboarding.province_needs_consent")
            return [privacy_notice(ctx, reason, then=f"onboarding:province:set:{province.code}")]
        ctx.user.province_code = province.code
        ctx.event("province_set", province=province.code)
        name = province.full_name if ctx.lang == "vi" else province.name_en
        key = "onboarding.province_former" if former_name else "onboarding.province_set"
        return await self.finish(ctx, [Reply(ctx.t(key, province=name, former=former_name or ""))])

    async def finish(self, ctx: Context, replies: list[Reply]) -> list[Reply]:
        ctx.memory["onboarded"] = True
        return [*replies, *await ctx.start("menu")]


def privacy_notice(ctx: Context, reason: str = "", then: str | None = None) -> Reply:
    """The short privacy notice, asking for consent, where the bot first needs
    to keep something personal (`reason` says what); the full notice is one
    press away ("Xem chi tiết"). `then`: the button action that needed the
    consent, carried out once it is given (kept in the flow's data, so it
    lapses when the user moves on)."""
    if then is not None:
        ctx.data[AFTER_CONSENT] = then
    return Reply(
        "\n\n".join(part for part in (reason, ctx.t("privacy.notice")) if part),
        buttons=rows(
            (ctx.button("privacy.agree", "onboarding:consent:yes"),),
            (
                ctx.button("privacy.more", "onboarding:consent:more"),
                ctx.button("privacy.decline", "onboarding:consent:no"),
            ),
        ),
    )
