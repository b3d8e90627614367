"""The embedded NLU engine: a TF-IDF + linear SVM intent classifier over
normalised, diacritic-folded text, calibrated to probabilities by temperature
scaling (any intent from one example up), plus the
rule-based entity extractors, answering in Rasa's /model/parse shape.

The model is a joblib file in the model directory, next to `meta.json` that
records the hash of what it was trained on; `load_or_train` retrains when the
data (or the feature code) changed, so editing nlu.yml is enough.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from scipy import sparse
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from core.textkey import fold_diacritics, text_key
from nlu.entities import extract
from nlu.interpreter import FALLBACK_INTENT, Interpreter
from nlu.normalize import TEENCODE_FILE, normalize
from nlu.training_data import TrainingData, load_training_data

log = logging.getLogger(__name__)

# Bump when features or model change: saved models then retrain by themselves.
FEATURE_VERSION = "6"
MODEL_FILE = "model.joblib"
META_FILE = "meta.json"
MAX_CHARS = 2000  # longer messages are classified on their beginning
RANKING_LENGTH = 10
CALIBRATION_FOLDS = 5
# An intent with fewer examples weighs in its own one-vs-rest SVM as if it had
# this many. Unweighted, a new intent of 1-4 examples wins only on sentences
# almost like its own: of unseen paraphrases of 24 such intents added to
# nlu/data/nlu.yml, 61% were recognised, 89% with the weight, with the held-out
# accuracy of the project's intents unchanged (tests/nlu/test_training.py builds
# that data). Intents with at least this many examples (all of nlu.yml's) keep
# weight 1, so the project's model is the same as without it.
WEIGHTED_EXAMPLES = 20
# The softmax's inverse temperature when no two intents have two examples, so
# nothing can be held out to learn it: about the value that 5-fold
# cross-validation finds on the project's nlu/data/nlu.yml (4.97).
DEFAULT_INVERSE_TEMPERATURE = 5.0
_WORD_CHARS = re.compile(r"[^\W_]", re.UNICODE)


def data_hash(data_path: Path | str) -> str:
    """Hash of everything a model depends on: data, teencode list, feature code."""
    digest = hashlib.sha256()
    for part in (Path(data_path).read_bytes(), TEENCODE_FILE.read_bytes()):
        digest.update(hashlib.sha256(part).digest())
    digest.update(f"{FEATURE_VERSION}/{sklearn.__version__}".encode())
    return digest.hexdigest()


def _softmax(logits: np.ndarray) -> np.ndarray:
    exponentials = np.exp(logits - logits.max())
    return exponentials / exponentials.sum()


@dataclass
class IntentModel:
    """Vectorisers + linear SVM + softmax inverse temperature + the data's regex features."""

    words: TfidfVectorizer
    chars: TfidfVectorizer
    svm: LinearSVC
    inverse_temperature: float
    regexes: dict[str, list[re.Pattern]] = field(default_factory=dict)

    def features_text(self, text: str) -> str:
        """Folded normalised text plus one marker word per matching data regex."""
        normalised = normalize(text[:MAX_CHARS])
        markers = [
            f"regex{name}"
            for name, patterns in self.regexes.items()
            if any(pattern.search(normalised) for pattern in patterns)
        ]
        return " ".join([fold_diacritics(normalised), *markers])

    def vectorize(self, texts: list[str]):
        return sparse.hstack([self.words.transform(texts), self.chars.transform(texts)]).tocsr()

    def probabilities(self, text: str) -> np.ndarray:
        """Class probabilities through scikit-learn (reference for `FastScorer`)."""
        scores = self.svm.decision_function(self.vectorize([self.features_text(text)]))[0]
        if np.ndim(scores) == 0:  # two intents: one score, as logits (-x, x) like scikit-learn's calibration
            scores = np.array([-scores, scores])
        return _softmax(self.inverse_temperature * scores)

    @property
    def intents(self) -> list[str]:
        return [str(label) for label in self.svm.classes_]


