"""Status lookup: the request code (taken from the message or asked for),
proof of ownership, then the stage in plain words with the due date and what
happens next; an offer to be notified on change; limited failed attempts; and
the last known status, with its age, when the backend is down.

The proof (the full 12-digit id number, or its last 4 digits plus the date of
birth, in any usual date form and with any separator) goes to the backend and
nowhere else: it is never stored, logged, or put into conversation data or
events. It may come in the same message as the code. A wrong proof asks for
the proof again, keeping the code, until the lock-out.

Beside the stage: a request past its target date says so, with the receiving
unit; a rejection or a request for more information shows the backend's
reason; an unpaid request mentions a possible fee waiver (fees.yml).

```mermaid
stateDiagram-v2
    [*] --> ASK_CODE: check status (no code in the message)
    [*] --> ASK_PROOF: check status with a code
    ASK_CODE --> ASK_CODE: not a code
    ASK_CODE --> ASK_PROOF: code
    ASK_CODE --> SHOWN: code and proof in one message
    ASK_PROOF --> ASK_PROOF: malformed proof / wrong proof (code kept, attempts left) / another code
    ASK_CODE --> [*]: no digits: a question, answered, then "go on?" (flows/intent.py)
    ASK_PROOF --> [*]: no digits: a question, answered, then "go on?" (flows/intent.py)
    ASK_PROOF --> LOCKED: too many failed attempts
    ASK_PROOF --> ASK_PROOF: the code locked (too many wrong proofs for it, from anyone)
    ASK_PROOF --> SHOWN: found (COMPLETED: + QR code; expired or revoked: no QR)
    ASK_PROOF --> SHOWN: backend down (last known status and its age)
    SHOWN --> SHOWN: notify me on change
    SHOWN --> ASK_PROOF: another code
    SHOWN --> SHOWN: another code and proof
    SHOWN --> [*]
    LOCKED --> [*]: wait, or ask an officer
    LOCKED --> ASK_PROOF: lock-out over (the code kept)
```
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from datetime import date, datetime, timedelta
from enum import StrEnum

from backend.client import BackendError, BackendUnavailable, InvalidRequest, LookupLocked, RequestNotFound
from backend.domain import OwnershipProof
from core.codes import TYPED_REQUEST_CODE
from core.dates import find_dates
from core.messages import Link, Reply
from core.textkey import fold_diacritics
from domain.fees import PossibleWaiver, fee_rules, format_vnd
from flows.answers import fact_reply
from flows.base import Context, Flow, Turn, rows
from flows.certificate import certificate_replies
from flows.onboarding import privacy_notice
from nlu.entities import find_request_code
from nlu.idnumber import parse_id_number

log = logging.getLogger(__name__)


class State(StrEnum):
    ASK_CODE = "ask_code"
    ASK_PROOF = "ask_proof"
    SHOWN = "shown"
    LOCKED = "locked"


_DIGITS_ONLY = re.compile(r"[\s.\-]")
# 12 digits, maybe grouped by spaces, dots or dashes.
_ID_RUN = re.compile(r"(?<!\d)\d(?:[\s.\-]?\d){11}(?!\d)")
_LAST4 = re.compile(r"(?<!\d)\d{4}(?!\d)")
# "4567+14/03/1990", "4567-14-03-1990": the separator after the last 4 digits.
_LEADING_LAST4 = re.compile(r"^\s*(\d{4})\s*[-+,;:&]+\s*")
# Statuses in which the police are working on the request: only these can be late.
IN_PROGRESS = ("RECEIVED", "PROCESSING", "VERIFYING")
FINISHED = ("COMPLETED", "REJECTED", "CANCELLED")
# Statuses whose backend reason is shown, and the line that shows it.
REASON_LINES = {"REJECTED": "status.reject_reason", "NEEDS_INFO": "status.needs_info_reason"}
MAX_PROVEN_CODES = 5


def parse_proof(text: str, today: date) -> OwnershipProof | None:
    """An OwnershipProof from the 12-digit id number, or the last 4 digits and
    the date of birth in any usual form and order ("4567 + 14/03/1990",
    "ngày 14 tháng 3 năm 1990 và 4567"), else None."""
    compact = _DIGITS_ONLY.sub("", text)
    if compact.isdigit() and len(compact) == 12 and (proof := _id_proof(compact, today)):
        return proof  # else maybe "4567 14-03-1990"
    search = _LEADING_LAST4.sub(r"\1 ", fold_diacritics(text).lower())
    dates = find_dates(search, today)
    if not dates:
        run = _ID_RUN.search(search)
        return _id_proof(run[0], today) if run else None
    born, start, end = dates[0]
    rest = f"{search[:start]} {search[end:]}"
    if run := _ID_RUN.search(rest):
        return _id_proof(run[0], today)
    last4 = _LAST4.findall(rest)
    if len(last4) == 1 and born < today:
        return OwnershipProof(id_last4=last4[0], birth_date=born)
    return None


def _id_proof(text: str, today: date) -> OwnershipProof | None:
    digits = _DIGITS_ONLY.sub("", text)
    return OwnershipProof(id_number=digits) if parse_id_number(digits, today=today) else None


def split_code(text: str) -> tuple[str | None, str]:
    """The request code in `text` (canonical) and the text around it."""
    code = find_request_code(text)
    if code is None:
        return None, text
    return code, TYPED_REQUEST_CODE.sub(" ", fold_diacritics(text))


class StatusLookup(Flow):
    name = "status"
    resumable_states = frozenset({State.ASK_CODE, State.ASK_PROOF})

    def ask_again(self, ctx: Context) -> list[Reply]:
        if ctx.state == State.ASK_PROOF and ctx.data.get("code"):
            return self.ask_proof(ctx, ctx.data["code"])
        ctx.set_state(State.ASK_CODE)
        return [self.ask_code(ctx)]

    def ask_code(self, ctx: Context) -> Reply:
        return Reply(ctx.t("status.ask_code"), buttons=rows(ctx.menu_row()))

    async def start(self, ctx: Context, arg: str = "") -> list[Reply]:
        """`arg`: '<goal>|<code>|<message>', each optional: 'certificate' when
        the user wants the certificate, a request code found in their message,
        and the message itself (it may carry the proof as well)."""
        goal, _, rest = arg.partition("|")
        code, _, message = rest.partition("|")
        goal = goal or "status"
        ctx.goto(self.name, State.ASK_CODE, goal=goal)
        ctx.event("status_started", goal=goal)
        if locked := self.locked_reply(ctx):
            return locked
        if code:
            return await self.code_given(ctx, code, split_code(message)[1])
        return [self.ask_code(ctx)]

    async def on_input(self, ctx: Context, turn: Turn) -> list[Reply] | None:
        action = turn.action[1:]
        if action[:1] == ["notify"] and len(action) == 2:
            return await self.subscribe(ctx, action[1])
        if action == ["retry"]:
            return await self.start(ctx, f"{ctx.data.get('goal', '')}|{ctx.data.get('code', '')}")
        if action or ctx.conversation.flow != self.name or not turn.text:
            return None
        code, rest = split_code(turn.text)
        if ctx.state == State.LOCKED:
            if locked := self.locked_reply(ctx):
                return locked if any(char.isdigit() for char in turn.text) else None
            ctx.set_state(State.ASK_PROOF if ctx.data.get("code") else State.ASK_CODE)
        if ctx.state == State.ASK_CODE:
            if code is None and not any(char.isdigit() for char in turn.text):
                return None  # a question, not a code: routed by intent
            if code is None:
                return [Reply(ctx.t("status.code_invalid"), buttons=rows(ctx.menu_row()))]
            return await self.code_given(ctx, code, rest)
        if ctx.state == State.ASK_PROOF:
            if locked := self.locked_reply(ctx):
                return locked
            if code is not None:
                return await self.code_given(ctx, code, rest)
            if not any(char.isdigit() for char in turn.text):
                return None  # a proof has digits: this is a question, routed by intent
            proof = parse_proof(turn.text, ctx.today)
            if proof is None:
                return [Reply(ctx.t("status.proof_invalid"), buttons=rows(ctx.menu_row()))]
            return await self.lookup(ctx, ctx.data["code"], proof)
        if ctx.state == State.SHOWN and code is not None:
            return await self.code_given(ctx, code, rest)
        return None

    async def code_given(self, ctx: Context, code: str, rest: str) -> list[Reply]:
        """A code, and maybe the proof in the same message."""
        proof = parse_proof(rest, ctx.today) if any(char.isdigit() for char in rest) else None
        if proof is None:
            return self.ask_proof(ctx, code)
        ctx.data["code"] = code
        return await self.lookup(ctx, code, proof)

    def ask_proof(self, ctx: Context, code: str) -> list[Reply]:
        ctx.data["code"] = code
        ctx.set_state(State.ASK_PROOF)
        return [Reply(ctx.t("status.ask_proof", code=code), buttons=rows(ctx.menu_row()))]

    # --- failed attempts ----------------------------------------------------
    def locked_reply(self, ctx: Context) -> list[Reply] | None:
        """This user's lock-out (too many wrong proofs of theirs), if on."""
        until = ctx.memory.get("lookup_locked_until")
        if not until:
            return None
        until_at = datetime.fromisoformat(until)
        if ctx.services.now() >= until_at:
            ctx.memory.pop("lookup_locked_until", None)
            ctx.memory["lookup_failures"] = 0
            return None
        ctx.set_state(State.LOCKED)
        return self.wait_reply(ctx, "status.locked", until_at)

    def code_locked_reply(self, ctx: Context, until: datetime) -> list[Reply]:
        """The code is locked, whoever tried it: the code is kept, so its
        holder can send the proof again once the lock-out is over."""
        ctx.event("status_lookup", result="code_locked")
        ctx.set_state(State.ASK_PROOF)
        return self.wait_reply(ctx, "status.code_locked", until, code=ctx.data.get("code", ""))

    def wait_reply(self, ctx: Context, key: str, until: datetime, **values: object) -> list[Reply]:
        minutes = max(1, math.ceil((until - ctx.services.now()).total_seconds() / 60))
        return [
            Reply(
                ctx.t(key, minutes=minutes, **values),
                buttons=rows((ctx.button("menu.handoff", "menu:open:handoff"),), ctx.menu_row()),
            )
        ]

    async def failed_attempt(self, ctx: Context, code: str) -> list[Reply]:
        """A wrong proof: counted for this user and for the code (any user's
        tries at one code add up, in storage)."""
        services = ctx.services
        now = services.now()
        window = timedelta(minutes=services.status_lock_minutes)
        code_locked = await services.storage.lookup_failed(code, services.status_code_attempt_limit, window, now)
        failures = int(ctx.memory.get("lookup_failures", 0)) + 1
        ctx.memory["lookup_failures"] = failures
        ctx.event("status_lookup", result="not_found")
        limit = services.status_attempt_limit
        if failures >= limit:
            ctx.memory["lookup_locked_until"] = (now + window).isoformat()
            return self.locked_reply(ctx) or []
        if code_locked is not None:
            return self.code_locked_reply(ctx, code_locked)
        ctx.set_state(State.ASK_PROOF)  # the code is kept: most often the proof was mistyped
        return [Reply(ctx.t("status.not_found", code=code, left=limit - failures), buttons=rows(ctx.menu_row()))]

    # --- the lookup -----------------------------------------------------------
    async def lookup(self, ctx: Context, code: str, proof) -> list[Reply]:
        if locked := self.locked_reply(ctx):
            return locked
        ctx.data["code"] = code
        if (until := await ctx.services.storage.lookup_locked_until(code, ctx.services.now())) is not None:
            return self.code_locked_reply(ctx, until)
        try:
            view = await ctx.services.backend.lookup(code, proof)
        except RequestNotFound:
            return await self.failed_attempt(ctx, code)
        except LookupLocked as error:
            return self.code_locked_reply(ctx, ctx.services.now() + timedelta(seconds=error.retry_after))
        except InvalidRequest:
            ctx.set_state(State.ASK_PROOF)
            return [Reply(ctx.t("status.proof_invalid"), buttons=rows(ctx.menu_row()))]
        except BackendUnavailable as error:
            ctx.event("status_lookup", result="backend_down")
            last_known = getattr(error, "last_known", None)
            ctx.set_state(State.SHOWN)
            retry = rows((ctx.button("status.retry", "status:retry"),), ctx.menu_row())
            if last_known is None:
                return [Reply(ctx.t("status.backend_down"), buttons=retry)]
            replies = self.status_replies(ctx, last_known)
            return [Reply(ctx.t("status.stale", age=format_age(ctx, last_known.age_seconds)), buttons=retry), *replies]
        ctx.memory["lookup_failures"] = 0
        ctx.event("status_lookup", result="found", status=str(view.status))
        if str(view.status) == "AWAITING_PAYMENT" and not (view.payment and view.payment.pay_url):
            view = await self.with_payment_link(ctx, view, proof)
        ctx.set_state(State.SHOWN)
        ctx.data.pop("code", None)
        return self.status_replies(ctx, view)

    async def with_payment_link(self, ctx: Context, view, proof):
        """An unpaid request: open a payment so the user gets a link to pay."""
        try:
            payment = await ctx.services.backend.create_payment(view.code, proof)
        except BackendError:
            return view
        return dataclasses.replace(view, payment=payment)

    def status_replies(self, ctx: Context, view) -> list[Reply]:
        status = str(view.status)
        label = view.label_vi if ctx.lang == "vi" else view.label_en
        lines = [ctx.t("status.header", code=view.code), ctx.t("status.stage", label=label)]
        explanation = ctx.services.knowledge.status_explanation(status, ctx.lang, ctx.today)
        overdue = status in IN_PROGRESS and view.due_date is not None and view.due_date < ctx.today
        # Past the target date, "just wait" is wrong: the overdue note says what to do instead.
        lines.extend(part for part in (explanation.plain, None if overdue else explanation.next_step) if part)
        if view.due_date and status not in FINISHED and not overdue:
            key = "status.due_extended" if getattr(view, "extended", False) else "status.due"
            lines.append(ctx.t(key, date=view.due_date.strftime("%d/%m/%Y")))
        if reason := backend_reason(ctx, view):
            lines.append(ctx.t(REASON_LINES[status], reason=reason))
        if getattr(view, "agency_name", None):
            lines.append(ctx.t("status.agency", agency=view.agency_name))
        buttons = []
        if status not in FINISHED:
            remember_proven(ctx, view.code)
            buttons.append((ctx.button("status.notify", f"status:notify:{view.code}"),))
        link = None
        payment = getattr(view, "payment", None)
        if status == "AWAITING_PAYMENT" and payment is not None and getattr(payment, "pay_url", None):
            lines.append(ctx.t("status.pay_amount", amount=format_vnd(payment.amount_vnd)))
            link = Link(ctx.t("status.pay_link"), payment.pay_url)
        replies = [Reply("\n".join(lines), buttons=rows(*buttons, ctx.menu_row()), link=link)]
        if overdue:
            replies.append(self.overdue_reply(ctx, view))
        if status == "AWAITING_PAYMENT" and (waiver := possible_waiver(ctx.today)) is not None:
            text = f"{waiver.text[ctx.lang]}\n{ctx.t('status.waiver_basis', basis=waiver.basis)}"
            replies.append(fact_reply(ctx, text, list(waiver.sources), waiver.valid_from))
        if status == "COMPLETED" and getattr(view, "certificate", None) is not None:
            ctx.event("certificate_sent")
            replies.extend(certificate_replies(ctx, view))
        elif ctx.data.get("goal") == "certificate":
            replies.append(Reply(ctx.t("certificate.not_ready")))
        return replies

    def overdue_reply(self, ctx: Context, view) -> Reply:
        """Past the target date: say so, whom to ask, and what the (draft) rules promise."""
        knowledge = ctx.services.knowledge
        note = knowledge.status_note("OVERDUE", ctx.lang, ctx.today, date=view.due_date.strftime("%d/%m/%Y"))
        unit = knowledge.contacts(view.province_code, ctx.lang, ctx.today).receiving_unit
        return fact_reply(ctx, f"{note.text}\n{unit}", note.sources, note.as_of)

    async def subscribe(self, ctx: Context, code: str) -> list[Reply] | None:
        """Notices for `code`'s status changes; None (not handled, as from
        `on_input`) when the button's code is not a request code."""
        if find_request_code(code) != code:
            return None
        if code not in ctx.memory.get("proven_codes", []) and ctx.data.get("proven") != code:
            # A forged or replayed button: notices about a request go only to
            # someone who proved they own it in this conversation.
            ctx.event("status_subscribe_refused")
            return await self.start(ctx, f"status|{code}")
        if ctx.user.consent_at is None:
            return [privacy_notice(ctx, ctx.t("status.notify_needs_consent"), then=f"status:notify:{code}")]
        await ctx.services.storage.subscribe(ctx.user.channel, ctx.user.user_id, code)
        ctx.event("status_subscribed")
        return [Reply(ctx.t("status.notify_on", code=code), buttons=rows(ctx.menu_row()))]


