"""Questions the bot could not answer, kept for admins to improve the NLU data.

When the NLU falls back or finds a question out of scope (`flows/intent.py`),
the question is kept with privacy in mind (PDPL 91/2025/QH15):

- request codes, e-mail addresses, phone, id and other long numbers are
  masked (`***`) before anything is written;
- at most `MAX_LENGTH` characters;
- who asked is only the analytics' keyed hash of the user, which
  `SqlStorage.forget_user` erases by; nothing else about the user;
- rows older than `keep_days` are pruned (now and then while recording, and
  whenever statistics are read).

When the citizen then presses one of the guesses the bot offered ("did you
mean..."), the question is labelled with that intent (`confirm`): a ready
training example.

`FeedbackStore.top_unanswered` counts alike questions (same words, ignoring
case, diacritics and punctuation) for `troly stats` and `/stats`;
`nlu_yaml` turns them into Rasa `nlu.yml` lines an editor can paste.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update

from core.redaction import MASK, MAX_QUESTION_LENGTH, mask_question
from core.textkey import text_key
from storage.schema import as_aware_utc, unanswered_questions, utcnow
from storage.sql import SqlStorage

MAX_LENGTH = MAX_QUESTION_LENGTH
DEFAULT_KEEP_DAYS = 90
PRUNE_EVERY = timedelta(hours=1)


def normalize_question(masked: str) -> str:
    """Alike questions count together: no case, diacritics or punctuation."""
    return text_key(masked)[:MAX_LENGTH]


@dataclass(frozen=True)
class UnansweredQuestion:
    text: str  # one of its masked wordings
    count: int
    guess: str  # the intent citizens confirmed for it, else the NLU's most frequent best guess
    language: str
    last_at: datetime
    confirmed: int = 0  # how many times a citizen confirmed `guess`


class FeedbackStore:
    """The unanswered-questions table, on a `SqlStorage`'s engine."""

    def __init__(self, storage: SqlStorage, keep_days: int = DEFAULT_KEEP_DAYS) -> None:
        self.storage = storage
        self.keep_days = keep_days
        self._next_prune = datetime.min.replace(tzinfo=UTC)

    async def record_unanswered(
        self,
        channel: str,
        user_id: str,
        text: str,
        *,
        language: str,
        guess: str,
        update_id: str | None = None,
        at: datetime | None = None,
    ) -> int | None:
        """Keep one question the bot could not answer; its id, or None if
        nothing was left to keep once masked (a bare number, emoji only...).
        The same `update_id` again (the message handled twice) keeps nothing
        more and gives the first one's id."""
        masked = mask_question(text)
        normalized = normalize_question(masked)
        if not normalized.replace(MASK, "").strip():
            return None
        table = unanswered_questions
        row = {
            "user_hash": self.storage.pseudonym(channel, user_id),
            "language": (language or "vi")[:8],
            "guess": (guess or "out_of_scope")[:64],
            "text": masked,
            "normalized": normalized,
            "at": at or utcnow(),
            "update_id": update_id[:128] if update_id else None,
        }
        kept_before = select(table.c.id).where(
            table.c.user_hash == row["user_hash"], table.c.update_id == row["update_id"]
        )
        insert = table.insert().values(**row)

        def keep(conn) -> int:
            # Under the user's lock (a dialogue turn), so no other writer races this check.
            earlier = conn.execute(kept_before).scalar() if update_id else None
            return earlier if earlier is not None else conn.execute(insert).inserted_primary_key[0]

        question_id = await self.storage.run_sync(keep, write=True)
        if utcnow() >= self._next_prune:
            self._next_prune = utcnow() + PRUNE_EVERY
            await self.prune()
        return question_id

    async def confirm(self, question_id: int, channel: str, user_id: str, intent: str) -> bool:
        """The citizen who asked question `question_id` pressed the guess `intent`."""
        table = unanswered_questions
        statement = (
            update(table)
            .where(table.c.id == question_id, table.c.user_hash == self.storage.pseudonym(channel, user_id))
            .values(guess=intent[:64], confirmed=True)
        )
        return await self.storage.run_sync(lambda conn: conn.execute(statement).rowcount == 1, write=True)

    async def prune(self, now: datetime | None = None) -> int:
        """Delete questions older than `keep_days`; returns how many went."""
        cutoff = (now or utcnow()) - timedelta(days=self.keep_days)
        statement = delete(unanswered_questions).where(unanswered_questions.c.at < cutoff)
        return await self.storage.run_sync(lambda conn: conn.execute(statement).rowcount or 0, write=True)

    async def top_unanswered(self, since: datetime | None = None, limit: int = 10) -> list[UnansweredQuestion]:
        """The most frequent unanswered questions (alike ones counted together)."""
        table = unanswered_questions
        query = select(
            table.c.normalized,
            func.count().label("n"),
            func.max(table.c.text).label("text"),
            func.max(table.c.at).label("last_at"),
        ).group_by(table.c.normalized)
        if since is not None:
            query = query.where(table.c.at >= since)
        query = query.order_by(func.count().desc(), func.max(table.c.at).desc()).limit(max(1, limit))
        async with self.storage.transaction() as conn:
            groups = (await conn.execute(query)).all()
            if not groups:
                return []
            details = select(table.c.normalized, table.c.guess, table.c.language, table.c.confirmed).where(
                table.c.normalized.in_([group.normalized for group in groups])
            )
            if since is not None:
                details = details.where(table.c.at >= since)
            labels = (await conn.execute(details)).all()
        guesses: dict[str, Counter[str]] = defaultdict(Counter)
        confirmed: dict[str, Counter[str]] = defaultdict(Counter)
        languages: dict[str, Counter[str]] = defaultdict(Counter)
        for normalized, guess, language, by_citizen in labels:
            (confirmed if by_citizen else guesses)[normalized][guess] += 1
            languages[normalized][language] += 1
        questions = []
        for group in groups:
            labelled = confirmed.get(group.normalized)
            guess = _most(labelled or guesses.get(group.normalized), "out_of_scope")
            questions.append(UnansweredQuestion(
                text=group.text,
                count=group.n,
                guess=guess,
                language=_most(languages.get(group.normalized), "vi"),
                last_at=as_aware_utc(group.last_at),
                confirmed=labelled[guess] if labelled else 0,
            ))  # fmt: skip
        return questions


