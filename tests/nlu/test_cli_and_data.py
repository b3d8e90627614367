import json

from bot.cli import main
from nlu.training_data import load_training_data, parse_example

from .conftest import HELD_OUT


def test_annotated_example_becomes_text_and_entities():
    text, entities = parse_example('lấy [hai bản]{"entity": "copies", "value": "2"} ở [Phú Yên](province)')
    assert text == "lấy hai bản ở Phú Yên"
    assert entities == (
        {"entity": "copies", "value": "2", "start": 4, "end": 11},
        {"entity": "province", "value": "Phú Yên", "start": 14, "end": 21},
    )


def test_rasa_file_synonyms_and_regexes_are_read(tmp_path):
    data = tmp_path / "nlu.yml"
    data.write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - chào [HN]{"entity": "province", '
        '"value": "Hà Nội"}\n- synonym: "2"\n  examples: |\n    - phiếu hai\n- regex: code\n'
        "  examples: |\n    - \\d{4}\n",
        encoding="utf-8",
    )
    parsed = load_training_data(data)
    assert parsed.examples[0].text == "chào HN"
    assert parsed.synonyms == {"phiếu hai": "2", "hn": "Hà Nội"}
    assert parsed.regexes == {"code": ["\\d{4}"]}


def test_cli_trains_parses_and_evaluates(tmp_path, capsys):
    model = tmp_path / "model"
    assert main(["nlu", "train", "--out", str(model)]) == 0
    capsys.readouterr()
    assert main(["nlu", "parse", "lệ phí bao nhiêu", "--model", str(model), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["intent"]["name"] == "fee_info"
    assert {"text", "intent", "entities", "intent_ranking"} <= set(result)
    assert main(["nlu", "eval", "--data", str(HELD_OUT), "--model", str(model), "--json", "--strip-diacritics"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"accuracy", "macro_f1", "n", "per_intent", "most_confused"} <= set(report)
    assert report["strip_diacritics"] is True and report["n"] >= 180


def test_cli_parse_hides_personal_numbers(tmp_path, capsys):
    model = tmp_path / "model"
    main(["nlu", "train", "--out", str(model)])
    capsys.readouterr()
    main(["nlu", "parse", "số của tôi 0912345678, cccd 037153000257", "--model", str(model)])
    shown = capsys.readouterr().out
    assert "0912345678" not in shown and "037153000257" not in shown


def test_cli_reports_broken_training_data_politely(tmp_path, capsys):
    broken = tmp_path / "nlu.yml"
    broken.write_text("nlu: [", encoding="utf-8")
    assert main(["nlu", "train", "--data", str(broken), "--out", str(tmp_path / "m")]) == 1
    assert "cannot read" in capsys.readouterr().err
