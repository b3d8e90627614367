"""Issue 17, item 5: the content corrections, each held by the data and by
`troly kb check` (shared/domain/facts.md is the reference)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
import yaml

from domain import fees
from domain.knowledge import check_knowledge, load_knowledge
from domain.provinces import province_by_code, province_overrides
from nlu.provinces import find_province
from tests.knowledge.conftest import edit

ROOT = Path(__file__).resolve().parents[2]
RECHECKED = date(2026, 12, 5)
LE_PHI = re.compile(r"\blệ phí\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def kb():
    return load_knowledge()


# 1. The rule's effective date and, apart from it, when the fact was checked -----------------


def test_every_stated_fact_carries_the_date_it_was_last_checked(kb):
    for record in kb.all_records():
        if "design_proposal" not in record.flags:
            assert record.checked == RECHECKED, f"{record.file}.{record.key}"
    answer = kb.answer("validity", "vi", date(2026, 11, 23))
    assert answer.as_of == date(2010, 7, 1) and answer.checked == RECHECKED
    assert kb.answer("fee_info", "vi", date(2026, 11, 23)).checked == RECHECKED
    assert kb.contacts("01", "vi").checked == RECHECKED
    assert fees.fee_rules().last_checked == RECHECKED


def test_kb_check_refuses_a_fact_never_checked_or_checked_in_the_future(copy):
    def unchecked(data):
        del data["last_checked"]
        data["validity"]["last_checked"] = "2999-01-01"

    edit(copy, "answers", unchecked)
    messages = [str(p) for p in check_knowledge(copy)]
    assert any(m.startswith("answers.yml: validity") and "in the future" in m for m in messages)
    assert any(m.startswith("answers.yml: lost_phone") and "no last_checked" in m for m in messages)


# 2. The fee is "phí", never "lệ phí" ---------------------------------------------------------


def test_no_vietnamese_text_calls_the_fee_le_phi(kb):
    for record in kb.all_records():
        texts = [entry["vi"] for entry in record.texts.values()]
        texts += [item["vi"] for items in record.lists.values() for item in items]
        assert not any(LE_PHI.search(text) for text in texts), f"{record.file}.{record.key}"
    interface = yaml.safe_load((ROOT / "flows" / "texts.yml").read_text(encoding="utf-8"))
    for key, entry in interface.items():
        assert not LE_PHI.search(str(entry.get("vi", ""))), key
    fee_file = yaml.safe_load(fees.FEES_FILE.read_text(encoding="utf-8"))
    assert not LE_PHI.search(yaml.safe_dump(fee_file, allow_unicode=True))
    text = kb.answer("fee_info", "vi", date(2026, 11, 23)).text
    assert text.startswith("Phí cung cấp thông tin lý lịch tư pháp")


def test_kb_check_refuses_le_phi_in_knowledge_and_fee_texts(copy):
    edit(copy, "answers", lambda data: data["paper_delivery"].update(vi="Lệ phí: 5.000 đ mỗi bản từ bản thứ 3."))
    edit(copy, "fees", lambda data: data["groups"]["exempt"]["proof"].update(vi="Miễn lệ phí khi có giấy tờ."))
    messages = [str(p) for p in check_knowledge(copy)]
    assert any(m.startswith("answers.yml: paper_delivery") and "lệ phí" in m for m in messages)
    assert any(m.startswith("fees.yml: groups.exempt.proof") and "lệ phí" in m for m in messages)


# 3. The TT 117/2026 waiver: level 2 and NQ 66.22 Đ.5(1), any channel, only "có thể" ------------


@pytest.mark.parametrize("channel", ["online", "counter"])
def test_the_possible_waiver_is_not_limited_to_online_requests(channel):
    inside = fees.quote(date(2026, 9, 1), "standard", channel=channel)
    assert inside.possible_waiver is not None and inside.amount_vnd == 200_000  # mentioned, never applied
    assert fees.quote(date(2027, 3, 1), channel=channel).possible_waiver is None


def test_the_waiver_names_both_conditions_and_leaves_the_amount_to_vneid():
    waiver = fees.quote(date(2026, 9, 1)).possible_waiver
    assert waiver is not None
    vi, en = waiver.text["vi"], waiver.text["en"]
    assert vi.startswith("Có thể được miễn") and "mức 2" in vi and "Điều 5 khoản 1" in vi and "66.22/2026" in vi
    assert "số tiền chính xác hiển thị trên VNeID" in vi and "trực tuyến" not in vi
    assert "may be exempt" in en and "level-2" in en and "Article 5(1)" in en and "online" not in en


def test_kb_check_refuses_a_flat_promise_of_a_waiver(copy):
    edit(copy, "fees", lambda data: data["possible_waivers"][0]["text"].update(vi="Miễn phí đến hết 28/02/2027."))
    messages = [str(p) for p in check_knowledge(copy)]
    assert any(m.startswith("fees.yml: possible_waivers[0]") and "có thể" in m for m in messages)


# 4. The exemption list is TT 244/2016's, assumed unchanged by TT 16/2025 ----------------------


def test_exempt_quote_names_the_tt_244_list_as_assumed_unchanged():
    exempt = fees.quote(date(2026, 11, 23), "exempt")
    assert "244/2016" in exempt.basis("vi") and "được cho là" in exempt.basis("vi")
    assert "assumed unchanged" in exempt.basis("en")
    assert exempt.sources == ("https://lltptructuyen.moj.gov.vn/prepareDeclaration?miID=Y3FO637K74UY34",)
    standard = fees.quote(date(2026, 11, 23), "standard")
    assert standard.basis("vi") == "Thông tư 16/2025/TT-BTC"


def test_fee_answer_gives_the_exemption_list_its_own_basis(kb):
    text = kb.answer("fee_info", "vi", date(2026, 11, 23)).text
    assert "Căn cứ: danh sách miễn phí của Thông tư 244/2016/TT-BTC, được cho là giữ nguyên" in text


# 5. Medium and low facts worded as such; no tips blog as a source ---------------------------


def test_the_five_working_days_are_worded_as_reported(kb):
    for key in ("answers.processing_time", "facts.time_limit_normal"):
        record = kb.record(key, date(2026, 7, 1))
        assert record.confidence == "medium"
        assert "theo thông tin báo chí" in record.text("vi").lower()
        assert "according to press reports" in record.text("en").lower()
    assert "5 ngày làm việc (theo thông tin báo chí)" in kb.answer("law_107", "vi", date(2026, 7, 1)).text


def test_authorising_someone_from_abroad_is_worded_as_some_sources_say(kb):
    record = kb.record("answers.abroad", date(2026, 11, 23))
    assert record.confidence == "low"
    sentence = next(line for line in record.text("vi").splitlines() if "ủy quyền bằng văn bản" in line)
    assert sentence.startswith("Theo một số nguồn")


def test_the_age_14_account_rule_is_worded_as_the_guides_say(kb):
    for day in (date(2026, 6, 30), date(2026, 7, 1)):
        text = kb.answer("child_request", "vi", day).text
        assert text.startswith("Theo các hướng dẫn đã đăng")
    assert "Con từ 14 tuổi trở lên có thể phải" in kb.answer("child_request", "vi", date(2026, 6, 30)).text
    assert "Theo các hướng dẫn đã đăng" in kb.eligibility(date(2026, 6, 30)).age_rule.text("vi")


def test_no_fact_rests_on_a_tips_blog(kb):
    urls = {source.url for record in kb.all_records() for source in record.sources}
    assert not any("meo.tips" in url for url in urls)
    before = kb.eligibility(date(2026, 6, 30))
    assert before.purposes["job"].certificate_type is None  # ask the employer
    assert before.purposes["work_permit"].certificate_type is None
    assert "thường dùng khi xin việc" not in kb.answer("certificate_types", "vi", date(2026, 6, 30)).text.lower()


# 6. Quảng Ninh and Bắc Ninh are centrally-run cities from 2026 --------------------------------


@pytest.mark.parametrize(
    "code, day_before, city_from, city",
    [
        ("22", date(2026, 8, 31), date(2026, 9, 1), "Quảng Ninh"),
        ("24", date(2026, 9, 19), date(2026, 9, 20), "Bắc Ninh"),
    ],
)
def test_the_override_makes_a_city_from_its_effective_date(code, day_before, city_from, city):
    assert province_by_code(code, day_before).full_name == f"Tỉnh {city}"
    assert province_by_code(code, city_from).full_name == f"Thành phố {city}"
    assert province_by_code(code).full_name == f"Thành phố {city}"  # today, after both dates
    assert province_by_code(code).communes  # the communes still come from the snapshot


def test_every_override_is_sourced_dated_and_rated():
    overrides = province_overrides()
    assert {o.code for o in overrides} == {"22", "24"}
    for override in overrides:
        assert override.confidence == "medium" and "/2026/QH16" in override.basis
        assert override.sources and all(url.startswith("https://") for url in override.sources)


def test_a_city_name_is_recognised_in_a_citizens_words():
    match = find_province("tôi ở thành phố Bắc Ninh")
    assert match is not None and match.province.code == "24"


# 7. "Đừng trả lại ngay" meant "give back": "đừng thanh toán lại" --------------------------------


def test_payment_help_says_do_not_pay_again(kb):
    failed = kb.payment_help("vi", date(2026, 11, 23)).if_failed
    assert "đừng thanh toán lại" in failed.text and "trả lại" not in failed.text
