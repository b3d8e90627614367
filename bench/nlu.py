"""NLU benchmark: held-out accuracy and macro F1 (tests/data/nlu_test.yml),
parse latency (p50/p99, single messages), batch throughput, training time and
model size. Prints one JSON object.

    .venv/bin/python bench/nlu.py
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nlu.engine import MODEL_FILE, EmbeddedInterpreter, train
from nlu.evaluate import evaluate
from nlu.training_data import load_training_data

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "nlu" / "data" / "nlu.yml"
MESSAGES = ROOT / "tests" / "data" / "nlu_test.yml"


def main() -> None:
    with tempfile.TemporaryDirectory() as model_dir:
        started = time.perf_counter()
        trained = train(DATA, model_dir)
        training_seconds = time.perf_counter() - started
        model_bytes = (Path(model_dir) / MODEL_FILE).stat().st_size
    interpreter = EmbeddedInterpreter(trained)
    held_out = load_training_data(MESSAGES)
    scores = evaluate(interpreter, held_out)
    texts = [example.text for example in held_out.examples]
    for text in texts[:50]:  # warm caches
        interpreter.parse_sync(text)
    latencies = []
    for _ in range(5):
        for text in texts:
            started = time.perf_counter()
            interpreter.parse_sync(text)
            latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    batch = texts * 4
    started = time.perf_counter()
    for text in batch:
        interpreter.parse_sync(text)
    batch_seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "accuracy": scores["accuracy"],
                "macro_f1": scores["macro_f1"],
                "messages": len(latencies),
                "parse_ms_p50": round(statistics.median(latencies), 3),
                "parse_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1], 3),
                "batch_messages": len(batch),
                "batch_messages_per_second": round(len(batch) / batch_seconds, 1),
                "training_seconds": round(training_seconds, 3),
                "training_examples": sum(1 for _ in load_training_data(DATA).examples),
                "model_bytes": model_bytes,
            }
        )
    )


if __name__ == "__main__":
    main()
