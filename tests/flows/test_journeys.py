"""Every flow through the dialogue core, in Vietnamese and English."""

from __future__ import annotations

import io

import pytest

from tests.flows.helpers import AWAITING_PAYMENT_CODE, COMPLETED_CODE, LAN_ID, LAN_LAST4_AND_BIRTH

LANGS = ["vi", "en"]


@pytest.mark.parametrize("lang", LANGS)
async def test_onboarding_asks_language_then_consent_then_province(chat, storage, lang):
    await chat.start()
    assert "onboarding:lang:vi" in chat.payloads and "onboarding:lang:en" in chat.payloads
    await chat.press(f"onboarding:lang:{lang}")
    assert "91/2025/QH15" in chat.text
    assert "onboarding:consent:yes" in chat.payloads
    await chat.press("onboarding:consent:more")
    assert "/forget" in chat.text
    await chat.press("onboarding:consent:yes")
    await chat.say("Bình Dương")  # a pre-2025 province, now part of Ho Chi Minh City
    assert "Bình Dương" in chat.text and ("Hồ Chí Minh" in chat.text or "Ho Chi Minh" in chat.text)
    assert "menu:open:guide" in chat.payloads
    user = await storage.get_user("web", "u1")
    assert user.language == lang and user.consent_at is not None and user.province_code == "79"


async def test_declining_consent_keeps_no_province_but_the_bot_still_answers(chat, storage):
    await chat.onboard("en", consent=False)
    assert "menu:open:fees" in chat.payloads
    user = await storage.get_user("web", "u1")
    assert user.consent_at is None and user.province_code is None
    await chat.say("what is the fee?")  # answered at once (issue 17), the calculator offered
    assert "answer about fee_info" in chat.text and "menu:open:fees" in chat.payloads


@pytest.mark.parametrize("lang", LANGS)
async def test_guide_pages_back_and_next_with_a_picture_and_problems(chat, lang):
    await chat.onboard(lang)
    await chat.press("menu:open:guide")
    step = chat.last[0]
    assert step.image is not None and step.edit_key == "guide" and "1/3" in step.text
    await chat.press("guide:step:1")
    assert "2/3" in chat.text and "guide:step:0" in chat.payloads
    await chat.press("guide:step:0")
    await chat.press("guide:problems:0")
    assert "problem 1" in chat.text
    await chat.press("guide:step:2")
    await chat.press("guide:done")
    assert "menu:open:guide" in chat.payloads


async def test_typed_numbers_and_words_choose_offered_options(chat):
    await chat.onboard("en")
    await chat.say("1")  # first menu option: the guide
    assert "1/3" in chat.text
    await chat.say("next")
    assert "2/3" in chat.text


@pytest.mark.parametrize("lang", LANGS)
async def test_eligibility_recommends_a_certificate_for_a_purpose(chat, lang):
    await chat.onboard(lang)
    await chat.press("menu:open:eligibility")
    await chat.press("eligibility:account:no")
    assert "how_to_get_level2" in chat.text
    await chat.press("eligibility:account_help:go")
    await chat.press("eligibility:for_whom:me")
    await chat.press("eligibility:age:adult")
    await chat.press("eligibility:purpose:job")
    assert "purpose_job" in chat.text and chat.last[0].link is not None
    await chat.press("menu:open:eligibility")
    await chat.press("eligibility:account:yes")
    await chat.press("eligibility:for_whom:other")
    assert "requester_other_adult" in chat.text


@pytest.mark.parametrize("lang", LANGS)
async def test_fee_calculator_quotes_amount_basis_date_and_source(chat, lang):
    await chat.onboard(lang)
    await chat.press("menu:open:fees")
    await chat.press("fees:group:standard")
    await chat.say("4")  # 4 paper copies: two included, two extra at 5.000 đ
    assert "210.000 đ" in chat.text and "16/2025/TT-BTC" in chat.text
    assert "23/11/2026" in chat.text  # as of the date quoted
    assert chat.last[0].link is not None
    # The possible waiver until 28/02/2027 is mentioned, never applied.
    assert "28/02/2027" in chat.text
    await chat.press("fees:date")
    await chat.say("01/06/2025")
    assert "180.000 đ" in chat.text  # 2025 online discount 170.000 + 2 copies
    await chat.press("fees:pay")
    assert "how_to_pay" in chat.text
    await chat.press("fees:failed")
    assert "if_failed" in chat.text and "do not pay twice" in chat.text


