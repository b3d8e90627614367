"""Reading Rasa's `nlu.yml` (format version 3.x): intents with annotated
examples, synonyms, regexes and lookup tables."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# [text](entity), [text](entity:value) (Rasa 2 shorthand) or [text]{"entity": ..., "value": ...}
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<entity>[^)]+)\)|(?P<json>\{[^}]*\}))")


class TrainingDataError(ValueError):
    pass


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: tuple[dict, ...] = ()


@dataclass
class TrainingData:
    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)  # written form (lower) -> value
    regexes: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)

    @property
    def intents(self) -> list[str]:
        return sorted({example.intent for example in self.examples})


def parse_example(line: str) -> tuple[str, tuple[dict, ...]]:
    """Plain text and entity dicts (with offsets) of one annotated example."""
    text, entities, position = [], [], 0
    for match in _ANNOTATION.finditer(line):
        text.append(line[position : match.start()])
        start = sum(len(part) for part in text)
        value = match.group("text")
        if match.group("json"):
            try:
                spec = json.loads(match.group("json"))
            except json.JSONDecodeError as error:
                raise TrainingDataError(f"bad entity annotation {match.group(0)!r}: {error}") from error
            entity, mapped = spec.get("entity"), spec.get("value", value)
        else:
            entity, _, mapped = match.group("entity").partition(":")
            mapped = mapped or value
        text.append(value)
        entities.append({"entity": entity, "value": mapped, "start": start, "end": start + len(value)})
        position = match.end()
    text.append(line[position:])
    return "".join(text), tuple(entities)


def _items(block) -> list[str]:
    if isinstance(block, list):
        return [str(item).strip() for item in block if str(item).strip()]
    lines = str(block or "").splitlines()
    return [line.strip()[2:].strip() for line in lines if line.strip().startswith("- ") and line.strip()[2:].strip()]


def load_training_data(path: Path | str) -> TrainingData:
    """Parse a Rasa nlu.yml file; raises TrainingDataError naming the problem."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise TrainingDataError(f"{path}: cannot read: {error}") from error
    data = TrainingData()
    for item in raw.get("nlu") or []:
        if not isinstance(item, dict):
            raise TrainingDataError(f"{path}: each nlu item must be a mapping, got {item!r}")
        examples = _items(item.get("examples"))
        if "intent" in item:
            for line in examples:
                text, entities = parse_example(line)
                data.examples.append(Example(text, str(item["intent"]), entities))
        elif "synonym" in item:
            for line in examples:
                data.synonyms[line.lower()] = str(item["synonym"])
        elif "regex" in item:
            data.regexes.setdefault(str(item["regex"]), []).extend(examples)
        elif "lookup" in item:
            data.lookups.setdefault(str(item["lookup"]), []).extend(examples)
    for example in data.examples:
        for entity in example.entities:
            if str(entity["value"]) != example.text[entity["start"] : entity["end"]]:
                data.synonyms.setdefault(example.text[entity["start"] : entity["end"]].lower(), str(entity["value"]))
    return data
