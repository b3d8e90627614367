"""The dispatcher's own guarantees: order per user, duplicates, interceptors."""

from __future__ import annotations

import asyncio

from bot.dispatcher import Dispatcher
from core.messages import Inbound, InboundKind, Reply
from tests.flows.helpers import Chat, make_services


async def test_concurrent_messages_of_one_user_are_handled_one_at_a_time(storage):
    dispatcher = Dispatcher(make_services(storage))
    chat = Chat(dispatcher)
    await chat.onboard("en")
    before = (await storage.load_conversation("web", "u1")).version
    messages = [
        Inbound("web", "u1", "u1", kind=InboundKind.BUTTON, payload=f"guide:step:{n % 3}", update_id=f"c{n}")
        for n in range(20)
    ]
    results = await asyncio.gather(*(dispatcher.handle(message) for message in messages))
    assert all(results)
    assert (await storage.load_conversation("web", "u1")).version == before + 20


async def test_an_interceptor_claims_staff_commands_before_the_dialogue(storage):
    async def staff(inbound: Inbound, user):
        return [Reply("staff only")] if inbound.text == "/roles" else None

    chat = Chat(Dispatcher(make_services(storage), interceptors=[staff]))
    await chat.onboard("vi")
    await chat.say("/roles")
    assert chat.text == "staff only"
    await chat.say("/menu")
    assert "menu:open:guide" in chat.payloads


async def test_a_flow_bug_apologises_and_returns_to_the_menu(storage):
    services = make_services(storage)
    chat = Chat(Dispatcher(services))
    await chat.onboard("en")

    def broken_steps(lang, on=None):
        raise RuntimeError("boom")

    services.knowledge.guide_steps = broken_steps
    await chat.press("menu:open:guide")
    assert "something went wrong" in chat.text and "menu:open:fees" in chat.payloads
