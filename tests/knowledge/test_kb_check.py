"""`troly kb check` and the loader refuse broken knowledge data with clear messages."""

from __future__ import annotations

import pytest

from bot.cli import main
from domain.knowledge import KnowledgeError, check_knowledge, load_knowledge, reload
from tests.knowledge.conftest import edit


def test_kb_check_passes_on_the_repository_data(capsys):
    assert main(["kb", "check"]) == 0
    assert "OK" in capsys.readouterr().out


def test_kb_check_fails_naming_file_and_key_for_each_broken_fact(copy, capsys):
    def break_answers(data):
        del data["validity"]["sources"]
        data["paper_delivery"]["en"] = ""
        data["documents_needed"]["confidence"] = "probably"
        data["lost_phone"]["confidence"] = "unverified"  # but still worded as certain

    edit(copy, "answers", break_answers)

    assert main(["kb", "check", "--dir", str(copy)]) == 1
    err = capsys.readouterr().err
    assert "answers.yml: validity: missing sources" in err
    assert "answers.yml: paper_delivery: text: missing en text" in err
    assert "answers.yml: documents_needed: confidence 'probably'" in err
    assert "answers.yml: lost_phone (from 2024-07-01): unverified fact stated as certain" in err
    assert "problem(s)" in err


def test_kb_check_rejects_outdated_authorities_and_undated_or_unsourced_versions(copy):
    def break_facts(data):
        data["validity"]["vi"] = "Bạn nộp hồ sơ tại Sở Tư pháp."
        data["issuer"][1]["effective_from"] = "2025-02-01"  # overlaps the old version
        data["level2_required"]["sources"] = ["NO-SUCH-SOURCE"]
        del data["vneid_target"]["effective_to"]

    edit(copy, "facts", break_facts)
    messages = [str(p) for p in check_knowledge(copy)]
    assert any("facts.yml: validity" in m and "outdated authority" in m for m in messages)
    assert any("facts.yml: issuer: versions overlap" in m for m in messages)
    assert any("facts.yml: level2_required: unknown source 'NO-SUCH-SOURCE'" in m for m in messages)
    assert any("facts.yml: vneid_target: missing effective_to" in m for m in messages)


def test_a_draft_rule_must_be_called_a_draft(copy):
    edit(copy, "answers", lambda data: data["validity"].update(draft=True))
    messages = [str(p) for p in check_knowledge(copy)]
    assert any("validity" in m and "'dự thảo'" in m for m in messages)


def test_a_missing_topic_and_a_too_short_guide_are_reported(copy):
    edit(copy, "answers", lambda data: data.pop("abroad"))
    edit(copy, "guide", lambda data: [data.pop(k) for k in list(data)[4:]])
    messages = [str(p) for p in check_knowledge(copy)]
    assert "answers.yml: abroad: required entry is missing" in messages
    assert any(m.startswith("guide.yml: -: has 4 steps") for m in messages)


def test_reload_refuses_a_broken_edit_and_keeps_serving_the_last_good_data(copy):
    good = load_knowledge(copy)
    edit(copy, "answers", lambda data: data["validity"].pop("vi"))
    with pytest.raises(KnowledgeError) as error:
        reload(copy)
    assert "answers.yml: validity" in str(error.value)
    assert load_knowledge(copy) is good
    edit(copy, "answers", lambda data: data["validity"].update(vi="Luật không quy định thời hạn sử dụng của phiếu."))
    fresh = reload(copy)
    assert fresh is not good and load_knowledge(copy) is fresh
    assert fresh.answer("validity", "vi").text == "Luật không quy định thời hạn sử dụng của phiếu."


def test_kb_answer_previews_a_topic_on_a_date(capsys):
    assert main(["kb", "answer", "processing_time", "--date", "2026-07-01"]) == 0
    out = capsys.readouterr().out
    assert "5 ngày làm việc" in out and "rule in force since 01/07/2026" in out


def test_an_answer_made_of_several_entries_is_checked_and_follows_their_edits(copy):
    """`see: [a, b]`: every entry named must exist; the answer is their texts in order."""
    edit(copy, "answers", lambda data: data["authorisation"].update(see=["eligibility.phieu1_authorisation", "nope.x"]))
    assert "answers.yml: authorisation: 'see: nope.x' points to nothing" in [str(p) for p in check_knowledge(copy)]
    edit(copy, "answers", lambda data: data["authorisation"].update(see=["eligibility.phieu2_authorisation"]))
    edit(copy, "eligibility", lambda data: data["phieu2_authorisation"].update(vi="Không ủy quyền được."))
    answer = reload(copy).answer("authorisation", "vi")
    assert answer.text == "Không ủy quyền được."
    assert answer.confidence == "medium"