class FastScorer:
    """The same probabilities as `IntentModel.probabilities` without
    scikit-learn's per-call overhead (~5 ms -> well under 1 ms for one message):
    sublinear TF-IDF, L2 norm per vectoriser, linear SVM scores, then a softmax
    with the inverse temperature learnt by cross-validation."""

    def __init__(self, model: IntentModel):
        coef, intercept = model.svm.coef_, model.svm.intercept_
        if coef.shape[0] == 1:  # two intents: scores (-x, x)
            coef, intercept = np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
        self.model = model
        self.parts = []
        offset = 0
        for vectorizer in (model.words, model.chars):
            self.parts.append((vectorizer.build_analyzer(), vectorizer.vocabulary_, vectorizer.idf_, offset))
            offset += len(vectorizer.vocabulary_)
        self.weights = np.ascontiguousarray(coef.T, dtype=np.float64)  # (features, classes)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.inverse_temperature = model.inverse_temperature

    def probabilities(self, text: str) -> np.ndarray:
        features_text = self.model.features_text(text)
        scores = self.intercept.copy()
        for analyze, vocabulary, idf, offset in self.parts:
            counts: dict[int, int] = {}
            for gram in analyze(features_text):
                index = vocabulary.get(gram)
                if index is not None:
                    counts[index] = counts.get(index, 0) + 1
            if not counts:
                continue
            indices = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * idf[indices]
            values /= np.sqrt(values @ values)
            scores += values @ self.weights[indices + offset]
        return _softmax(self.inverse_temperature * scores)


def _compile_regexes(data: TrainingData) -> dict[str, list[re.Pattern]]:
    compiled = {}
    for name, patterns in data.regexes.items():
        compiled[re.sub(r"\W", "", name)] = [re.compile(pattern, re.IGNORECASE) for pattern in patterns]
    return compiled


def _svm(counts: Mapping[Any, int]) -> LinearSVC:
    """The SVM for intents of these example counts (keyed by label)."""
    weights = {label: max(1.0, WEIGHTED_EXAMPLES / count) for label, count in counts.items()}
    return LinearSVC(C=1.0, class_weight=weights)


def _fit_classifier(features: sparse.csr_matrix, labels: list[str]) -> tuple[LinearSVC, float]:
    """The SVM trained on every example, and the inverse temperature of its softmax.

    Temperature scaling keeps the SVM's ranking and gives confidences that suit
    Rasa's thresholds better than per-class sigmoids (held-out data). It is one
    number for all intents, learnt on cross-validated scores, so it needs no
    held-out examples of every intent: it is learnt on the intents with at least
    `folds` examples, `folds` being 5, or fewer when fewer than two intents have
    5 examples (the count of the intent with the second most examples). New
    intents with 1 to 4 examples then leave the confidences of the established
    ones as they were, and still train the SVM, so their own sentences are
    recognised. With no two intents of two examples nothing can be held out:
    the default inverse temperature is used.
    """
    counts = Counter(labels)
    svm = _svm(counts).fit(features, labels)
    folds = min(CALIBRATION_FOLDS, sorted(counts.values())[-2])
    if folds < 2:
        return svm, DEFAULT_INVERSE_TEMPERATURE
    rows = np.array([counts[label] >= folds for label in labels])
    # The calibration hands its SVMs the labels as 0..n-1 (sorted): give them so, weights keyed alike.
    kept, codes = np.unique(np.asarray(labels)[rows], return_inverse=True)
    fold_svm = _svm({code: counts[label] for code, label in enumerate(kept)})
    calibration = CalibratedClassifierCV(fold_svm, method="temperature", cv=folds, ensemble=False)
    calibration.fit(features[rows], codes)
    return svm, float(calibration.calibrated_classifiers_[0].calibrators[0].beta_)


def fit(data: TrainingData) -> IntentModel:
    """Train the intent classifier on the examples."""
    if len(data.intents) < 2:
        raise ValueError("training data needs at least two intents")
    words = TfidfVectorizer(
        analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b", lowercase=False
    )
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=False, min_df=1)
    model = IntentModel(words, chars, LinearSVC(), DEFAULT_INVERSE_TEMPERATURE, _compile_regexes(data))
    texts = [model.features_text(example.text) for example in data.examples]
    words.fit(texts)
    chars.fit(texts)
    labels = [example.intent for example in data.examples]
    with warnings.catch_warnings():
        # Intents of one or two examples are normal here, not a sign of a regression problem.
        warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%")
        model.svm, model.inverse_temperature = _fit_classifier(model.vectorize(texts), labels)
    return model


@dataclass
class TrainedModel:
    model: IntentModel
    synonyms: dict[str, str]
    data_hash: str
    trained_at: float
    training_seconds: float


def train(data_path: Path | str, out_dir: Path | str) -> TrainedModel:
    """Train on a Rasa nlu.yml and save the model (atomically) into out_dir."""
    started = time.perf_counter()
    data = load_training_data(data_path)
    trained = TrainedModel(
        model=fit(data),
        synonyms={text_key(key): value for key, value in data.synonyms.items()},
        data_hash=data_hash(data_path),
        trained_at=time.time(),
        training_seconds=0.0,
    )
    trained.training_seconds = round(time.perf_counter() - started, 3)
    save(trained, out_dir)
    log.info(
        "NLU model trained on %d examples, %d intents, in %.2f s",
        len(data.examples),
        len(data.intents),
        trained.training_seconds,
    )
    return trained


