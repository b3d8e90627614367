"""`troly kb ...`: knowledge-base upkeep for admins.

`troly kb check [--dir DIR]` validates the knowledge files (sources, dates,
confidence, both languages, cautious wording) and exits 1 listing every
problem by file and key; `troly kb answer TOPIC [--lang] [--date]` shows what
the bot would answer on a given day.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date


def register(subparsers: argparse._SubParsersAction) -> None:
    kb = subparsers.add_parser("kb", help="check and preview the knowledge base")
    commands = kb.add_subparsers(dest="kb_command", required=True, metavar="KB_COMMAND")
    check = commands.add_parser("check", help="validate domain/data/knowledge/*.yml")
    check.add_argument("--dir", help="knowledge directory (default: domain/data/knowledge)")
    check.set_defaults(handler=run_check)
    answer = commands.add_parser("answer", help="show the answer to a topic on a date")
    answer.add_argument("topic")
    answer.add_argument("--lang", default="vi", choices=("vi", "en"))
    answer.add_argument("--date", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default: today)")
    answer.add_argument("--dir", help="knowledge directory (default: domain/data/knowledge)")
    answer.set_defaults(handler=run_answer)


def run_check(args: argparse.Namespace) -> int:
    from domain.knowledge import KNOWLEDGE_DIR, check_report

    directory = args.dir or KNOWLEDGE_DIR
    problems, summary = check_report(directory)
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"troly kb check: {len(problems)} problem(s) in {directory}", file=sys.stderr)
        return 1
    print(f"troly kb check: OK ({summary}) in {directory}")
    return 0


def run_answer(args: argparse.Namespace) -> int:
    from domain.knowledge import KnowledgeError, load_knowledge

    try:
        kb = load_knowledge(args.dir)
    except KnowledgeError as error:
        print(f"troly kb answer: the knowledge data is invalid; run `troly kb check`\n{error}", file=sys.stderr)
        return 1
    try:
        answer = kb.answer(args.topic, args.lang, args.date)
    except LookupError as error:
        print(f"troly kb answer: {error}", file=sys.stderr)
        return 1
    print(answer.text)
    checked = f"{answer.checked:%d/%m/%Y}" if answer.checked else "never"
    print(f"\n[rule in force since {answer.as_of:%d/%m/%Y} · last checked {checked} · confidence {answer.confidence}]")
    for source in answer.sources:
        print(f"  {source.url}")
    return 0