def remember_proven(ctx: Context, code: str) -> None:
    """Note that this user proved ownership of `code` (the only codes they
    may subscribe to): with consent the few most recent are kept, without it
    only the one on screen, in the flow's data."""
    if ctx.user.consent_at is None:
        ctx.data["proven"] = code
        return
    proven = [c for c in ctx.memory.get("proven_codes", []) if c != code]
    ctx.memory["proven_codes"] = [*proven, code][-MAX_PROVEN_CODES:]


def backend_reason(ctx: Context, view) -> str:
    """The backend's reason for a rejection or a request for more information
    (its latest history entry with that status), in the user's language."""
    status = str(view.status)
    if status not in REASON_LINES:
        return ""
    entries = [entry for entry in getattr(view, "history", None) or () if str(entry.status) == status]
    if not entries:
        return ""
    return entries[-1].reason_vi if ctx.lang == "vi" else entries[-1].reason_en


def possible_waiver(on: date) -> PossibleWaiver | None:
    """A fee waiver that may apply on `on` (fees.yml), whatever the filing channel."""
    return next((w for w in fee_rules().possible_waivers if any(w.applies(on, c) for c in w.channels)), None)


def format_age(ctx: Context, seconds: float | None) -> str:
    seconds = int(seconds or 0)
    if seconds < 3600:
        return ctx.t("time.minutes", n=max(1, seconds // 60))
    if seconds < 86400:
        return ctx.t("time.hours", n=seconds // 3600)
    return ctx.t("time.days", n=seconds // 86400)
