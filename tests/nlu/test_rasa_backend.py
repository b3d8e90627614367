"""`nlu.backend: rasa` against a loopback server that answers like Rasa's
documented `POST /model/parse`."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.config import Settings
from bot.wiring import interpreter_from_settings
from nlu.rasa_client import RasaHttpInterpreter


def rasa_answer(text: str) -> dict:
    """A Rasa 3 /model/parse response (the documented fields plus the extras Rasa sends)."""
    return {
        "text": text,
        "intent": {"name": "fee_info", "confidence": 0.9731},
        "entities": [
            {
                "entity": "copies",
                "start": 8,
                "end": 13,
                "confidence_entity": 0.99,
                "value": "3",
                "extractor": "DIETClassifier",
                "processors": [],
            }
        ],
        "text_tokens": [[0, 3], [4, 7]],
        "intent_ranking": [{"name": "fee_info", "confidence": 0.9731}, {"name": "payment_help", "confidence": 0.02}],
        "response_selector": {"all_retrieval_intents": [], "default": {"response": {}, "ranking": []}},
    }


class FakeRasa(BaseHTTPRequestHandler):
    mode = "ok"
    requests: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeRasa.requests.append((self.path, body))
        if FakeRasa.mode == "error":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b'{"version":"3.6.0","status":"failure","message":"boom","code":500}')
            return
        payload = (
            b"<html>not json</html>" if FakeRasa.mode == "garbage" else json.dumps(rasa_answer(body["text"])).encode()
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def rasa_server():
    FakeRasa.mode, FakeRasa.requests = "ok", []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeRasa)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_rasa_backend_answers_through_the_same_interface(rasa_server):
    interpreter = interpreter_from_settings(
        Settings.model_validate({"nlu": {"backend": "rasa", "rasa_url": rasa_server}})
    )
    assert isinstance(interpreter, RasaHttpInterpreter)
    try:
        result = await interpreter.parse("lấy thêm 3 bản thì bao nhiêu")
    finally:
        await interpreter.aclose()
    assert FakeRasa.requests == [("/model/parse", {"text": "lấy thêm 3 bản thì bao nhiêu"})]
    assert result["intent"] == {"name": "fee_info", "confidence": 0.9731}
    assert result["intent_ranking"][1]["name"] == "payment_help"
    assert result["entities"][0]["entity"] == "copies"


@pytest.mark.parametrize("mode", ["error", "garbage"])
async def test_rasa_failure_becomes_a_fallback_not_an_exception(rasa_server, mode):
    FakeRasa.mode = mode
    interpreter = RasaHttpInterpreter(rasa_server)
    try:
        result = await interpreter.parse("mã 000.00.79.H79-261115-0007")
    finally:
        await interpreter.aclose()
    assert result["intent"]["name"] == "nlu_fallback"
    assert [entity["entity"] for entity in result["entities"]] == ["request_code"]  # our extractors still help


async def test_unreachable_rasa_server_becomes_a_fallback():
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    interpreter = RasaHttpInterpreter(f"http://127.0.0.1:{port}", timeout=1.0)
    try:
        result = await interpreter.parse("xin chào")
    finally:
        await interpreter.aclose()
    assert result["intent"]["name"] == "nlu_fallback" and result["intent_ranking"] == []
