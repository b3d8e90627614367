"""Questions typed the way citizens type them reach their answer in the first
reply (issue 17): the real NLU, the real knowledge base and the real
dispatcher, each question to a new user as their very first message."""

from __future__ import annotations

import pytest

from bot.dispatcher import Dispatcher
from domain.knowledge import load_knowledge
from nlu.entities import extract
from tests.flows.helpers import Chat, make_services


@pytest.fixture
def dispatcher(storage, interpreter):
    return Dispatcher(make_services(storage, knowledge=load_knowledge(), nlu=interpreter))


@pytest.mark.parametrize(
    ("question", "facts"),
    [
        # The fee: the amount at once, the reduced fee and the copies, and the calculator offered.
        ("phí làm lý lịch tư pháp bao nhiêu vậy ad", ["200.000 đ", "100.000 đ", "5.000 đ"]),
        ("how much does the certificate cost", ["200.000 đ"]),
        # What the question says about the asker fills the answer.
        ("sinh viên thì phí làm lý lịch tư pháp bao nhiêu", ["100.000 đ", "sinh viên"]),
        ("bố tôi 65 tuổi làm phiếu có mất phí không", ["0 đ", "người cao tuổi"]),
        ("phí làm phiếu lấy 4 bản giấy hết bao nhiêu", ["210.000 đ", "2 bản giấy thêm"]),
        # Several counts: the largest is the total asked about.
        ("ngoài 2 bản có sẵn thì bản thứ 3 tính phí bao nhiêu", ["205.000 đ"]),
        # Who issues it now: the police, and the Sở Tư pháp no longer does.
        ("so tu phap con cap phieu ly lich khong", ["Công an", "Sở Tư pháp không còn"]),
        ("giờ cơ quan nào cấp lý lịch tư pháp", ["Công an tỉnh"]),
        # ... and a province the question names gets its own police unit.
        ("ở Đắk Lắk giờ cơ quan nào cấp lý lịch tư pháp", ["Sở Tư pháp không còn", "Công an tỉnh Đắk Lắk"]),
        # Answers no intent reached before.
        ("mất điện thoại thì tài khoản vneid sao", ["1900 0368"]),
        ("con tôi 12 tuổi xin phiếu được không", ["dưới 14 tuổi"]),
        ("đang ở hàn quốc xin lý lịch tư pháp thế nào", ["Đại sứ quán không cấp"]),
        ("có người gọi xưng công an đòi mã otp vneid", ["OTP"]),
        ("luật lý lịch tư pháp mới thay đổi gì", ["107/2025/QH15"]),
        ("hủy hồ sơ thì có được hoàn phí không", ["chưa được công bố"]),
        ("xong rồi thì nhận phiếu điện tử ở đâu", ["VNeID"]),
        # Someone applying for me: both certificates' authorisation rules.
        ("anh trai nộp lý lịch tư pháp thay tôi được không", ["ủy quyền", "Phiếu số 1", "Phiếu số 2 không"]),
        ("can my sister request the certificate for me", ["authorise", "Phiếu 1", "Phiếu 2"]),
        # Where to apply in person: the receiving unit of the province named (else the generic one).
        ("ở Đắk Lắk muốn nộp hồ sơ lý lịch trực tiếp thì tới đâu", ["Phòng Hồ sơ nghiệp vụ, Công an tỉnh Đắk Lắk"]),
        ("không làm online được, ra quầy nộp ở chỗ nào", ["Phòng Hồ sơ nghiệp vụ, Công an tỉnh/thành phố"]),
        # Applying for oneself is not a question of authorising anyone: the guide.
        ("tôi tự xin cho bản thân được không", ["Bước 1/8", "mức 2"]),
        # Applying on the web: the portal.
        ("có trang web nào nộp lltp mà không cần app không", ["dichvucong.gov.vn"]),
        # A purpose named: that purpose's recommendation.
        ("làm giấy phép lao động thì nộp phiếu nào", ["giấy phép lao động"]),
        ("thi tuyển viên chức nộp loại phiếu gì", ["công chức, viên chức", "Phiếu số 1"]),
        ("muốn mở công ty thì cần lý lịch tư pháp số mấy", ["doanh nghiệp", "Phiếu số 1"]),
        ("muốn tự xem lý lịch của mình thì xin phiếu gì", ["Phiếu số 2 cho chính mình"]),
        # A purpose named in a question about the certificate is ours, even where the words look like another procedure.
        ("xin giấy phép lao động cho chồng người nước ngoài thì nộp phiếu nào", ["giấy phép lao động", "Phiếu số 1"]),
        # ... but the procedure itself is not: the honest referral.
        ("thủ tục xin giấy phép lao động", ["dichvucong.gov.vn"]),
        # One aspect of one certificate type: that record alone, not both types.
        ("phiếu số 1 dùng vào những việc gì vậy", ["Dùng khi cơ quan, tổ chức yêu cầu"]),
        ("ai thì được cấp phiếu số 2", ["cơ quan tiến hành tố tụng"]),
        ("does phieu 2 show expunged convictions", ["Phiếu 2 shows all convictions"]),
        # Not ours: an honest "not mine" with the official channels.
        ("làm sổ đỏ mất bao lâu", ["dichvucong.gov.vn"]),
        # A foreigner living in Vietnam: who Phiếu 1 is for, not the answer for Vietnamese abroad.
        ("người nước ngoài sống ở hà nội có xin được phiếu lý lịch không", ["người nước ngoài đã hoặc đang cư trú"]),
        ("can a foreign resident of vietnam get the certificate", ["foreigners who live or lived in Vietnam"]),
    ],
)
async def test_a_first_question_gets_its_answer_in_the_first_reply(dispatcher, question, facts):
    chat = Chat(dispatcher)
    await chat.say(question)
    for fact in facts:
        assert fact in chat.text, (question, chat.text)


