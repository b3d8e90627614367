"""Issue 19, item 7: a certificate's QR code never encodes an address no phone
can open. With the mock's links on a name phones reach (`troly run --lan`, or
a public URL) the reply carries the QR code of the link; with the links on the
demo laptop's loopback it carries the link alone, which opens on the laptop,
and says why there is no QR code and how staff get one."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

from bot.dispatcher import Dispatcher
from tests.flows.helpers import COMPLETED_CODE, LAN_ID, Chat, fake_backend, make_services

READY = {"vi": "Phiếu đã có kết quả", "en": "Your certificate is ready"}
NO_QR_LINE = {"vi": "chưa có mã QR để điện thoại mở được", "en": "no QR code a phone could open"}


def chat_with_links_on(storage, public_url: str) -> Chat:
    return Chat(Dispatcher(make_services(storage, backend=fake_backend(public_url))))


async def ask_for_certificate(chat: Chat, lang: str, goal: str) -> None:
    await chat.onboard(lang)
    await chat.press(f"menu:open:{goal}")
    await chat.say(COMPLETED_CODE)
    await chat.say(LAN_ID)


def verify_links(chat: Chat) -> list[str]:
    return [reply.link.url for reply in chat.last if reply.link is not None and "/verify/" in reply.link.url]


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("goal", ["certificate", "status"])
async def test_a_link_phones_can_open_comes_with_its_qr_code(storage, lang, goal):
    chat = chat_with_links_on(storage, "http://192.168.137.1:8090")
    await ask_for_certificate(chat, lang, goal)
    images = [reply.image for reply in chat.last if reply.image is not None]
    assert len(images) == 1
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(images[0].png)))
    assert [code.text for code in decoded] == verify_links(chat)
    assert decoded[0].text.startswith("http://192.168.137.1:8090/verify/")
    assert NO_QR_LINE[lang] not in chat.text and "--lan" not in chat.text


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("goal", ["certificate", "status"])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0.0.0.0", "[::1]"])
async def test_a_loopback_link_comes_alone_with_why_there_is_no_qr(storage, lang, goal, host):
    chat = chat_with_links_on(storage, f"http://{host}:8090")
    await ask_for_certificate(chat, lang, goal)
    assert not any(reply.image for reply in chat.last)
    links = verify_links(chat)
    assert len(links) == 1 and links[0].startswith(f"http://{host}:8090/verify/")  # it opens on the laptop
    assert NO_QR_LINE[lang] in chat.text and "troly run --lan" in chat.text
    assert READY[lang] in chat.text
    assert not any(words in chat.text.lower() for words in ("quét mã", "scan the qr", "mã qr này", "this qr code"))
    assert "certificate." not in chat.text  # no raw text key
