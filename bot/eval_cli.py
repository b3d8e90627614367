"""`troly eval answers`: does the bot's reply carry the fact a citizen asked for?

Each question of an evaluation set (`nlu/data/eval/answers.yml`) goes through
the real dispatcher (the configured NLU, the real knowledge base, the mock
backend in memory, a temporary SQLite storage), each to a new user, in two
modes:

- `after_start`: /start, then onboarding followed as a citizen would (the
  question's language, the privacy notice accepted, the province skipped, by
  pressing the offered buttons), then the question;
- `first_message`: the question as the user's very first message.

A question passes when a reply text of the answer to it (the batch of replies
that one message gets) matches its key fact: a regex, or a list of
alternatives, compared case- and diacritic-insensitively.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from core.paths import PROJECT_ROOT
from core.textkey import fold_diacritics

if TYPE_CHECKING:
    from bot.dispatcher import Dispatcher
    from core.messages import Reply
    from nlu.interpreter import Interpreter

DEFAULT_DATA = PROJECT_ROOT / "nlu" / "data" / "eval" / "answers.yml"
MODES = ("after_start", "first_message")
LANGUAGES = ("vi", "en")
# Buttons a citizen presses to get through onboarding, whatever its order:
# the language (the question's), agreeing to the privacy notice, no province.
ONBOARDING_CHOICES = (":lang:{lang}", ":consent:yes", ":province:skip")
MAX_ONBOARDING_PRESSES = 6
SAID_CHARS = 240


class EvalSetError(ValueError):
    pass


def fold(text: str) -> str:
    """The form replies and key facts are compared in: lower case, no diacritics."""
    return fold_diacritics(text).lower()


@dataclass(frozen=True)
class Question:
    text: str
    topic: str
    lang: str
    facts: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...] = field(repr=False, compare=False, default=())

    def carried_by(self, said: str) -> bool:
        folded = fold(said)
        return any(pattern.search(folded) for pattern in self.patterns)


def _facts(raw: Any, where: str) -> tuple[str, ...]:
    facts = (raw,) if isinstance(raw, str) else tuple(raw or ())
    if not facts or not all(isinstance(fact, str) and fact.strip() for fact in facts):
        raise EvalSetError(f"{where}: `fact` must be a regex or a list of them")
    return facts


def _question(raw: Any, topic: str, lang: str, facts: tuple[str, ...], where: str) -> Question:
    if isinstance(raw, dict):
        text, facts = raw.get("text"), _facts(raw["fact"], where) if "fact" in raw else facts
    else:
        text = raw
    if not isinstance(text, str) or not text.strip():
        raise EvalSetError(f"{where}: a question must be non-empty text, got {raw!r}")
    try:
        patterns = tuple(re.compile(fold(fact)) for fact in facts)
    except re.error as error:
        raise EvalSetError(f"{where}: bad regex in {facts!r}: {error}") from error
    return Question(text.strip(), topic, lang, facts, patterns)


def load_eval_set(path: Path | str = DEFAULT_DATA) -> list[Question]:
    """The questions of an evaluation file: a list of groups, each with a
    `topic`, a default `fact` and questions under `vi` and `en` (a question
    may be `{text, fact}` to carry a fact of its own)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise EvalSetError(f"{path}: cannot read: {error}") from error
    questions: list[Question] = []
    for number, group in enumerate(raw.get("groups") or [], 1):
        topic = group.get("topic") if isinstance(group, dict) else None
        if not isinstance(topic, str) or not topic:
            raise EvalSetError(f"{path}: group {number} has no `topic`")
        where = f"{path}: {topic}"
        facts = _facts(group["fact"], where) if "fact" in group else ()
        for lang in LANGUAGES:
            for item in group.get(lang) or []:
                question = _question(item, topic, lang, facts, where)
                if not question.facts:
                    raise EvalSetError(f"{where}: {question.text!r} has no `fact`")
                questions.append(question)
    if not questions:
        raise EvalSetError(f"{path}: no questions")
    return questions