async def test_the_fee_answer_offers_the_calculator_for_ones_own_case(dispatcher):
    chat = Chat(dispatcher)
    await chat.say("lệ phí xin phiếu lý lịch tư pháp")
    assert "menu:open:fees" in chat.payloads
    await chat.press("menu:open:fees")
    assert "fees:group:reduced" in chat.payloads


@pytest.mark.parametrize(
    ("question", "step", "facts"),
    [
        # A question about one step opens the guide at that step, its problems shown too.
        ("tạo yêu cầu mới trên vneid bị báo lỗi", 3, ["Tạo mới yêu cầu", "chưa thanh toán"]),
        ("khai nơi cư trú trong tờ khai từ năm nào", 4, ["14 tuổi"]),
        ("không thấy mục thủ tục hành chính trên vneid", 2, ["tìm kiếm"]),
        ("bấm gửi yêu cầu xong có được báo gì không", 6, ["tin nhắn"]),
        ("where do I pick the receiving agency", 5, ["provincial police"]),
        # Said other ways: a wrong name in the form, getting it by post, the app refusing a new request.
        ("họ tên cha mẹ trên tờ khai bị sai thì làm sao", 4, ["Công an xã/phường"]),
        ("my personal details in the form are not right", 4, ["commune or ward"]),
        ("lấy phiếu qua bưu điện thì chọn chỗ nào", 5, ["bưu điện"]),
        ("sao không tạo được yêu cầu cấp phiếu mới vậy", 3, ["chưa thanh toán"]),
    ],
)
async def test_a_question_about_one_step_gets_that_step_and_its_picture(dispatcher, question, step, facts):
    chat = Chat(dispatcher)
    await chat.say(question)
    reply = next(reply for reply in chat.last if reply.edit_key == "guide")
    assert f"{step}/8" in reply.text, (question, reply.text)
    for fact in facts:
        assert fact in reply.text, (question, reply.text)
    assert reply.image is not None and reply.image.key.endswith(f"step-{step}")
    # Back and Next move from that step.
    assert f"guide:step:{step - 2}" in chat.payloads and f"guide:step:{step}" in chat.payloads


async def test_a_general_guide_question_still_starts_at_step_one(dispatcher):
    chat = Chat(dispatcher)
    await chat.say("hướng dẫn làm lý lịch tư pháp trên vneid")
    assert "Bước 1/8" in chat.text
    assert "Lỗi thường gặp" not in chat.text and "1900 0368" not in chat.text


async def test_a_province_named_in_a_question_is_used_for_the_answer_only(dispatcher, storage):
    chat = Chat(dispatcher, user_id="where-1")
    await chat.say("ở Đắk Lắk muốn nộp hồ sơ lý lịch trực tiếp thì tới đâu")
    assert "Công an tỉnh Đắk Lắk" in chat.text
    user = await storage.get_user("web", "where-1")
    assert user is None or user.province_code is None


class UnsureInterpreter:
    """The NLU unsure between two guesses (Rasa's `nlu_fallback`), as for an unusual phrasing."""

    def __init__(self, *guesses: str) -> None:
        self.guesses = guesses

    async def parse(self, text: str) -> dict:
        ranking = [{"name": name, "confidence": 0.4 - 0.1 * n} for n, name in enumerate(self.guesses)]
        entities = extract(text)  # the real entities: a certificate type, a number of copies
        return {
            "text": text,
            "intent": {"name": "nlu_fallback", "confidence": 0.45},
            "entities": entities,
            "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.45}, *ranking],
        }