async def test_typed_copies_number_means_the_same_as_the_numbered_option(chat):
    await chat.onboard("vi")
    await chat.press("menu:open:fees")
    await chat.press("fees:group:standard")
    numbered = [b.title for r in chat.last for b in r.all_buttons]
    assert numbered[0].startswith("1 ") and numbered[2].startswith("3 ")
    await chat.say("3")  # option 3 on a channel without buttons, and 3 copies
    assert "205.000 đ" in chat.text


async def test_fee_calculator_for_exempt_people_explains_the_proof(chat):
    await chat.onboard("vi")
    await chat.press("menu:open:fees")
    await chat.press("fees:group:exempt")
    await chat.press("fees:copies:0")
    assert "0 đ" in chat.text and "chứng minh" in chat.text


@pytest.mark.parametrize("lang", LANGS)
async def test_status_of_a_completed_request_sends_the_qr_code(chat, lang):
    import zxingcpp
    from PIL import Image as PILImage

    await chat.onboard(lang)
    await chat.say(f"tra cứu hồ sơ {COMPLETED_CODE}")
    assert COMPLETED_CODE in chat.text and "status.ask_proof" not in chat.text
    await chat.say(LAN_ID)
    assert "COMPLETED" in chat.text  # the knowledge base's explanation of the stage
    qr = next(reply for reply in chat.last if reply.image is not None)
    decoded = zxingcpp.read_barcodes(PILImage.open(io.BytesIO(qr.image.png)))
    assert decoded[0].text == qr.link.url and "/verify/" in qr.link.url


async def test_status_lookup_accepts_last_four_digits_and_birth_date(chat):
    await chat.onboard("en")
    await chat.press("menu:open:status")
    await chat.say(AWAITING_PAYMENT_CODE)
    await chat.say(LAN_LAST4_AND_BIRTH)
    assert "AWAITING_PAYMENT" in chat.text and any(r.link for r in chat.last)
    await chat.press(f"status:notify:{AWAITING_PAYMENT_CODE}")
    assert AWAITING_PAYMENT_CODE in chat.text


async def test_status_lookup_rejects_someone_elses_request_and_locks_after_three_tries(chat):
    await chat.onboard("vi")
    for attempt in range(3):
        await chat.press("menu:open:status") if attempt == 0 else None
        await chat.say(COMPLETED_CODE)
        await chat.say("079085001234")  # Minh's id number, not Lan's
    assert "COMPLETED" not in chat.text
    assert "status:notify" not in " ".join(chat.payloads)
    await chat.press("menu:open:status")
    assert "menu:open:handoff" in chat.payloads  # locked: offered a human instead


async def test_subscribing_to_a_request_notifies_on_change(chat, storage):
    await chat.onboard("vi")
    await chat.press("menu:open:status")
    await chat.say(AWAITING_PAYMENT_CODE)
    await chat.say(LAN_ID)
    await chat.press(f"status:notify:{AWAITING_PAYMENT_CODE}")
    subscribers = await storage.subscribers(AWAITING_PAYMENT_CODE)
    assert [s.user_id for s in subscribers] == ["u1"]


async def test_status_lookup_shows_last_known_status_when_the_backend_is_down(chat, services):
    await chat.onboard("en")
    await chat.say(f"status {COMPLETED_CODE}")
    await chat.say(LAN_ID)
    services.backend.available = False
    await chat.say(f"status {COMPLETED_CODE}")
    await chat.say(LAN_ID)
    assert "not responding" in chat.text and "COMPLETED" in chat.text
    assert "status:retry" in chat.payloads


@pytest.mark.parametrize("lang", LANGS)
async def test_get_certificate_for_a_request_not_finished_says_it_is_not_ready(chat, lang):
    await chat.onboard(lang)
    await chat.press("menu:open:certificate")
    await chat.say(AWAITING_PAYMENT_CODE)
    await chat.say(LAN_ID)
    assert not any(reply.image for reply in chat.last)
    assert "QR" in chat.text


@pytest.mark.parametrize("lang", LANGS)
async def test_handoff_shows_contacts_and_keeps_a_question_for_an_officer(chat, storage, lang):
    await chat.onboard(lang)
    await chat.say("I want an officer" if lang == "en" else "cho tôi gặp cán bộ")
    assert "1900 0368" in chat.text
    await chat.press("handoff:ask")
    await chat.say("My number is 001190004567, when is my result?")
    assert "menu:open:guide" in chat.payloads
    rows = (
        await storage.list_audit(action="officer_question")
        if "action" in storage.list_audit.__code__.co_varnames
        else await storage.list_audit()
    )
    question = next(row for row in rows if row["action"] == "officer_question")
    assert "001190004567" not in str(question)