class Driver:
    """New users talking to one dispatcher, as the web chat would."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self._users = count(1)
        self._updates = count(1)

    async def _send(self, user: str, kind: str, value: str) -> list[Reply]:
        from core.messages import Inbound, InboundKind

        inbound = Inbound(
            channel="web",
            user_id=user,
            chat_id=user,
            update_id=str(next(self._updates)),
            kind=InboundKind(kind),
            text=value if kind == "text" else "",
            payload=value if kind != "text" else "",
        )
        return await self.dispatcher.handle(inbound)

    async def onboard(self, user: str, lang: str) -> None:
        replies = await self._send(user, "start", "")
        wanted = tuple(choice.format(lang=lang) for choice in ONBOARDING_CHOICES)
        for _ in range(MAX_ONBOARDING_PRESSES):
            payloads = [button.payload for reply in replies for button in reply.all_buttons]
            choice = next((payload for payload in payloads if payload.endswith(wanted)), None)
            if choice is None:
                return
            replies = await self._send(user, "button", choice)

    async def ask(self, question: Question, mode: str) -> str:
        """What the bot says to the question, its reply texts joined."""
        user = f"eval-{next(self._users)}"
        if mode == "after_start":
            await self.onboard(user, question.lang)
        replies = await self._send(user, "text", question.text)
        return "\n".join(reply.text for reply in replies if reply.text)


def _interpreter(args: argparse.Namespace) -> Interpreter:
    from bot.config import load_settings
    from bot.wiring import interpreter_from_settings
    from nlu.engine import EmbeddedInterpreter, load

    settings = load_settings(args.config)
    if args.model:
        return EmbeddedInterpreter(load(Path(args.model)), settings.nlu.threshold, settings.nlu.ambiguity_threshold)
    return interpreter_from_settings(settings)


async def evaluate(questions: list[Question], interpreter: Interpreter) -> dict[str, Any]:
    """Every question in both modes; the report `--json` prints."""
    from backend.client import FakeBackendClient
    from bot.dispatcher import Dispatcher
    from domain.knowledge import load_knowledge
    from flows.base import Services
    from flows.illustrations import step_image
    from flows.texts import texts
    from storage.feedback import FeedbackStore
    from storage.sql import SqlStorage

    with tempfile.TemporaryDirectory(prefix="troly-eval-") as directory:
        storage = SqlStorage(f"sqlite+aiosqlite:///{Path(directory) / 'eval.sqlite3'}")
        await storage.init()
        try:
            services = Services(
                storage=storage,
                texts=texts(),
                nlu=interpreter,
                backend=FakeBackendClient(),
                knowledge=load_knowledge(),
                illustrations=step_image,
                feedback=FeedbackStore(storage),
            )  # as bot/app.py wires it, the mock backend in memory
            driver = Driver(Dispatcher(services))
            results = {mode: [(q, await driver.ask(q, mode)) for q in questions] for mode in MODES}
        finally:
            await storage.close()
    return report(results)


def _share(passed: int, n: int) -> float:
    return round(passed / n, 4) if n else 0.0


def report(results: dict[str, list[tuple[Question, str]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    failures: list[dict[str, str]] = []
    for mode, answered in results.items():
        per_topic: dict[str, dict[str, Any]] = {}
        for question, said in answered:
            counts = per_topic.setdefault(question.topic, {"n": 0, "passed": 0})
            counts["n"] += 1
            if question.carried_by(said):
                counts["passed"] += 1
            else:
                failures.append(
                    {
                        "text": question.text,
                        "topic": question.topic,
                        "mode": mode,
                        "expected": " | ".join(question.facts),
                        "said": _truncate(said),
                    }
                )
        for counts in per_topic.values():
            counts["share"] = _share(counts["passed"], counts["n"])
        passed = sum(counts["passed"] for counts in per_topic.values())
        summary[mode] = {
            "share": _share(passed, len(answered)),
            "passed": passed,
            "n": len(answered),
            "per_topic": dict(sorted(per_topic.items())),
        }
    return {**summary, "failures": failures}


def _truncate(said: str) -> str:
    flat = " ".join(said.split())
    return flat if len(flat) <= SAID_CHARS else flat[: SAID_CHARS - 1] + "…"


def _percent(share: float) -> str:
    return f"{share * 100:5.1f}%"


def render(result: dict[str, Any]) -> Iterable[str]:
    """The report as text: shares per mode, a table per topic, the failures."""
    for mode in MODES:
        part = result[mode]
        yield f"{mode:<14} {_percent(part['share'])}  ({part['passed']}/{part['n']})"
    topics = result[MODES[0]]["per_topic"]
    width = max(len(topic) for topic in topics)
    yield ""
    yield f"{'topic':<{width}}  {'n':>3}  {'after /start':>14}  {'first message':>14}"
    for topic in topics:
        cells = []
        for mode in MODES:
            counts = result[mode]["per_topic"][topic]
            cells.append(f"{counts['passed']:>3} {_percent(counts['share'])}")
        n = topics[topic]["n"]
        yield f"{topic:<{width}}  {n:>3}  {cells[0]:>14}  {cells[1]:>14}"
    if result["failures"]:
        yield ""
        yield f"failures ({len(result['failures'])}):"
        for failure in result["failures"]:
            yield f"- [{failure['mode']}] {failure['topic']}: {failure['text']!r}"
            yield f"    expected /{failure['expected']}/; said: {failure['said']}"


def register(subparsers: argparse._SubParsersAction) -> None:
    evaluation = subparsers.add_parser("eval", help="measure the bot's answers on an evaluation set")
    commands = evaluation.add_subparsers(dest="eval_command", required=True, metavar="ACTION")
    answers = commands.add_parser("answers", help="share of replies carrying the key fact, per mode and topic")
    answers.add_argument("--data", help=f"evaluation set (default: {DEFAULT_DATA.relative_to(PROJECT_ROOT)})")
    answers.add_argument("--model", help="NLU model directory (default: the configured NLU)")
    answers.add_argument("--json", action="store_true", help="print one JSON object")
    answers.set_defaults(handler=_answers)


def _answers(args: argparse.Namespace) -> int:
    try:
        questions = load_eval_set(Path(args.data) if args.data else DEFAULT_DATA)
    except EvalSetError as error:
        print(f"troly eval answers: {error}", file=sys.stderr)
        return 1
    root, level = logging.getLogger(), logging.getLogger().level
    if not args.verbose:
        root.setLevel(logging.WARNING)  # one log line per turn would bury the report
    try:
        result = asyncio.run(evaluate(questions, _interpreter(args)))
    finally:
        root.setLevel(level)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print("\n".join(render(result)))
    return 0