def _most(counts: Counter[str] | None, default: str) -> str:
    return max(counts.items(), key=lambda item: (item[1], item[0]))[0] if counts else default


def nlu_yaml(questions: list[UnansweredQuestion], days: int) -> str:
    """Rasa `nlu.yml` lines for the unanswered questions, grouped by the
    intent citizens confirmed, else the NLU's guess: an editor checks each
    line, moves it under the right intent in nlu/data/nlu.yml (or deletes
    it) and pastes."""
    header = [
        f"# Câu hỏi bot chưa trả lời được ({days} ngày gần nhất), số cá nhân đã che bằng ***.",
        "# Kiểm tra từng dòng, chuyển sang đúng ý định rồi dán vào nlu/data/nlu.yml.",
        f"# Questions the bot could not answer (last {days} days), personal numbers masked as ***.",
        "# Check each line, move it under the right intent, then paste into nlu/data/nlu.yml.",
        'version: "3.1"',
        "nlu:",
    ]
    by_label: dict[tuple[str, bool], list[UnansweredQuestion]] = {}
    for question in questions:
        by_label.setdefault((question.guess, question.confirmed > 0), []).append(question)
    lines = list(header)
    for (guess, confirmed), group in sorted(by_label.items(), key=lambda item: -sum(q.count for q in item[1])):
        note = "người dân đã chọn / confirmed by citizens" if confirmed else "đoán của NLU / the NLU's guess: check it"
        lines.append(f"- intent: {guess}  # {note}")
        lines.append("  examples: |")
        lines.extend(f"    - {question.text}" for question in group)
    return "\n".join(lines) + "\n"