@pytest.mark.parametrize("lang", LANGS)
async def test_answers_state_facts_with_as_of_date_and_source(chat, lang):
    await chat.onboard(lang)
    await chat.say("bao lâu thì có kết quả" if lang == "vi" else "how long does it take")
    assert "processing_time" in chat.text and "01/11/2026" in chat.text
    assert chat.last[0].link.url.startswith("https://")


async def test_unsure_guess_offers_top_two_intents_then_menu_and_human(chat):
    await chat.onboard("vi")
    await chat.say("ừm cái đó thì sao")
    assert chat.payloads[:2] == ["intent:fee_info", "intent:processing_time"]
    await chat.press("intent:fee_info")
    assert "answer about fee_info" in chat.text and "menu:open:fees" in chat.payloads  # the answer first
    await chat.say("ừm")
    await chat.say("hả")
    assert "menu:open:handoff" in chat.payloads and "menu:show" in chat.payloads


@pytest.mark.parametrize("secret", ["482910", "mật khẩu của tôi là Abc12345", "OTP: 123456"])
async def test_a_message_that_looks_like_a_password_or_otp_is_warned_and_not_kept(chat, services, storage, secret):
    await chat.onboard("vi")
    await chat.say(secret)
    assert "OTP" in chat.text
    assert secret not in services.nlu.seen
    conversation = await storage.load_conversation("web", "u1")
    assert secret not in str(conversation.data)


async def test_asking_where_to_download_vneid_warns_about_fake_apps(chat):
    await chat.onboard("vi")
    await chat.say("link tải vneid apk ở đâu, cài thế nào")
    assert "APK" in chat.text


@pytest.mark.parametrize("lang", LANGS)
async def test_global_commands_work_in_any_state(chat, storage, lang):
    await chat.onboard(lang)
    await chat.press("menu:open:fees")
    await chat.say("/help")
    assert "/forget" in chat.text
    await chat.press("menu:open:status")
    await chat.say("/cancel")
    assert "menu:open:status" in chat.payloads
    await chat.say("/lang")
    await chat.press("onboarding:lang:" + ("en" if lang == "vi" else "vi"))
    assert (await storage.get_user("web", "u1")).language != lang
    await chat.say("/privacy")
    assert "onboarding:consent:no" in chat.payloads
    await chat.press("onboarding:consent:no")
    assert (await storage.get_user("web", "u1")).consent_at is None
    await chat.say("/menu")
    assert "menu:open:guide" in chat.payloads


async def test_forget_me_erases_the_user_and_starts_over(chat, storage):
    await chat.onboard("en")
    await chat.press("menu:open:status")
    await chat.say(AWAITING_PAYMENT_CODE)
    await chat.say(LAN_ID)
    await chat.press(f"status:notify:{AWAITING_PAYMENT_CODE}")
    assert await storage.subscribers(AWAITING_PAYMENT_CODE) != []
    await chat.say("/forget")
    await chat.press("menu:forget:yes")
    assert await storage.get_user("web", "u1") is None or (await storage.get_user("web", "u1")).language is None
    assert await storage.subscribers(AWAITING_PAYMENT_CODE) == []
    await chat.say("hello")
    assert "onboarding:lang:vi" in chat.payloads


async def test_a_repeated_platform_update_is_handled_once(dispatcher):
    from core.messages import Inbound, InboundKind

    inbound = Inbound(channel="telegram", user_id="9", chat_id="9", kind=InboundKind.START, update_id="42")
    assert await dispatcher.handle(inbound)
    assert await dispatcher.handle(inbound) == []


async def test_a_place_name_in_several_provinces_asks_which_province(chat, storage):
    await chat.start()
    await chat.press("onboarding:lang:vi")
    await chat.press("onboarding:consent:yes")
    await chat.say("xã Tân Phú")
    choices = [p for p in chat.payloads if p.startswith("onboarding:province:set:")]
    assert len(choices) >= 2
    await chat.press(choices[0])
    assert (await storage.get_user("web", "u1")).province_code == choices[0].rsplit(":", 1)[1]
    assert "menu:open:guide" in chat.payloads


async def test_a_ward_name_alone_sets_its_province(chat, storage):
    await chat.start()
    await chat.press("onboarding:lang:en")
    await chat.press("onboarding:consent:yes")
    await chat.say("phường Bến Thành")
    assert (await storage.get_user("web", "u1")).province_code == "79"


async def test_a_question_asked_instead_of_an_answer_is_answered_by_intent(chat):
    await chat.onboard("vi")
    await chat.press("menu:open:status")
    await chat.say("mà lệ phí bao nhiêu vậy")  # no code: a question, answered at once
    assert "answer about fee_info" in chat.text
    await chat.press("fees:group:standard")
    await chat.say("bao lâu thì có kết quả")  # asked instead of the number of copies
    assert "processing_time" in chat.text
