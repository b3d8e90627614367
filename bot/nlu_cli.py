"""`troly nlu train | parse | eval`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nlu.engine import EmbeddedInterpreter


def register(subparsers: argparse._SubParsersAction) -> None:
    nlu = subparsers.add_parser("nlu", help="train, try and score the Vietnamese NLU")
    commands = nlu.add_subparsers(dest="nlu_command", required=True, metavar="ACTION")

    train = commands.add_parser("train", help="train the intent model on a Rasa nlu.yml")
    train.add_argument("--data", help="training data (default: nlu.data in config.yml)")
    train.add_argument("--out", help="model directory (default: nlu.model_dir)")
    train.set_defaults(handler=_train)

    parse = commands.add_parser("parse", help="understand one message (Rasa /model/parse shape)")
    parse.add_argument("text")
    parse.add_argument("--model", help="model directory (default: nlu.model_dir, trained if missing)")
    parse.add_argument("--json", action="store_true", help="print the full JSON result")
    parse.set_defaults(handler=_parse)

    evaluate = commands.add_parser("eval", help="score a model on any Rasa nlu.yml")
    evaluate.add_argument("--data", required=True, help="labelled test data (Rasa nlu.yml)")
    evaluate.add_argument("--model", help="model directory (default: nlu.model_dir, trained if missing)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--strip-diacritics", action="store_true", help="score the data with diacritics removed")
    evaluate.set_defaults(handler=_eval)


def _interpreter(args: argparse.Namespace) -> EmbeddedInterpreter:
    from bot.config import load_settings
    from nlu.engine import EmbeddedInterpreter, load, load_or_train

    settings = load_settings(args.config)
    if args.model:
        trained = load(Path(args.model))
    else:
        trained = load_or_train(settings.path(settings.nlu.data), settings.path(settings.nlu.model_dir))
    return EmbeddedInterpreter(trained, settings.nlu.threshold, settings.nlu.ambiguity_threshold)


def _train(args: argparse.Namespace) -> int:
    from bot.config import load_settings
    from nlu.engine import train
    from nlu.training_data import TrainingDataError

    settings = load_settings(args.config)
    data = Path(args.data) if args.data else settings.path(settings.nlu.data)
    out = Path(args.out) if args.out else settings.path(settings.nlu.model_dir)
    try:
        trained = train(data, out)
    except (TrainingDataError, ValueError, OSError) as error:
        print(f"troly nlu train: {error}", file=sys.stderr)
        return 1
    print(f"trained {len(trained.model.intents)} intents in {trained.training_seconds:.2f} s -> {out}")
    return 0


def _parse(args: argparse.Namespace) -> int:
    try:
        interpreter = _interpreter(args)
    except (FileNotFoundError, ValueError) as error:
        print(f"troly nlu parse: no usable model: {error}", file=sys.stderr)
        return 1
    result = interpreter.parse_sync(args.text)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(f"{result['intent']['name']} ({result['intent']['confidence']:.2f})")
    for candidate in result["intent_ranking"][:4]:
        print(f"  {candidate['name']:<20} {candidate['confidence']:.3f}")
    for entity in result["entities"]:
        value = "***" if entity["entity"] in ("id_number", "phone") else entity["value"]
        former = f" (trước đây: {entity['former_name']})" if entity.get("former_name") else ""
        print(f"  [{entity['entity']}] {value}{former}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from nlu.evaluate import evaluate
    from nlu.training_data import TrainingDataError, load_training_data

    try:
        data = load_training_data(args.data)
        interpreter = _interpreter(args)
    except (TrainingDataError, FileNotFoundError, ValueError) as error:
        print(f"troly nlu eval: {error}", file=sys.stderr)
        return 1
    report = evaluate(interpreter, data, strip_diacritics=args.strip_diacritics)
    if args.json:
        print(json.dumps({key: value for key, value in report.items() if key != "errors"}, ensure_ascii=False))
        return 0
    print(
        f"n={report['n']}  accuracy={report['accuracy']:.3f}  top1={report['top1_accuracy']:.3f}  "
        f"macro_f1={report['macro_f1']:.3f}  fallback_rate={report['fallback_rate']:.3f}"
        + ("  (diacritics stripped)" if args.strip_diacritics else "")
    )
    print(f"{'intent':<20} {'prec':>6} {'recall':>6} {'f1':>6} {'n':>4}")
    for intent, scores in report["per_intent"].items():
        print(
            f"{intent:<20} {scores['precision']:>6.3f} {scores['recall']:>6.3f} {scores['f1']:>6.3f} "
            f"{scores['support']:>4}"
        )
    if report["most_confused"]:
        print("most confused (expected -> predicted):")
        for pair in report["most_confused"]:
            print(f"  {pair['expected']} -> {pair['predicted']}: {pair['count']}")
    return 0
