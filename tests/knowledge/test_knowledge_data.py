"""The knowledge data: every fact sourced, dated, rated and bilingual; the
right version chosen by date; nothing unverified or outdated stated as fact."""

from __future__ import annotations

import re
from datetime import date

import pytest

from core.paths import PROJECT_ROOT
from domain.knowledge import ANSWER_TOPICS, CONFIDENCES, LANGUAGES, STATUS_CODES, load_knowledge
from domain.knowledge.checks import HEDGES, OUTDATED_TERMS, PAST_OR_NOT, REFERRALS

TODAY = date(2026, 11, 23)
FACTS_MD = PROJECT_ROOT / "domain" / "data" / "reference" / "facts.md"  # a copy of the shared reference
SHARED_FACTS_MD = PROJECT_ROOT.parent / "shared" / "domain" / "facts.md"
MOCK_STATUS_LABELS = (
    "Chờ thanh toán",
    "Đã tiếp nhận",
    "Đang xử lý",
    "Đang xác minh",
    "Yêu cầu bổ sung",
    "Đã trả kết quả",
    "Từ chối",
    "Đã hủy",
)


@pytest.fixture(scope="module")
def kb():
    return load_knowledge()


def all_texts(record, lang):
    return [entry[lang] for entry in record.texts.values()] + [
        i[lang] for items in record.lists.values() for i in items
    ]


def test_every_fact_has_sources_dates_confidence_and_both_languages(kb):
    records = kb.all_records()
    assert len(records) > 60
    for record in records:
        assert record.sources, record.key
        assert all(s.url.startswith("https://") or s.url.startswith("http://") for s in record.sources)
        assert isinstance(record.effective_from, date)
        assert record.effective_to is None or record.effective_to >= record.effective_from
        assert record.confidence in CONFIDENCES
        for lang in LANGUAGES:
            assert all(text.strip() for text in all_texts(record, lang)), (record.key, lang)


def test_every_cited_source_comes_from_the_domain_reference(kb):
    reference = FACTS_MD.read_text(encoding="utf-8")
    for record in kb.all_records():
        for source in record.sources:
            assert source.url in reference, (record.key, source.url)


@pytest.mark.skipif(not SHARED_FACTS_MD.exists(), reason="no shared domain reference beside this clone")
def test_the_reference_copy_is_the_shared_one():
    assert FACTS_MD.read_bytes() == SHARED_FACTS_MD.read_bytes(), "copy ../shared/domain/facts.md again"


def test_no_low_or_unverified_fact_is_stated_as_certain(kb):
    cautious = [r for r in kb.all_records() if r.confidence in ("low", "unverified")]
    assert cautious, "the data should hold some cautious items (e.g. Phiếu 1 authorisation)"
    for record in cautious:
        for lang in LANGUAGES:
            whole = " ".join(all_texts(record, lang)).lower()
            assert any(h in whole for h in HEDGES[lang]), (record.key, lang)
            if record.confidence == "unverified":
                assert any(r in whole for r in REFERRALS), (record.key, lang)


def test_no_current_text_presents_huyen_district_police_or_so_tu_phap_as_current(kb):
    current = [r for r in kb.all_records() if r.effective_to is None or r.effective_to >= TODAY]
    for record in current:
        for lang in LANGUAGES:
            for text in all_texts(record, lang):
                for sentence in re.split(r"(?<=[.!?;])\s+|\n+", text):
                    if OUTDATED_TERMS.search(sentence):
                        assert PAST_OR_NOT.search(sentence), (record.key, sentence)
    who = kb.answer("who_issues", "vi", TODAY).text
    assert "Công an tỉnh/thành phố" in who and "không còn" in who


