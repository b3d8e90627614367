"""The answer-quality evaluation: its set (`nlu/data/eval/answers.yml`) and
`troly eval answers`, driven through the real dispatcher."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from bot.cli import main
from bot.eval_cli import DEFAULT_DATA, MODES, fold, load_eval_set
from core.textkey import fold_diacritics, text_key
from domain.knowledge.loader import KNOWLEDGE_DIR
from domain.provinces import all_provinces
from nlu.training_data import load_training_data
from tests.nlu.conftest import TRAINING_DATA

# Every record of these knowledge files is an answer topic the set must reach.
KNOWLEDGE_FILES = ("answers", "eligibility", "payment", "contacts", "safety", "guide")
# Topics that are not one knowledge record: the fee rules, the status lookup,
# the guide as a whole.
OTHER_TOPICS = {
    "fees.reduced",
    "fees.exempt",
    "fees.extra_copy",
    "fees.waiver",
    "status.no_code",
    "status.with_code",
    "status.with_proof",
    "guide.overview",
}


def knowledge_topics() -> tuple[set[str], set[str]]:
    """(every record's topic, every alias's topic): an alias (`see: file.key`)
    answers with its target's text, so only the target must be covered."""
    topics, aliases = set(), set()
    for name in KNOWLEDGE_FILES:
        records = yaml.safe_load((KNOWLEDGE_DIR / f"{name}.yml").read_text(encoding="utf-8"))
        for key, value in records.items():
            if key == "last_checked":
                continue  # the file's checked date, not a topic
            is_alias = isinstance(value, dict) and set(value) == {"see"}
            (aliases if is_alias else topics).add(f"{name}.{key}")
    return topics, aliases


def test_no_question_is_a_training_example():
    training = {text_key(example.text) for example in load_training_data(TRAINING_DATA).examples}
    shared = [question.text for question in load_eval_set() if text_key(question.text) in training]
    assert shared == [], "evaluation questions also in nlu/data/nlu.yml"


def test_training_never_reads_the_evaluation_set():
    from bot.config import load_settings

    settings = load_settings()
    assert settings.path(settings.nlu.data).resolve() == TRAINING_DATA.resolve()
    assert DEFAULT_DATA.parent != TRAINING_DATA.parent


def test_the_set_covers_every_topic_the_way_citizens_write():
    questions = load_eval_set()
    assert len(questions) >= 300
    per_topic: dict[str, int] = {}
    for question in questions:
        per_topic[question.topic] = per_topic.get(question.topic, 0) + 1
    records, aliases = knowledge_topics()
    wanted = records | OTHER_TOPICS
    assert sorted(wanted - set(per_topic)) == []
    unknown = set(per_topic) - wanted - aliases
    assert sorted(unknown) == [], "a topic that is neither in the knowledge base nor listed here"
    assert min(per_topic.values()) >= 3
    keys = [text_key(question.text) for question in questions]
    assert len(set(keys)) == len(keys), "a question twice"
    english = sum(question.lang == "en" for question in questions)
    assert 0.1 <= english / len(questions) <= 0.25
    no_diacritics = [q for q in questions if q.lang == "vi" and fold_diacritics(q.text) == q.text]
    assert len(no_diacritics) >= 40
    teencode = {"ko", "dc", "đc", "bn", "lm", "ad", "tk", "hông", "nhiu", "v"}
    assert sum(bool(teencode & set(q.text.lower().split())) for q in questions) >= 30


def test_every_key_fact_is_something_the_bot_can_say():
    """Each question's key fact (one of its alternatives) is in the knowledge
    data or the interface texts: the set measures whether the bot gets the
    citizen to what it knows, not what it does not know."""
    texts = [path.read_text(encoding="utf-8") for path in sorted(KNOWLEDGE_DIR.glob("*.yml"))]
    texts.append((KNOWLEDGE_DIR.parents[2] / "flows" / "texts.yml").read_text(encoding="utf-8"))
    # contacts.yml names the unit as "Công an {province}"
    texts += [f"Công an {province.name}" for province in all_provinces()]
    corpus = fold("\n".join(texts))
    unsayable = [q.text for q in load_eval_set() if not any(pattern.search(corpus) for pattern in q.patterns)]
    assert unsayable == []


