"""What every flow is, and the context a flow works in.

A flow is a small state machine over the message model: `start` opens it,
`on_input` answers the user's next message while the flow is active, and
returns None when the message is not an answer to its current question (the
dispatcher then routes it by intent). Flows keep their state in
`Conversation.flow/state/data`, which storage persists after every turn, so a
restart never loses a user's place.

Button payloads are `<flow>:<action>[:<argument>]`; a pressed button always
reaches the flow named in its payload, even from an older message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from core.messages import Button, Inbound, InboundKind, Reply
from flows.texts import Texts

if TYPE_CHECKING:
    # Type-only: at run time these would load SQLAlchemy and httpx with every
    # flow module (`import flows.base`: 15 ms -> 360 ms measured).
    from backend.client import BackendClient, FakeBackendClient
    from domain.knowledge import KnowledgeBase
    from nlu.interpreter import Interpreter
    from storage.base import Conversation, Storage, User
    from storage.feedback import FeedbackStore


class OfficerDeskPort(Protocol):
    """What the handoff flow asks of the officers' desk (`bot.handoff_relay.OfficerDesk`,
    which flows may not import: bot sits above them)."""

    @property
    def enabled(self) -> bool: ...

    async def open_ticket(self, user: User, question: str, lang: str) -> list[Reply]: ...

    async def close_by_citizen(self, channel: str, user_id: str, lang: str) -> list[Reply]: ...


@dataclass
class Services:
    """Everything flows use besides the conversation itself."""

    storage: Storage
    texts: Texts
    nlu: Interpreter
    backend: BackendClient | FakeBackendClient
    knowledge: KnowledgeBase
    today: Callable[[], date] = date.today
    illustrations: Callable[[int, str], bytes] | None = None  # (step index, lang) -> PNG
    status_attempt_limit: int = 3  # wrong proofs per user
    status_code_attempt_limit: int = 5  # wrong proofs per request code, from any user
    status_lock_minutes: int = 15
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))  # the lock-outs' clock
    officer_desk: OfficerDeskPort | None = None  # when officers take questions live
    feedback: FeedbackStore | None = None  # questions the bot could not answer (None: not kept)


@dataclass(frozen=True)
class Turn:
    """One user message as flows see it."""

    kind: InboundKind
    text: str = ""
    payload: str = ""  # button or start payload
    inbound: Inbound | None = None

    @property
    def action(self) -> list[str]:
        """'fees:group:reduced' -> ['fees', 'group', 'reduced']."""
        return self.payload.split(":") if self.kind == InboundKind.BUTTON else []


def language_from_locale(locale: str | None) -> str | None:
    """A platform's language hint ("en", "en-US", "vi") as one of ours, else None."""
    primary = (locale or "").replace("_", "-").split("-")[0].lower()
    return primary if primary in ("vi", "en") else None


@dataclass
class Context:
    services: Services
    user: User
    conversation: Conversation
    flows: dict[str, Flow]
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # Set by forget-me: nothing about this user may be written back.
    forgotten: bool = False
    # The platform's id of the message being handled, for writes outside
    # the turn's own save that must happen once even if the turn is redone.
    update_id: str | None = None

    # The platform's language hint (Telegram's `language_code`, the browser's
    # language), used until the user chooses a language.
    platform_language: str | None = None

    # --- language and words ----------------------------------------------
    @property
    def lang(self) -> str:
        return self.user.language or self.platform_language or "vi"

    def t(self, key: str, **values: object) -> str:
        return self.services.texts.get(key, self.lang, **values)

    def button(self, key: str, payload: str, **values: object) -> Button:
        return Button(self.t(key, **values), payload)

    def menu_button(self) -> Button:
        return Button(self.t("button.menu"), "menu:show", opens_menu=True)

    def menu_row(self) -> tuple[Button, ...]:
        return (self.menu_button(),)

    # --- state ------------------------------------------------------------
    @property
    def state(self) -> str:
        return self.conversation.state

    @property
    def data(self) -> dict[str, Any]:
        """The active flow's own data (reset when another flow starts)."""
        return self.conversation.data.setdefault("flow_data", {})

    @property
    def memory(self) -> dict[str, Any]:
        """Data that outlives a flow (fallback misses, lookup lock-out)."""
        return self.conversation.data.setdefault("memory", {})

    def goto(self, flow: str, state: str, **data: Any) -> None:
        """Enter `flow` at `state` with fresh flow data."""
        self.conversation.flow = flow
        self.conversation.state = state
        self.conversation.data["flow_data"] = dict(data)

    def set_state(self, state: str) -> None:
        self.conversation.state = state

    async def start(self, flow: str, arg: str = "") -> list[Reply]:
        """Hand the conversation to another flow."""
        return await self.flows[flow].start(self, arg)

    async def press(self, payload: str) -> list[Reply]:
        """Run a button's action as if the user had pressed it: what they
        asked for before a question came in between (consent)."""
        flow = self.flows.get(payload.split(":", 1)[0])
        replies = await flow.on_input(self, Turn(InboundKind.BUTTON, payload=payload)) if flow else None
        return replies or await self.start("menu")

    def event(self, name: str, **props: Any) -> None:
        """An analytics event; never put codes, id or phone numbers here."""
        self.events.append((name, props))

    @property
    def today(self) -> date:
        return self.services.today()


class Flow:
    name: ClassVar[str]
    # States whose question takes a typed number (copies, dates): there "2"
    # is the answer itself, not the second offered button.
    numeric_states: ClassVar[frozenset[str]] = frozenset()
    # States waiting for an answer that a question typed meanwhile may
    # interrupt: after its answer the user is offered to go on from there
    # (`flows.intent`), and `ask_again` asks that state's question once more.
    resumable_states: ClassVar[frozenset[str]] = frozenset()

    def ask_again(self, ctx: Context) -> list[Reply]:
        """The question of the current state (one of `resumable_states`), asked again."""
        raise NotImplementedError

    async def start(self, ctx: Context, arg: str = "") -> list[Reply]:
        raise NotImplementedError

    async def on_input(self, ctx: Context, turn: Turn) -> list[Reply] | None:
        """Answer `turn` in the current state, or None if it is not an answer."""
        return None


def rows(*rows_of_buttons: tuple[Button, ...] | list[Button]) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(row) for row in rows_of_buttons if row)


def is_plain_number(text: str) -> bool:
    """ASCII digits only: a typed option or a payload's number. `isdigit()`
    alone also accepts "²" or "٣", which `int()` then refuses or reads."""
    return text.isascii() and text.isdigit()
