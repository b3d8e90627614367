"""Scoring a model on any Rasa nlu.yml: accuracy, macro-F1, per-intent
precision/recall/F1 and the most confused pairs.

`accuracy` counts the final answer, so an `nlu_fallback` on a clear message is
a miss (as in `rasa test nlu`); `top1_accuracy` scores the classifier's best
guess and `fallback_rate` says how often the dialogue would have to ask.
"""

from __future__ import annotations

from collections import Counter

from core.textkey import fold_diacritics
from nlu.interpreter import FALLBACK_INTENT
from nlu.training_data import TrainingData


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def evaluate(interpreter, data: TrainingData, strip_diacritics: bool = False, top_confused: int = 10) -> dict:
    """Score `interpreter.parse_sync` on the examples of `data`."""
    pairs, top1_hits, errors = [], 0, []
    for example in data.examples:
        text = fold_diacritics(example.text) if strip_diacritics else example.text
        result = interpreter.parse_sync(text)
        predicted = result["intent"]["name"]
        ranking = [item for item in result["intent_ranking"] if item["name"] != FALLBACK_INTENT]
        top1_hits += bool(ranking) and ranking[0]["name"] == example.intent
        pairs.append((example.intent, predicted))
        if predicted != example.intent:
            errors.append(
                {
                    "text": text,
                    "expected": example.intent,
                    "predicted": predicted,
                    "guess": ranking[0] if ranking else None,
                }
            )
    n = len(pairs)
    per_intent = {}
    for intent in data.intents:
        true_positive = sum(1 for gold, guess in pairs if gold == intent and guess == intent)
        predicted = sum(1 for _, guess in pairs if guess == intent)
        support = sum(1 for gold, _ in pairs if gold == intent)
        precision = true_positive / predicted if predicted else 0.0
        recall = true_positive / support if support else 0.0
        per_intent[intent] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(_f1(precision, recall), 4),
            "support": support,
        }
    confused = Counter((gold, guess) for gold, guess in pairs if gold != guess)
    return {
        "n": n,
        "accuracy": round(sum(gold == guess for gold, guess in pairs) / n, 4) if n else 0.0,
        "top1_accuracy": round(top1_hits / n, 4) if n else 0.0,
        "fallback_rate": round(sum(guess == FALLBACK_INTENT for _, guess in pairs) / n, 4) if n else 0.0,
        "macro_f1": round(sum(item["f1"] for item in per_intent.values()) / len(per_intent), 4) if per_intent else 0.0,
        "strip_diacritics": strip_diacritics,
        "per_intent": per_intent,
        "most_confused": [
            {"expected": gold, "predicted": guess, "count": count}
            for (gold, guess), count in confused.most_common(top_confused)
        ],
        "errors": errors,
    }