def test_a_key_fact_ignores_case_and_diacritics(tmp_path):
    data = tmp_path / "set.yml"
    data.write_text(
        "groups:\n"
        "- topic: answers.who_issues\n"
        "  fact: ['công an tỉnh']\n"
        "  vi:\n"
        "    - ai cap phieu\n"
        "    - {text: so tu phap con cap khong, fact: ['sở tư pháp không còn']}\n",
        encoding="utf-8",
    )
    first, second = load_eval_set(data)
    assert first.carried_by("Phiếu do CONG AN TINH cấp.")
    assert not first.carried_by("Phiếu do Sở Tư pháp cấp.")
    assert second.facts == ("sở tư pháp không còn",)
    assert second.carried_by("Sở Tư pháp KHÔNG CÒN nhận hồ sơ này.")


SMALL_SET = """\
groups:
- topic: answers.processing_time
  fact: ['5 ngày làm việc', '5 working days']
  vi:
    - xin phiếu lý lịch thì mấy ngày mới có kết quả vậy
- topic: safety.secret_warning
  fact: ['không lưu', 'not stored', 'have not stored']
  vi:
    - mã otp của tôi là 583920 nhé
  en:
    - my password is Minh@1988, can you log in for me
- topic: answers.out_of_scope
  fact: ['nắng ráo cả ngày']
  vi:
    - ngày mai hà nội có nắng không
- topic: answers.fee_info
  fact: ['200[.,]?000']
  vi:
    - phí làm lý lịch tư pháp hết bao nhiêu tiền vậy ạ
"""


def test_troly_eval_answers_json(tmp_path, model_dir, capsys):
    data = tmp_path / "small.yml"
    data.write_text(SMALL_SET, encoding="utf-8")
    assert main(["eval", "answers", "--data", str(data), "--model", str(model_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)

    assert set(result) == {*MODES, "failures"}
    failed = {(failure["mode"], failure["text"]) for failure in result["failures"]}
    for mode in MODES:
        part = result[mode]
        assert part["n"] == 5
        assert part["passed"] == 5 - sum(failure_mode == mode for failure_mode, _ in failed)
        assert part["share"] == round(part["passed"] / 5, 4)
        assert sum(topic["n"] for topic in part["per_topic"].values()) == 5
        assert sum(topic["passed"] for topic in part["per_topic"].values()) == part["passed"]
        assert part["per_topic"]["safety.secret_warning"] == {"n": 2, "passed": 2, "share": 1.0}
        # A password or OTP is caught whatever comes before it; nobody can
        # promise the weather.
        assert (mode, "mã otp của tôi là 583920 nhé") not in failed
        assert (mode, "ngày mai hà nội có nắng không") in failed
    assert ("after_start", "xin phiếu lý lịch thì mấy ngày mới có kết quả vậy") not in failed
    weather = next(f for f in result["failures"] if f["text"] == "ngày mai hà nội có nắng không")
    assert weather["topic"] == "answers.out_of_scope"
    assert weather["said"] and len(weather["said"]) <= 240


def test_troly_eval_answers_text_report(tmp_path, model_dir, capsys):
    data = tmp_path / "small.yml"
    data.write_text(SMALL_SET, encoding="utf-8")
    assert main(["eval", "answers", "--data", str(data), "--model", str(model_dir)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("after_start")
    assert "safety.secret_warning" in out
    assert "ngày mai hà nội có nắng không" in out  # among the failures


def test_a_broken_set_is_reported(tmp_path, capsys):
    data = tmp_path / "bad.yml"
    data.write_text("groups:\n- topic: fees.waiver\n  vi: [miễn phí à]\n", encoding="utf-8")
    assert main(["eval", "answers", "--data", str(data)]) == 1
    assert "has no `fact`" in capsys.readouterr().err
    assert Path(DEFAULT_DATA).is_file()