def test_who_issues_was_the_justice_department_before_march_2025_and_the_police_after(kb):
    before = kb.answer("who_issues", "vi", date(2025, 2, 28))
    after = kb.answer("who_issues", "vi", date(2025, 3, 1))
    assert before.text.startswith("Trước 01/03/2025")
    assert "Công an tỉnh/thành phố" in after.text and after.as_of == date(2025, 3, 1)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_topic_answers_with_text_source_and_as_of(kb, lang):
    for topic in ANSWER_TOPICS:
        answer = kb.answer(topic, lang, TODAY)
        assert answer.text.strip() and answer.sources, topic
        assert answer.as_of <= TODAY
        assert answer.confidence in CONFIDENCES
        assert "{" not in answer.text, f"unfilled placeholder in {topic}"


def test_processing_time_is_10_working_days_before_law_107_and_5_after(kb):
    before = kb.answer("processing_time", "vi", date(2026, 6, 30))
    after = kb.answer("processing_time", "vi", date(2026, 7, 1))
    assert "10 ngày làm việc" in before.text and "15 ngày" in before.text and before.confidence == "high"
    assert "5 ngày làm việc" in after.text and "107/2025/QH15" in after.text
    assert after.confidence == "medium" and after.as_of == date(2026, 7, 1)
    assert "5 working days" in kb.answer("processing_time", "en", date(2026, 7, 1)).text


@pytest.mark.parametrize(
    "day, mentioned",
    [
        (date(2026, 8, 14), False),
        (date(2026, 8, 15), True),
        (date(2027, 2, 28), True),
        (date(2027, 3, 1), False),
    ],
)
def test_fee_answer_mentions_the_possible_waiver_only_inside_its_window(kb, day, mentioned):
    answer = kb.answer("fee_info", "vi", day)
    assert ("28/02/2027" in answer.text) is mentioned
    if mentioned:
        assert "Có thể được miễn phí" in answer.text and "VNeID" in answer.text
        assert answer.confidence == "medium" and answer.as_of == date(2026, 8, 15)
    assert "200.000 đ" in answer.text


def test_fee_answer_takes_the_online_discount_from_the_fee_rules_in_2025(kb):
    text = kb.answer("fee_info", "vi", date(2025, 5, 1)).text
    assert "170.000 đ" in text and "200.000 đ" in text and "80.000 đ" in text
    assert "170.000" not in kb.answer("fee_info", "vi", date(2026, 1, 1)).text


def test_an_unknown_topic_gets_a_polite_referral(kb):
    answer = kb.answer("weather_forecast", "vi", TODAY)
    assert "dichvucong.gov.vn" in answer.text and answer.text.startswith("Xin lỗi")


def test_a_date_before_any_version_is_refused_rather_than_guessed(kb):
    with pytest.raises(LookupError):
        kb.answer("law_107", "vi", date(2020, 1, 1))


def test_guide_has_five_to_eight_steps_with_problems_and_cautious_labels(kb):
    for lang in LANGUAGES:
        steps = kb.guide_steps(lang, TODAY)
        assert 5 <= len(steps) <= 8
        assert all(step.title and step.body and step.image_key for step in steps)
        assert sum(len(step.problems) for step in steps) >= 8
    vi = {step.key: step for step in kb.guide_steps("vi", TODAY)}
    assert '"Thủ tục hành chính"' in vi["open_service"].body  # a sourced label is quoted
    assert "có thể khác" in vi["choose_options"].body  # assumed labels are flagged as such
    assert "14 tuổi" in vi["check_details"].body
    assert any("hai lần" in p for p in vi["pay"].problems)
    assert len(kb.poster_steps("vi")) == 5


@pytest.mark.parametrize("lang", LANGUAGES)
def test_status_explanations_cover_every_mock_status_in_plain_words(kb, lang):
    for code in STATUS_CODES:
        explanation = kb.status_explanation(code, lang, TODAY)
        assert explanation.plain and explanation.next_step
        for label in MOCK_STATUS_LABELS:  # design-proposal labels are never shown as official wording
            assert f'"{label}"' not in explanation.plain + explanation.next_step
    unknown = kb.status_explanation("SOMETHING_NEW", lang, TODAY)
    assert "VNeID" in unknown.next_step


