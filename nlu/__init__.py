"""Vietnamese understanding for troly: intents and entities from citizens'
messages, with or without diacritics, in teencode or with typos.

    interpreter = bot.wiring.interpreter_from_settings(settings)
    result = await interpreter.parse("le phi bao nhieu vay ad")

Heavy imports (scikit-learn) happen inside `load_interpreter`, so importing
`nlu.normalize` or `nlu.entities` stays cheap.
"""

from __future__ import annotations

from pathlib import Path

from nlu.interpreter import FALLBACK_INTENT, Interpreter

__all__ = ["FALLBACK_INTENT", "Interpreter", "load_interpreter"]


def load_interpreter(
    *, backend: str, rasa_url: str, data: Path, model_dir: Path, threshold: float, ambiguity_threshold: float
) -> Interpreter:
    """The embedded engine (loading the saved model in `model_dir`, or
    training it from `data` when missing or when the data changed), or the
    Rasa HTTP client with `backend="rasa"`."""
    # Imported here, not at the top: every `nlu.*` import runs this package, and the engine's
    # scikit-learn takes ~0.7 s to import, the Rasa client's httpx ~0.09 s (python -X importtime).
    if backend == "rasa":
        from nlu.rasa_client import RasaHttpInterpreter  # noqa: PLC0415

        return RasaHttpInterpreter(rasa_url)
    from nlu.engine import EmbeddedInterpreter, load_or_train  # noqa: PLC0415

    trained = load_or_train(data, model_dir)
    return EmbeddedInterpreter(trained, threshold, ambiguity_threshold)
