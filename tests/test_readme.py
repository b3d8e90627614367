"""The README's commands run as written on a fresh clone (issue 19, item 11):
every `troly` command is written `.venv/bin/troly` (the one convention), each
sub-command and option it names exists in the real command line, each `make`
target exists, and the demo table's proofs are what the bot accepts for
those requests' holders."""

from __future__ import annotations

import argparse
import re
import shlex
from datetime import date
from pathlib import Path

import pytest
import yaml

from bot.cli import build_parser
from flows.status import parse_proof

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
TODAY = date(2026, 12, 5)


def code_snippets(markdown: str) -> list[str]:
    """Inline code spans and the lines of fenced code blocks."""
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", markdown, flags=re.M | re.S)
    outside = re.sub(r"^```[a-z]*\n.*?^```", "", markdown, flags=re.M | re.S)
    lines = [line.split(" #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line] + re.findall(r"`([^`\n]+)`", outside)


def troly_commands(markdown: str) -> list[list[str]]:
    """The arguments of every `.venv/bin/troly ...` in the code, optional
    parts' brackets and alternatives' bars dropped."""
    commands = []
    for snippet in code_snippets(markdown):
        for found in re.finditer(r"\.venv/bin/troly((?: [^;#]*)?)", snippet):
            words = shlex.split(found.group(1).replace("[", " ").replace("]", " ").replace("|", " "))
            words = [word for word in words if word not in ("…", "...")]
            if words:  # not the convention itself, `.venv/bin/troly …`
                commands.append(words)
    return commands


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def check_command(words: list[str]) -> None:
    """Walk the real parser: every sub-command and every --option must exist where it is used."""
    parser = build_parser()
    known = set(parser._option_string_actions)  # global options (--config) are valid anywhere before
    for word in words:
        options = set(parser._option_string_actions) | known
        choices = subcommands(parser)
        if word.startswith("-"):
            assert word.split("=")[0] in options, f"troly {' '.join(words)}: no option {word}"
        elif choices:
            assert word in choices, f"troly {' '.join(words)}: no sub-command {word!r} (has {sorted(choices)})"
            parser = choices[word]
        # else a value (a placeholder such as N, F or <id>)
    assert not subcommands(parser), f"troly {' '.join(words)}: incomplete, needs one of {sorted(subcommands(parser))}"


def test_every_troly_command_is_written_one_way():
    bare = [snippet for snippet in code_snippets(README) if re.match(r"troly\s", snippet)]
    assert bare == [], "write commands as `.venv/bin/troly ...`, the convention the README states"
    assert "`.venv/bin/troly …`" in README  # stated once, near the set-up commands


@pytest.mark.parametrize("words", troly_commands(README), ids=" ".join)
def test_each_readme_command_names_real_subcommands_and_options(words):
    check_command(words)


def all_options(parser: argparse.ArgumentParser) -> set[str]:
    found = set(parser._option_string_actions)
    for child in subcommands(parser).values():
        found |= all_options(child)
    return found


def test_options_named_on_their_own_exist():
    """`--yes`, `--dry-run`, `--province CODE`... named in the text, outside a whole command."""
    named = {snippet.split()[0] for snippet in code_snippets(README) if re.match(r"--[a-z]", snippet)}
    assert {"--yes", "--dry-run", "--web-url"} <= named
    assert named <= all_options(build_parser())


def test_the_check_catches_a_wrong_command():
    for wrong in (["outreach", "poster", "--telegram-username", "x"], ["demo"], ["stat"]):
        with pytest.raises(AssertionError):
            check_command(wrong)


def test_make_targets_and_their_troly_options_exist():
    targets = set(re.findall(r"^([a-z]+):", (ROOT / "Makefile").read_text(encoding="utf-8"), flags=re.M))
    used = re.findall(r"\bmake ([a-z]+)((?: ARGS=[^\s`]+)?)", README)
    assert {"run", "test"} <= {target for target, _ in used}
    for target, args in used:
        assert target in targets, f"make {target}: no such target"
        if args:
            check_command(["run", *shlex.split(args.split("=", 1)[1].strip("\"'`"))])


def test_the_demo_table_proofs_are_accepted_for_each_requests_holder():
    demo = yaml.safe_load((ROOT / "backend" / "data" / "demo.yml").read_text(encoding="utf-8"))
    people = {citizen["key"]: citizen for citizen in demo["citizens"]}
    holder = {request["code"]: people[request["citizen"]] for request in demo["requests"]}
    rows = re.findall(r"^\| `([\d.A-Z-]+)` \|[^|]+\| ([^|]+) \| (\d{12}) \|", README, flags=re.M)
    assert len(rows) == len(holder) == 10
    for code, typed, id_number in rows:
        person = holder[code]
        proof = parse_proof(typed.strip(), TODAY)  # typed exactly as the table shows it
        assert proof is not None, f"{typed!r} is refused"
        assert proof.id_last4 == person["id_number"][-4:] and proof.birth_date == person["birth_date"]
        assert parse_proof(id_number, TODAY).id_number == person["id_number"] == id_number