def test_status_time_limit_follows_the_law_in_force_on_the_day(kb):
    old = kb.status_explanation("RECEIVED", "vi", date(2026, 6, 30))
    new = kb.status_explanation("received", "vi", date(2026, 7, 1))
    assert "10 ngày làm việc" in old.next_step and old.time_limit.confidence == "high"
    assert "5 ngày làm việc" in new.next_step and new.time_limit.confidence == "medium"
    assert new.time_limit.as_of == date(2026, 7, 1) and new.time_limit.sources
    verifying = kb.status_explanation("VERIFYING", "vi", date(2026, 9, 1))
    assert verifying.time_limit.confidence == "unverified" and "chưa được công bố" in verifying.next_step
    assert "15 ngày" in kb.status_explanation("VERIFYING", "vi", date(2026, 1, 5)).next_step


def test_eligibility_knows_who_may_ask_for_whom_and_which_certificate(kb):
    before = kb.eligibility(date(2026, 6, 30))
    after = kb.eligibility(date(2026, 7, 1))
    assert "16 tuổi" in after.age_rule.text("vi") and "16" not in before.age_rule.text("vi")
    assert "mức 2" in after.account_required.text("vi")
    assert "Công an xã/phường" in after.how_to_get_level2.text("vi")
    assert after.requesters["self"].in_vneid and after.requesters["child_under_14"].in_vneid
    other = after.requesters["other_adult"]
    assert not other.in_vneid and other.record.confidence == "unverified"
    assert "dichvucong.gov.vn" in other.record.text("vi")
    assert after.purposes["job"].certificate_type == "1"
    assert after.purposes["own_record"].certificate_type == "2"
    assert after.purposes["visa"].certificate_type is None
    assert "không được ủy quyền" in after.certificate_types["2"].authorisation.text("vi")
    assert after.certificate_types["1"].authorisation.confidence == "low"
    assert "Theo một số nguồn" in after.certificate_types["1"].authorisation.text("vi")
    assert "không ai được yêu cầu" in after.certificate_types["2"].used_for.text("vi").lower()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_payment_help_explains_paying_and_never_promises_a_refund(kb, lang):
    help = kb.payment_help(lang, TODAY)
    assert "NAPAS" in help.how_to_pay.text and "VietQR" in help.how_to_pay.text
    assert "Viettel Money" in help.how_to_pay.text
    assert len(help.failed_steps) == 4
    every_text = " ".join([help.how_to_pay.text, help.if_failed.text, *help.failed_steps]).lower()
    assert "hoàn tiền" not in every_text and "refund" not in every_text
    assert ("hai lần" in every_text) or ("twice" in every_text)


def test_contacts_name_the_receiving_unit_and_no_phone_numbers_we_do_not_have(kb):
    hanoi = kb.contacts("01", "vi", TODAY)
    assert "Phòng Hồ sơ nghiệp vụ, Công an thành phố Hà Nội" in hanoi.receiving_unit
    assert "Công an tỉnh Cao Bằng" in kb.contacts("04", "vi", TODAY).receiving_unit
    assert "Công an Bắc Ninh" in kb.contacts("24", "vi", TODAY).receiving_unit  # 2026 city: name unconfirmed
    assert "tỉnh/thành phố" in kb.contacts(None, "vi", TODAY).receiving_unit
    assert "tỉnh/thành phố" in kb.contacts("99", "vi", TODAY).receiving_unit
    assert hanoi.hotline == "1900 0368" and hanoi.portal_url == "https://dichvucong.gov.vn"
    digits = re.findall(r"\d[\d .]{6,}\d", hanoi.text)
    assert digits == ["1900 0368"]
    assert "Hanoi City Police" in kb.contacts("01", "en", TODAY).receiving_unit


@pytest.mark.parametrize("lang", LANGUAGES)
def test_safety_advice_warns_against_sharing_secrets_and_unofficial_apps(kb, lang):
    text = kb.safety(lang, TODAY).text
    assert "OTP" in text and "APK" in text and "Google Play" in text
    assert kb.answer("scams", lang, TODAY).text == text
    assert "OTP" in kb.secret_warning(lang, TODAY)
