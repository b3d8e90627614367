"""The channel-neutral dialogue core: one `Inbound` in, a list of `Reply` out.

For each message the dispatcher
1. takes the user's lock, so one user's messages are handled in order;
2. in one read, drops a platform update it has already handled (the
   duplicate guard) and loads the user and their conversation;
3. turns a typed option ("2", or the option's words) back into the offered
   button's payload, for channels without buttons;
4. stops anything that looks like a password/passcode/OTP (safety);
5. runs a global command (start, help, menu, cancel, language, privacy,
   forget-me) in any state;
6. gives the message to the flow its button names, or to the active flow;
   if that flow says it is not an answer, routes the text by intent (NLU);
7. saves, in one transaction, the update id, the conversation, the user
   (when new or changed, or `last_seen_at` when stale), the analytics events
   (names and small labels only: never message text, codes, id or phone
   numbers) and the replies, in the channel's outbound queue when the
   channel waits for them there (`bot/outbound/turn_replies.py`).

Message text is never logged here.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.outbound import turn_replies
from core.messages import Inbound, InboundKind, Reply
from core.textkey import text_key
from flows import menu
from flows.base import Context, Flow, Services, Turn, is_plain_number, language_from_locale
from flows.intent import IntentRouter
from flows.registry import all_flows
from flows.safety import looks_like_secret, mentions_app_install
from nlu.language import guess_language
from storage.base import Conversation, ConversationConflict, DuplicateUpdate, TurnStart, User

log = logging.getLogger(__name__)

CONVERSATION_CACHE = 10_000  # recent users whose conversation stays in memory
# How stale a user's `last_seen_at` may get before a message refreshes it:
# the Zalo OA reply windows are counted in hours, so a minute is precise
# enough, and most messages then write no user row at all.
LAST_SEEN_PRECISION = timedelta(minutes=1)
MAX_TEXT = 1000  # longer messages get a polite request to shorten them
COMMANDS = ("start", "help", "menu", "cancel", "language", "privacy", "forget")
_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f\u200b-\u200f\u2028-\u202e\ufeff]")


def _touch(user: User, chat_id: str) -> bool:
    """Note that the user wrote now from `chat_id`; True if the stored row
    needs refreshing (another chat, or `last_seen_at` older than the precision)."""
    now = datetime.now(UTC)
    if user.chat_id == chat_id and user.last_seen_at and now - user.last_seen_at < LAST_SEEN_PRECISION:
        return False
    user.chat_id, user.last_seen_at = chat_id, now
    return True


def settle_startup_memory() -> None:
    """Exempt what start-up loaded (NLU model, knowledge, texts, modules:
    about 180,000 objects) from the cyclic garbage collector. Otherwise
    each full collection walks them all: a 100-250 ms pause in the middle
    of whichever message triggers it, the core's worst latencies. Call
    once, when the runtime is ready to take messages."""
    gc.collect()
    gc.freeze()


# Handlers that may claim a message before the dialogue sees it (staff
# commands): given the message and the stored user as the turn read it (None
# for a new user), they return replies, or None to let the dialogue handle it.
Interceptor = Callable[[Inbound, User | None], Awaitable[list[Reply] | None]]


class Dispatcher:
    def __init__(
        self,
        services: Services,
        flows: dict[str, Flow] | None = None,
        interceptors: Sequence[Interceptor] = (),
    ) -> None:
        self.services = services
        self.flows = flows or all_flows()
        self.interceptors = list(interceptors)
        # The last saved conversation of recent users, to skip a read per
        # message. Safe with several workers: a stale copy fails the
        # optimistic version check on save, and the message is redone fresh.
        self._conversations: OrderedDict[tuple[str, str], Conversation] = OrderedDict()
        self.router: IntentRouter = self.flows["intent"]  # type: ignore[assignment]
        self._command_words = self._load_command_words()

    def _load_command_words(self) -> dict[str, str]:
        words: dict[str, str] = {}
        for command in COMMANDS:
            for lang in ("vi", "en"):
                for word in self.services.texts.get(f"command.{command}", lang).split("|"):
                    words[text_key(word)] = command
        return words

    # --- entry point --------------------------------------------------------
    async def handle(self, inbound: Inbound) -> list[Reply]:
        """Handle one message; the Handler every channel calls."""
        storage = self.services.storage
        started = time.perf_counter()
        key = (inbound.channel, inbound.user_id)
        async with storage.user_lock(*key):
            # Checked holding the user's lock: an earlier copy of this update
            # has then finished saving, and its id is on record.
            start = await storage.begin_turn(*key, inbound.update_id, conversation=key not in self._conversations)
            if start.duplicate:
                return self._duplicate(inbound)
            for interceptor in self.interceptors:
                claimed = await interceptor(inbound, start.user)
                if claimed is not None:
                    if inbound.update_id:
                        await self._save_turn(inbound, claimed)
                    return claimed
            for attempt in range(3):
                try:
                    replies = await self._handle_locked(inbound, start)
                    break
                except ConversationConflict:
                    # Another worker saved in between: handle it again on fresh state.
                    self._conversations.pop(key, None)
                    if attempt == 2:
                        raise
                    start = await storage.begin_turn(*key, None)
                except DuplicateUpdate:
                    return self._duplicate(inbound)
        log.debug("handled %s message in %.1f ms", inbound.channel, (time.perf_counter() - started) * 1000)
        return replies

    @staticmethod
    def _duplicate(inbound: Inbound) -> list[Reply]:
        """An update handled before: no new answer. Its channel may still
        owe the old one (`TurnReplies.redelivered`)."""
        log.info("duplicate update ignored on %s", inbound.channel)
        written = turn_replies.current()
        if written is not None:
            written.redelivered = inbound.update_id
        return []

    async def _handle_locked(self, inbound: Inbound, start: TurnStart) -> list[Reply]:
        key = (inbound.channel, inbound.user_id)
        # A new user's row is written with the rest of their first turn.
        user = start.user or User(inbound.channel, inbound.user_id, inbound.chat_id)
        touched = _touch(user, inbound.chat_id)
        user_before = dataclasses.replace(user) if start.user is not None else None
        if inbound.reachable_again:
            user.unreachable = False  # saved with the turn
        cached = self._conversations.get(key)
        conversation = copy.deepcopy(cached) if cached else start.conversation or Conversation()
        ctx = Context(
            self.services,
            user,
            conversation,
            self.flows,
            update_id=inbound.update_id,
            platform_language=language_from_locale(inbound.locale),
        )
        turn = self._turn(ctx, inbound)
        try:
            replies = await self._route(ctx, turn)
        except Exception:
            # A bug must not leave the user stranded: apologise, go to the menu.
            log.exception("flow %s/%s failed", conversation.flow, conversation.state)
            ctx.events.append(("error", {"flow": conversation.flow, "state": conversation.state}))
            replies = [Reply(ctx.t("error.generic")), *await ctx.start("menu")]
        if ctx.forgotten:
            self._conversations.pop(key, None)
            await self._save_turn(inbound, replies)
            return replies
        self._remember_offered(ctx, replies)
        # One transaction for the whole message; on a conflict nothing of it is saved.
        await self._save_turn(
            inbound,
            replies,
            user=user if user != user_before else None,
            touch_chat_id=inbound.chat_id if touched else None,
            conversation=conversation,
            events=ctx.events,
        )
        self._conversations[key] = copy.deepcopy(conversation)
        self._conversations.move_to_end(key)
        if len(self._conversations) > CONVERSATION_CACHE:
            self._conversations.popitem(last=False)
        return replies

    async def _save_turn(self, inbound: Inbound, replies: list[Reply], **changes: Any) -> None:
        """`Storage.save_turn` of the message, with its replies when the
        channel's outbound queue waits for them (`bot/outbound/turn_replies.py`):
        one transaction, so no update is on record with its answer unwritten."""
        storage = self.services.storage
        written = turn_replies.current()
        to_send = (
            written.to_write(storage, inbound.channel, inbound.chat_id, inbound.update_id, replies) if written else None
        )
        queued = await storage.save_turn(
            inbound.channel, inbound.user_id, update_id=inbound.update_id, replies=to_send, **changes
        )
        if written is not None:
            written.written(queued)

    # --- input normalisation --------------------------------------------------
    def _turn(self, ctx: Context, inbound: Inbound) -> Turn:
        text = _CONTROL.sub("", inbound.text or "").strip()
        if inbound.kind in (InboundKind.BUTTON, InboundKind.START):
            return Turn(inbound.kind, text, (inbound.payload or "")[:200], inbound)
        payload = self._offered_payload(ctx, text)
        if payload:
            return Turn(InboundKind.BUTTON, text, payload, inbound)
        return Turn(InboundKind.TEXT, text, "", inbound)

    def _offered_payload(self, ctx: Context, text: str) -> str | None:
        """The payload of the offered button the user typed, by number or words."""
        offered: list[list[str]] = ctx.conversation.data.get("offered") or []
        if not offered or not text or len(text) > 80:
            return None
        typed = text_key(text)
        for title, payload in offered:
            if text_key(title) == typed:
                return payload
        flow = self.flows.get(ctx.conversation.flow)
        numeric_question = flow is not None and ctx.state in flow.numeric_states
        if is_plain_number(typed) and not numeric_question and 1 <= int(typed) <= len(offered):
            return offered[int(typed) - 1][1]
        return None

    def _remember_offered(self, ctx: Context, replies: list[Reply]) -> None:
        with_buttons = [reply for reply in replies if reply.buttons]
        if with_buttons:
            buttons = with_buttons[-1].all_buttons
            ctx.conversation.data["offered"] = [[b.title, b.payload] for b in buttons]
        else:
            ctx.conversation.data.pop("offered", None)

    # --- routing ------------------------------------------------------------
    async def _route(self, ctx: Context, turn: Turn) -> list[Reply]:
        if turn.kind == InboundKind.TEXT:
            if len(turn.text) > MAX_TEXT:
                return [Reply(ctx.t("input.too_long", max=MAX_TEXT), buttons=(ctx.menu_row(),))]
            if looks_like_secret(turn.text):
                ctx.event("secret_blocked")
                warning = self.services.knowledge.secret_warning(ctx.lang, ctx.today)
                return [Reply(warning, buttons=(ctx.menu_row(),))]
        command = self._command(turn)
        if command:
            return await self._command_replies(ctx, command, turn)
        if self._is_new(ctx) and turn.kind == InboundKind.TEXT and turn.text:
            return await self._first_question(ctx, turn)
        if self._is_new(ctx) and turn.kind != InboundKind.BUTTON:
            return await ctx.start("onboarding", turn.payload if turn.kind == InboundKind.START else "")
        if turn.kind == InboundKind.BUTTON:
            return await self._button(ctx, turn)
        if turn.kind == InboundKind.START:
            return await self._command_replies(ctx, "start", turn)
        if not turn.text:
            return [Reply(ctx.t("input.empty"), buttons=(ctx.menu_row(),))]
        active = self.flows.get(ctx.conversation.flow)
        if active is not None:
            replies = await active.on_input(ctx, turn)
            if replies is not None:
                return replies
        return await self._by_intent(ctx, turn)

    async def _first_question(self, ctx: Context, turn: Turn) -> list[Reply]:
        """A new user who opens with a question gets its answer first, in the
        language they wrote in; a greeting gets the welcome. Nothing personal
        is kept yet: the flows that would keep something ask for consent then."""
        parse: dict[str, Any] = await self.services.nlu.parse(turn.text)
        if ((parse.get("intent") or {}).get("name")) == "greet":
            return await ctx.start("onboarding")
        ctx.user.language = guess_language(turn.text, default=ctx.lang)  # the platform's hint breaks a tie
        ctx.event("first_question")  # /start later still offers the language and the privacy notice
        return await self._by_intent(ctx, turn, parse)

    def _is_new(self, ctx: Context) -> bool:
        return (
            ctx.conversation.version == 0 and not ctx.memory.get("onboarded") and ctx.conversation.flow != "onboarding"
        )

    def _command(self, turn: Turn) -> str | None:
        if turn.kind == InboundKind.BUTTON and turn.payload.startswith("cmd:"):
            name = turn.payload[4:]
            return name if name in COMMANDS else None
        if turn.kind == InboundKind.START:
            return None
        return self._command_words.get(text_key(turn.text)) if turn.text and len(turn.text) <= 40 else None

    async def _command_replies(self, ctx: Context, command: str, turn: Turn) -> list[Reply]:
        ctx.event("command", command=command)
        match command:
            case "start":
                if self._is_new(ctx) or not ctx.memory.get("onboarded"):
                    return await ctx.start("onboarding", turn.payload if turn.kind == InboundKind.START else "")
                return [Reply(ctx.t("smalltalk.welcome_back")), *await ctx.start("menu")]
            case "help":
                return await self.flows["menu"].help(ctx)  # type: ignore[attr-defined]
            case "menu":
                return await ctx.start("menu")
            case "cancel":
                return [Reply(ctx.t("menu.cancelled")), *await ctx.start("menu")]
            case "language":
                return menu.language_choice(ctx)
            case "privacy":
                return menu.privacy(ctx)
            case "forget":
                return menu.forget_confirmation(ctx)
        return await ctx.start("menu")

    async def _button(self, ctx: Context, turn: Turn) -> list[Reply]:
        flow = self.flows.get(turn.payload.split(":", 1)[0])
        if flow is not None:
            replies = await flow.on_input(ctx, turn)
            if replies is not None:
                return replies
        ctx.event("stale_button")
        return [Reply(ctx.t("input.stale_button")), *await ctx.start("menu")]

    async def _by_intent(self, ctx: Context, turn: Turn, parse: dict[str, Any] | None = None) -> list[Reply]:
        if parse is None:
            parse = await self.services.nlu.parse(turn.text)
        intent = (parse.get("intent") or {}).get("name") or "nlu_fallback"
        confidence = float((parse.get("intent") or {}).get("confidence") or 0.0)
        ctx.event("intent", intent=intent, confidence=round(confidence, 2))
        replies = await self.router.route(ctx, intent, parse)
        if mentions_app_install(turn.text):
            advice = self.services.knowledge.safety(ctx.lang, ctx.today)
            replies.insert(0, Reply(advice.text))
        return replies
