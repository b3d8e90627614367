"""One model trained per test session into a temporary directory (never var/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.engine import EmbeddedInterpreter, train
from nlu.training_data import load_training_data

ROOT = Path(__file__).resolve().parents[2]
TRAINING_DATA = ROOT / "nlu" / "data" / "nlu.yml"
HELD_OUT = ROOT / "tests" / "data" / "nlu_test.yml"


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("nlu-model")
    train(TRAINING_DATA, directory)
    return directory


@pytest.fixture(scope="session")
def interpreter(model_dir) -> EmbeddedInterpreter:
    from nlu.engine import load

    return EmbeddedInterpreter(load(model_dir), threshold=0.45, ambiguity_threshold=0.08)


@pytest.fixture(scope="session")
def held_out():
    return load_training_data(HELD_OUT)
