"""Commands for admins and staff in chat, checked before the dispatcher's
own handling.

`StaffCommands.handle(inbound)` answers a staff command sent by someone who
holds its role, and returns None for everything else, including a staff
command from anyone without the role: the message then goes through the
ordinary dialogue and gets its ordinary "unknown command" answer, so
citizens never learn these commands exist. Every command used is audited
(who, which command); the changes they make audit themselves too.

    /broadcast [segment] [at=TIME]   compose: the lines below are the text; a   (admin)
      <text...>                      last line "link: Title | https://..." adds
      [link: Title | https://...]    a link button; a preview with Send/Cancel
                                     buttons comes back before anything goes
    /broadcasts                      the latest broadcasts and their progress   (admin)
    /broadcast_report <n>            one broadcast's report                     (admin)
    /broadcast_cancel <n>            stop a scheduled or sending broadcast      (admin)
    /roles                           who holds which role                       (admin)
    /grant <role> <channel:user id>  give a role                                (admin)
    /revoke <role> <channel:user id> take a role away                           (admin)
    /outreach                        citizens reached per poster, and how far  (outreach staff)
    /stats [days]                    usage statistics, ratings, unanswered      (admin)
                                     questions, with a chart
    /stats unanswered [days]         the unanswered questions as nlu.yml lines  (admin)
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from bot.broadcast.when import VIETNAM, WhenError, parse_when
from bot.broadcast.worker import broadcast_replies
from bot.outreach.stats import outreach_stats
from bot.roles import Role, RoleError, Roles
from bot.usage_stats import stats_chart, stats_text, usage_stats
from core.messages import Button, Image, Inbound, InboundKind, Reply
from storage.base import User, user_actor
from storage.broadcasts.model import Broadcast, BroadcastStatus, DeliveryState, Report, Segment, SegmentError
from storage.broadcasts.store import BroadcastStore
from storage.feedback import FeedbackStore, nlu_yaml

Command = Callable[["StaffCommands", str, list[str]], Awaitable[str | list[Reply]]]
BUTTON_PREFIX = "staff:broadcast:"
COMPOSE_HELP = (
    "Soạn thông báo / Compose:\n"
    "/broadcast province=79 language=vi at=+2h\n"
    "Nội dung thông báo...\n"
    "link: Xem chi tiết | https://...\n"
    "(Không ghi nhóm: gửi mọi người. No segment: everyone.)"
)


def report_line(report: Report) -> str:
    """`1 980/2 000 · đã gửi 1 950 · không tới được 12 · lỗi 3 · bỏ qua 15`."""
    parts = [
        f"{report.finished}/{report.total}",
        f"đã gửi/sent {report.count(DeliveryState.SENT)}",
        f"không tới được/unreachable {report.count(DeliveryState.UNREACHABLE)}",
        f"lỗi/failed {report.count(DeliveryState.FAILED)}",
        f"bỏ qua/skipped {report.count(DeliveryState.SKIPPED)}",
    ]
    return " · ".join(parts)


def broadcast_title(broadcast: Broadcast) -> str:
    first_line = broadcast.text.strip().splitlines()[0]
    short = first_line if len(first_line) <= 40 else first_line[:39] + "…"
    return f"#{broadcast.id} [{broadcast.status}] {broadcast.segment.describe()} — {short}"


class StaffCommands:
    def __init__(self, roles: Roles, broadcasts: BroadcastStore, feedback: FeedbackStore | None = None) -> None:
        self.roles = roles
        self.broadcasts = broadcasts
        self.storage = broadcasts.storage
        self.feedback = feedback or FeedbackStore(self.storage)

    async def handle(self, inbound: Inbound, user: User | None = None) -> list[Reply] | None:
        """A dispatcher interceptor; roles come from `Roles`, not from `user`."""
        if inbound.kind == InboundKind.BUTTON and inbound.payload.startswith(BUTTON_PREFIX):
            return await self._button(inbound)
        if inbound.kind != InboundKind.TEXT or not inbound.text.startswith("/"):
            return None
        first_line, _, body = inbound.text.partition("\n")
        name, *args = first_line[1:].split() or [""]
        name = name.split("@", 1)[0].lower()  # Telegram groups: /broadcasts@troly_bot
        if name == "broadcast":
            if not await self.roles.has(inbound.channel, inbound.user_id, Role.ADMIN):
                return None
            actor = user_actor(inbound.channel, inbound.user_id)
            await self.storage.audit(actor, "command.broadcast", {"args": args[:3]})
            return await self._compose(actor, args, body)
        entry = COMMANDS.get(name)
        if entry is None:
            return None
        role, command = entry
        if not await self.roles.has(inbound.channel, inbound.user_id, role):
            return None
        actor = user_actor(inbound.channel, inbound.user_id)
        await self.storage.audit(actor, f"command.{name}", {"args": args[:3]})
        answer = await command(self, actor, args)
        return [Reply(text=answer)] if isinstance(answer, str) else answer

    # --- composing a broadcast in chat ---------------------------------------
    async def _compose(self, actor: str, args: list[str], body: str) -> list[Reply]:
        """A draft from `/broadcast` and its preview: exactly what citizens
        will see, then who and when, with Send and Cancel buttons."""
        lines = body.strip().splitlines()
        link = None
        if lines and lines[-1].lower().startswith("link:"):
            title, _, url = lines.pop()[5:].partition("|")
            link = (title.strip(), url.strip())
            if not link[0] or not link[1].startswith("https://"):
                return [Reply(text=COMPOSE_HELP)]
        text = "\n".join(lines).strip()
        if not text:
            return [Reply(text=COMPOSE_HELP)]
        at_terms = [arg for arg in args if arg.startswith("at=")]
        try:
            at = parse_when(at_terms[-1][3:]) if at_terms else None
            segment = Segment.parse([arg for arg in args if not arg.startswith("at=")])
            draft = await self.broadcasts.create(
                created_by=actor, text=text, segment=segment, link=link, at=at, draft=True
            )
        except (WhenError, SegmentError) as error:
            return [Reply(text=f"{error}\n\n{COMPOSE_HELP}")]
        count = await self.broadcasts.recipients(segment)
        when = "ngay khi bấm Gửi / as soon as you press Send"
        if at is not None:
            when = at.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M (giờ Việt Nam / Vietnam time)")
        summary = (
            f"Xem trước thông báo #{draft.id}. Gửi tới {count} người ({segment.describe()}), {when}.\n"
            f"Preview of broadcast #{draft.id}: {count} recipients."
        )
        buttons = ((
            Button("Gửi / Send", f"{BUTTON_PREFIX}send:{draft.id}"),
            Button("Huỷ / Cancel", f"{BUTTON_PREFIX}drop:{draft.id}"),
        ),)  # fmt: skip
        return [*broadcast_replies(draft), Reply(text=summary, buttons=buttons)]

    async def _button(self, inbound: Inbound) -> list[Reply] | None:
        if not await self.roles.has(inbound.channel, inbound.user_id, Role.ADMIN):
            return None
        action, _, number = inbound.payload.removeprefix(BUTTON_PREFIX).partition(":")
        if action not in ("send", "drop") or not number.isdigit():
            return None
        actor = user_actor(inbound.channel, inbound.user_id)
        broadcast_id = int(number)
        if action == "drop":
            dropped = await self.broadcasts.cancel(broadcast_id, actor)
            text = f"Đã huỷ bản nháp #{broadcast_id}. / Draft #{broadcast_id} discarded."
            return [Reply(text=text if dropped else f"Thông báo #{broadcast_id} đã kết thúc. / Already ended.")]
        sent = await self.broadcasts.confirm(broadcast_id, actor)
        if sent is None:
            text = f"Thông báo #{broadcast_id} đã được gửi hoặc huỷ trước đó. / Already sent or cancelled."
            return [Reply(text=text)]
        if sent.status == BroadcastStatus.SCHEDULED:
            return [Reply(text=f"Đã lên lịch thông báo #{sent.id}. / Broadcast #{sent.id} scheduled.")]
        return [Reply(text=(
            f"Đang gửi thông báo #{sent.id} tới {sent.recipients} người. Xem tiến độ: /broadcast_report {sent.id}\n"
            f"Sending broadcast #{sent.id} to {sent.recipients} people."
        ))]  # fmt: skip

    async def _broadcasts(self, actor: str, args: list[str]) -> str:
        lines = []
        for broadcast in await self.broadcasts.newest(limit=5):
            report = await self.broadcasts.report(broadcast.id)
            assert report is not None, "a listed broadcast has a report"
            lines.append(f"{broadcast_title(broadcast)}\n  {report_line(report)}")
        return "\n".join(lines) or "Chưa có thông báo nào. / No broadcasts yet."

    async def _report(self, actor: str, args: list[str]) -> str:
        broadcast = await self._broadcast_arg(args)
        if not isinstance(broadcast, Broadcast):
            return broadcast or "Cách dùng: /broadcast_report <số>. / Usage: /broadcast_report <number>."
        report = await self.broadcasts.report(broadcast.id)
        assert report is not None, "a broadcast just read has a report"
        return f"{broadcast_title(broadcast)}\n{report_line(report)}"

    async def _cancel(self, actor: str, args: list[str]) -> str:
        broadcast = await self._broadcast_arg(args)
        if not isinstance(broadcast, Broadcast):
            return broadcast or "Cách dùng: /broadcast_cancel <số>. / Usage: /broadcast_cancel <number>."
        if await self.broadcasts.cancel(broadcast.id, actor) is None:
            return f"Thông báo #{broadcast.id} đã kết thúc, không huỷ được. / Broadcast #{broadcast.id} already ended."
        return f"Đã huỷ thông báo #{broadcast.id}. / Broadcast #{broadcast.id} cancelled."

    async def _list_roles(self, actor: str, args: list[str]) -> str:
        grants = await self.roles.list()
        return "\n".join(f"{grant.role}: {grant.who} ({grant.source})" for grant in grants) or "—"

    async def _grant(self, actor: str, args: list[str]) -> str:
        return await self._change_role(actor, args, grant=True)

    async def _revoke(self, actor: str, args: list[str]) -> str:
        return await self._change_role(actor, args, grant=False)

    async def _change_role(self, actor: str, args: list[str], *, grant: bool) -> str:
        verb = "grant" if grant else "revoke"
        usage = f"Cách dùng / Usage: /{verb} admin|officer|outreach telegram:<id>"
        if len(args) != 2 or args[0] not in {role.value for role in Role}:
            return usage
        try:
            change = self.roles.grant if grant else self.roles.revoke
            changed = await change(args[1], Role(args[0]), actor)
        except RoleError as error:
            return str(error)
        if not changed:
            return "Không có gì thay đổi. / Nothing changed."
        return f"Xong: {verb} {args[0]} {args[1]}. / Done."

    async def _stats(self, actor: str, args: list[str]) -> list[Reply]:
        days = next((int(arg) for arg in args if arg.isdigit()), 14)
        days = max(1, min(days, 366))
        if "unanswered" in args:
            stats = await usage_stats(self.storage, days=days, feedback=self.feedback, unanswered_limit=30)
            if not stats.unanswered:
                return [Reply(text="Chưa có câu hỏi nào bot không trả lời được. / No unanswered questions.")]
            return [Reply(text=nlu_yaml(stats.unanswered, days))]
        stats = await usage_stats(self.storage, days=days, feedback=self.feedback)
        chart = stats_chart(stats)
        key = f"stats/{hashlib.sha256(chart).hexdigest()[:16]}"
        picture = Image(png=chart, alt="Biểu đồ thống kê / Statistics chart", key=key)
        return [Reply(text=stats_text(stats)), Reply(image=picture)]

    async def _outreach(self, actor: str, args: list[str]) -> str:
        rows = await outreach_stats(self.storage)
        if not rows:
            return "Chưa có ai đến từ áp phích. / Nobody has come from a poster yet."
        lines = ["Nơi · cán bộ: người dân | bắt đầu HD / xong HD / tra cứu / nhận phiếu"]
        for row in rows[:20]:
            stages = " / ".join(str(count) for count in row.stages.values())
            lines.append(f"{row.place} · {row.staff}: {row.citizens} | {stages}")
        return "\n".join(lines)

    async def _broadcast_arg(self, args: list[str]) -> Broadcast | str | None:
        """The broadcast named by the argument; a message if there is none
        with that number; None if the argument is not a number."""
        if len(args) != 1 or not args[0].lstrip("#").isdigit():
            return None
        number = int(args[0].lstrip("#"))
        found = await self.broadcasts.get(number)
        return found or f"Không có thông báo #{number}. / There is no broadcast #{number}."


COMMANDS: dict[str, tuple[Role, Command]] = {
    "broadcasts": (Role.ADMIN, StaffCommands._broadcasts),
    "broadcast_report": (Role.ADMIN, StaffCommands._report),
    "broadcast_cancel": (Role.ADMIN, StaffCommands._cancel),
    "roles": (Role.ADMIN, StaffCommands._list_roles),
    "grant": (Role.ADMIN, StaffCommands._grant),
    "revoke": (Role.ADMIN, StaffCommands._revoke),
    "outreach": (Role.OUTREACH, StaffCommands._outreach),
    "stats": (Role.ADMIN, StaffCommands._stats),
}