def _atomic_write(path: Path, writer) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    try:
        writer(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def save(trained: TrainedModel, out_dir: Path | str) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _atomic_write(out_dir / MODEL_FILE, lambda name: joblib.dump(trained, name, compress=3))
    meta = {
        "data_hash": trained.data_hash,
        "trained_at": trained.trained_at,
        "training_seconds": trained.training_seconds,
        "intents": trained.model.intents,
        "sklearn": sklearn.__version__,
        "feature_version": FEATURE_VERSION,
    }
    _atomic_write(out_dir / META_FILE, lambda name: Path(name).write_text(json.dumps(meta, indent=2)))


def load(model_dir: Path | str) -> TrainedModel:
    """Load a saved model (our own file in our model directory)."""
    meta = json.loads((Path(model_dir) / META_FILE).read_text())
    if meta.get("feature_version") != FEATURE_VERSION:  # its pickled classes may not fit this code
        raise ValueError(f"{model_dir}: trained by another version of troly: run troly nlu train")
    trained = joblib.load(Path(model_dir) / MODEL_FILE)
    if not isinstance(trained, TrainedModel):
        raise ValueError(f"{model_dir}: not a troly NLU model")
    return trained


def load_or_train(data_path: Path | str, model_dir: Path | str) -> TrainedModel:
    """The saved model if it was trained on this data; otherwise train it now."""
    wanted = data_hash(data_path)
    try:
        meta = json.loads((Path(model_dir) / META_FILE).read_text())
        if meta.get("data_hash") == wanted:
            return load(model_dir)
        log.info("NLU training data changed: retraining")
    except FileNotFoundError:
        log.info("no NLU model in %s: training", model_dir)
    except Exception as error:  # a corrupt or foreign file: a fresh model fixes it
        log.warning("NLU model in %s unreadable (%s): retraining", model_dir, error)
    return train(data_path, model_dir)


def fallback_result(text: str, entities: list[dict], ranking: list[dict], threshold: float) -> dict:
    """Rasa's FallbackClassifier answer: nlu_fallback on top of the ranking."""
    return {
        "text": text,
        "intent": {"name": FALLBACK_INTENT, "confidence": threshold},
        "entities": entities,
        "intent_ranking": [{"name": FALLBACK_INTENT, "confidence": threshold}, *ranking],
    }


class EmbeddedInterpreter(Interpreter):
    """Our own engine; `parse_sync` for the CLI and benchmarks."""

    def __init__(self, trained: TrainedModel, threshold: float = 0.45, ambiguity_threshold: float = 0.08):
        self.trained = trained
        self.scorer = FastScorer(trained.model)
        extract("Hà Nội")  # load the gazetteer now, not on a citizen's first message
        self.threshold = threshold
        self.ambiguity_threshold = ambiguity_threshold

    def entities(self, text: str) -> list[dict]:
        found = extract(text[:MAX_CHARS])
        for entity in found:
            mapped = self.trained.synonyms.get(text_key(text[entity["start"] : entity["end"]]))
            if mapped is not None and entity["entity"] not in ("province", "request_code", "id_number", "phone"):
                entity["value"] = int(mapped) if isinstance(entity["value"], int) and mapped.isdigit() else mapped
        return found

    def parse_sync(self, text: str) -> dict:
        """Intent, confidence, entities and ranking of one message (never raises on bad text)."""
        text = text if isinstance(text, str) else ""
        entities = self.entities(text)
        if not _WORD_CHARS.search(normalize(text[:MAX_CHARS])):
            return fallback_result(text, entities, [], self.threshold)
        probabilities = self.scorer.probabilities(text)
        order = np.argsort(-probabilities)[:RANKING_LENGTH]
        intents = self.trained.model.intents
        ranking = [{"name": intents[i], "confidence": round(float(probabilities[i]), 4)} for i in order]
        # Compared unrounded: rounded to 4 places, a near-certain top intent
        # could show a gap of exactly 1.0 and pass any ambiguity threshold.
        top = float(probabilities[order[0]])
        second = float(probabilities[order[1]]) if len(order) > 1 else 0.0
        if top < self.threshold or top - second < self.ambiguity_threshold:
            return fallback_result(text, entities, ranking, self.threshold)
        return {"text": text, "intent": dict(ranking[0]), "entities": entities, "intent_ranking": ranking}

    async def parse(self, text: str) -> dict:
        return self.parse_sync(text)
