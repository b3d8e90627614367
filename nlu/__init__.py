"""Vietnamese understanding for troly: intents and entities from citizens'
messages, with or without diacritics, in teencode or with typos.

    interpreter = nlu.load_interpreter(settings)
    result = await interpreter.parse("le phi bao nhieu vay ad")

Heavy imports (scikit-learn) happen inside `load_interpreter`, so importing
`nlu.normalize` or `nlu.entities` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nlu.interpreter import FALLBACK_INTENT, Interpreter

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = ["FALLBACK_INTENT", "Interpreter", "load_interpreter"]


def load_interpreter(settings: "Settings") -> Interpreter:
    """The configured NLU: the embedded engine (loading the saved model, or
    training it when missing or when the training data changed), or the Rasa
    HTTP client with `nlu.backend: rasa`."""
    config = settings.nlu
    if config.backend == "rasa":
        from nlu.rasa_client import RasaHttpInterpreter

        return RasaHttpInterpreter(config.rasa_url)
    from nlu.engine import EmbeddedInterpreter, load_or_train

    trained = load_or_train(settings.path(config.data), settings.path(config.model_dir))
    return EmbeddedInterpreter(trained, config.threshold, config.ambiguity_threshold)