def unsure(storage, *guesses: str) -> Dispatcher:
    return Dispatcher(make_services(storage, knowledge=load_knowledge(), nlu=UnsureInterpreter(*guesses)))


@pytest.mark.parametrize(
    ("guesses", "question", "answer"),
    [
        # A guess the question's words confirm is answered, not asked back.
        (("account_help", "guide_step"), "tờ khai điền sẵn tên cha mẹ sai", "Bước 4/8"),
        (("abroad", "certificate_types"), "làm giấy phép lao động thì sao", "giấy phép lao động"),
        (("certificate_types", "abroad"), "phiếu 2 ai xin được", "Phiếu số 2"),
        # ... or the words of the guess's topic (nlu/data/topic_words.yml), the second guess too.
        (("validity", "abroad"), "phiếu xin hồi năm ngoái giờ còn dùng được không", "không quy định thời hạn"),
        (("request_guide", "fee_info"), "làm cái phiếu ni tốn nhiêu tiền", "200.000 đ"),
        (("payment_help", "fee_info"), "do disabled people have to pay", "0 đ"),
        # ... or what the fee depends on: a fee group the fee rules name, a number of copies.
        (("payment_help", "fee_info"), "people with disabilities and the fee?", "0 đ"),
        (("guide_step", "fee_info"), "what if i want 5 copies", "215.000 đ"),
    ],
)
async def test_an_unsure_guess_the_words_confirm_is_answered(storage, guesses, question, answer):
    chat = Chat(unsure(storage, *guesses))
    await chat.say(question)
    assert answer in chat.text and "Có phải bạn muốn hỏi" not in chat.text, chat.text


async def test_an_unsure_guess_of_another_topic_is_not_confirmed_by_the_fee_words(storage):
    chat = Chat(unsure(storage, "payment_help", "guide_step"))
    await chat.say("tốn bao nhiêu tiền vậy")
    assert "Có phải bạn muốn hỏi" in chat.text


class OutOfScopeInterpreter(UnsureInterpreter):
    """The NLU sure that a question is not about the certificate."""

    async def parse(self, text: str) -> dict:
        parse = await super().parse(text)
        ranking = [{"name": "out_of_scope", "confidence": 0.8}, *parse["intent_ranking"][1:]]
        return {**parse, "intent": ranking[0], "intent_ranking": ranking}


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        # A purpose of the knowledge data, with the certificate named: which type it needs.
        ("làm thủ tục nhận con nuôi cần phiếu lý lịch số mấy", "Phiếu số 1 hay số 2"),
        ("hồ sơ nhập quốc tịch cần lý lịch tư pháp không", "Phiếu số 1 hay số 2"),
        # No certificate named, or no purpose of ours: honestly not ours.
        ("thủ tục nhận con nuôi ở đâu", "dichvucong.gov.vn"),
        ("làm hộ chiếu có cần phiếu lý lịch không", "dichvucong.gov.vn"),
    ],
)
async def test_out_of_scope_naming_the_certificate_and_a_purpose_gets_that_purpose(storage, question, answer):
    services = make_services(storage, knowledge=load_knowledge(), nlu=OutOfScopeInterpreter("abroad", "validity"))
    chat = Chat(Dispatcher(services))
    await chat.say(question)
    assert answer in chat.text, chat.text


async def test_an_unsure_guess_without_such_words_is_still_asked_back(storage):
    chat = Chat(unsure(storage, "account_help", "guide_step"))
    await chat.say("cái này là sao vậy")
    assert "Có phải bạn muốn hỏi" in chat.text
    assert "intent:guide_step" in chat.payloads and "intent:account_help" in chat.payloads


async def test_a_question_in_the_middle_of_the_fee_calculator_is_answered_and_the_calculator_offered_back(
    dispatcher,
):
    chat = Chat(dispatcher)
    await chat.onboard("vi")
    await chat.press("menu:open:fees")
    await chat.press("fees:group:standard")  # now at the copies step
    await chat.say("làm lltp cần mang giấy tờ gì")
    assert "Cơ sở dữ liệu quốc gia về dân cư" in chat.text
    assert "Tiếp tục tính phí?" in chat.text
    await chat.press("intent:resume")
    await chat.say("ba bản")  # the copies step again, the group kept
    assert "205.000 đ" in chat.text
