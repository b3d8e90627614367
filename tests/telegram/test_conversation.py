"""A whole conversation through Telegram against the real app (`bot.app`:
dispatcher, flows, knowledge, embedded NLU, SQLite storage and the
in-process mock government backend): start from an outreach link -> guide
-> fee -> status -> QR photo, in long-polling mode and in webhook mode."""

from __future__ import annotations

import asyncio

import pytest

from bot.app import Runtime, create_app
from bot.config import Settings
from tests.certificate_pages import HEADINGS, decode_qr, sign_links_for_phones, verification_heading
from tests.fakes.telegram_api import loopback_socket, serve

COMPLETED_CODE = "000.00.01.H01-261103-0012"  # seeded in the mock backend: Nguyễn Thị Lan, COMPLETED
LAN_ID = "001190004567"


@pytest.fixture(params=["polling", "webhook"])
async def troly(request, api, tmp_path, nlu_model_dir, monkeypatch):
    """The real app, its Telegram channel pointed at the fake Bot API; yields
    the app's Telegram channel and the update ids the dispatcher answered."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", api.token)
    monkeypatch.setenv("TELEGRAM_BASE_URL", api.base_url)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "app-webhook-secret")
    sock = loopback_socket()
    webhook_url = ""
    if request.param == "webhook":
        webhook_url = f"http://127.0.0.1:{sock.getsockname()[1]}/telegram/webhook"
    settings = Settings.model_validate(
        {
            "storage": {"url": f"sqlite+aiosqlite:///{tmp_path}/troly.sqlite3"},
            "nlu": {"model_dir": str(nlu_model_dir)},
            "backend": {"mock_database": str(tmp_path / "mock-backend.sqlite3")},
            "media": {"directory": str(tmp_path / "media"), "secret_file": str(tmp_path / "media-secret")},
            "telegram": {"webhook_url": webhook_url, "polling_timeout_seconds": 1},
        }
    )
    runtime = Runtime(settings, mock_port=0)
    handled: list[str] = []
    handle = runtime.handle

    async def recording(inbound):
        replies = await handle(inbound)
        handled.append(inbound.update_id)
        return replies

    runtime.handle = recording
    async with serve(create_app(settings, runtime), sock):
        sign_links_for_phones(runtime.mock)
        channel = runtime.channel("telegram")
        await asyncio.wait_for(channel.ready.wait(), 10)
        yield channel, handled


async def test_citizen_goes_from_outreach_link_through_guide_fee_and_status_to_the_qr(api, troly):
    channel, handled = troly

    async def answered(update: dict, count: int) -> None:
        """Wait until the update is answered and the chat shows `count` bot messages."""
        await api.wait_for(lambda: str(update["update_id"]) in handled and channel.idle, timeout=10)
        assert len(api.bot_messages()) == count, [message.text[:50] for message in api.bot_messages()]

    async def press(title: str, count: int) -> None:
        await answered(await api.user_presses(title), count)

    async def say(text: str, count: int) -> None:
        await answered(await api.user_says(text), count)

    first = await api.user_says("/start xa_TanHoa-01")
    await answered(first, 1)
    assert {"Tiếng Việt", "English"} <= set(api.last_bot_message().button_titles)
    await press("Tiếng Việt", 2)
    assert "91/2025/QH15" in api.last_bot_message().text
    await press("✅ Đồng ý", 3)
    await press("Bỏ qua", 4)  # "Được ạ..." and the menu in one message
    assert "💰 Tính phí" in api.last_bot_message().button_titles
    user = await channel.storage.get_user("telegram", "42")
    assert user.source == "xa_TanHoa-01" and user.language == "vi"

    # The guide: a picture per step, paged in place.
    await press("📱 Hướng dẫn xin phiếu", 5)
    step = api.last_bot_message()
    assert step.photo_file_id and step.text.startswith("Bước 1/")
    await press("Tiếp ▶", 5)
    assert step.text.startswith("Bước 2/") and step.edits == 1 and len(api.calls_to("editMessageMedia")) == 1
    await press("◀ Quay lại", 5)
    assert step.text.startswith("Bước 1/")
    uploads = [call for call in api.calls_to("sendPhoto") + api.calls_to("editMessageMedia") if call.files]
    assert len(uploads) == 2  # step 1 was uploaded once, then shown again by file_id

    # The fee: typed "4" answers the offered question.
    await press("🏠 Menu", 6)
    await press("💰 Tính phí", 7)
    await press("Công dân nói chung", 8)
    await say("4", 10)
    fee = api.bot_messages()[-2]
    assert "210.000 đ" in fee.text and "Cách thanh toán" in " ".join(fee.button_titles)

    # The status of a finished request, understood from free text, then the QR code as a photo.
    await say(f"tra cứu hồ sơ {COMPLETED_CODE}", 11)
    await say(LAN_ID, 14)
    status, qr, how_to_show = api.bot_messages()[-3:]
    assert COMPLETED_CODE in status.text and "Đã trả kết quả" in status.text
    upload = api.calls_to("sendPhoto")[-1]
    verify_url = decode_qr(next(iter(upload.files.values())))
    assert await verification_heading(verify_url) == HEADINGS["valid"]  # the QR opens a page that accepts it
    assert qr.photo_file_id and (verify_url in qr.text or verify_url in str(qr.buttons))
    assert how_to_show.text.startswith("Cách xuất trình")

    if api.webhook:  # Telegram retries an update it thinks we missed: answered once only
        assert await api.replay(first) == 200
        await channel.drain()
        assert len(api.bot_messages()) == 14 and handled.count(str(first["update_id"])) == 1
    assert not [call for call in api.calls if call.status != 200 and call.method != "getUpdates"]
    assert len(api.answered_callbacks) == 9  # every press answered: no spinning buttons


async def test_a_question_as_the_first_message_is_answered_at_once(api, troly):
    channel, handled = troly
    update = await api.user_says("Làm phiếu mất bao lâu vậy?")
    await api.wait_for(lambda: str(update["update_id"]) in handled and channel.idle, timeout=10)
    texts = "\n".join(message.text for message in api.bot_messages())
    assert "ngày làm việc" in texts
    assert "English" not in api.last_bot_message().button_titles


async def test_the_guide_opened_again_after_other_messages_comes_at_the_bottom(api, troly):
    """Edits only where the citizen is looking: the guide turns its page in
    place while it is the newest message; asked for again after other
    messages, it comes as a new message at the bottom, the old one untouched."""
    channel, handled = troly

    async def answered(update: dict) -> None:
        await api.wait_for(lambda: str(update["update_id"]) in handled and channel.idle, timeout=10)

    await answered(await api.user_says("/start"))
    await answered(await api.user_presses("Tiếng Việt"))
    await answered(await api.user_presses("✅ Đồng ý"))
    await answered(await api.user_presses("Bỏ qua"))
    await answered(await api.user_presses("📱 Hướng dẫn xin phiếu"))
    old_guide = api.last_bot_message()
    await answered(await api.user_presses("Tiếp ▶"))
    assert old_guide.text.startswith("Bước 2/") and old_guide.edits == 1

    await answered(await api.user_says("lệ phí bao nhiêu?"))
    assert api.last_bot_message() is not old_guide
    photos_before, edits_before = len(api.calls_to("sendPhoto")), old_guide.edits
    await answered(await api.user_says("cách xin phiếu trên VNeID"))
    new_guide = api.last_bot_message()
    assert new_guide is not old_guide and new_guide.text.startswith("Bước 1/")  # at the bottom
    assert len(api.calls_to("sendPhoto")) == photos_before + 1 and old_guide.edits == edits_before
    assert old_guide.text.startswith("Bước 2/")  # the old one far up is left as it was

    await answered(await api.user_presses("Tiếp ▶", message=new_guide))
    assert new_guide.text.startswith("Bước 2/") and new_guide.edits == 1 and old_guide.edits == edits_before


async def test_a_telegram_users_language_code_is_used_until_they_choose_a_language(api, troly):
    """Issue 20, finding 10: Telegram says which language the user's app is
    in; someone who has not chosen a language yet is answered in it (English
    or Vietnamese; any other gets Vietnamese), and their own choice wins."""
    channel, handled = troly
    english_help, vietnamese_help = "I help you request a criminal-record certificate", "Tôi giúp bạn xin Phiếu"

    async def answered(update: dict, user_id: int) -> str:
        await api.wait_for(lambda: str(update["update_id"]) in handled and channel.idle, timeout=10)
        return api.last_bot_message(user_id).text

    async def says(text: str, user_id: int, language_code: str | None) -> str:
        return await answered(await api.user_says(text, user_id=user_id, language_code=language_code), user_id)

    assert english_help in await says("/help", 77, "en")
    assert vietnamese_help in await says("/help", 78, "vi")
    assert vietnamese_help in await says("/help", 79, "fr")
    assert vietnamese_help in await says("/help", 80, None)
    # A first message in neither language (a request code): the hint decides.
    assert "please confirm it is yours" in await says(COMPLETED_CODE, 81, "en-US")

    await says("/start", 77, "en")
    await answered(await api.user_presses("Tiếng Việt", user_id=77, language_code="en"), 77)
    assert vietnamese_help in await says("/help", 77, "en")  # chosen: the hint no longer counts
