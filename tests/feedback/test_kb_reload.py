"""A running bot applies valid knowledge edits without a restart, keeps the
previous version when an edit fails `troly kb check`, and audits each
applied change."""

from __future__ import annotations

import asyncio
import logging
import shutil

import pytest

from core.messages import Inbound, InboundKind
from domain.knowledge import KNOWLEDGE_DIR
from tests.staff.conftest import serve_runtime, staff_settings

OLD = "Luật không quy định thời hạn sử dụng của Phiếu lý lịch tư pháp."
NEW = "Luật không quy định thời hạn sử dụng của Phiếu. Hãy hỏi nơi nhận hồ sơ của bạn."


@pytest.fixture
async def bot_with_editable_knowledge(tmp_path):
    knowledge = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, knowledge)
    settings = staff_settings(tmp_path, knowledge={"directory": str(knowledge), "reload_seconds": 0.05})
    _url, runtime, server = await serve_runtime(settings)
    yield runtime, knowledge / "answers.yml"
    await server.stop()


async def ask_validity(runtime, n: int) -> str:
    inbound = Inbound(
        channel="web",
        user_id="citizen",
        chat_id="citizen",
        kind=InboundKind.BUTTON,
        payload="answers:validity",
        update_id=f"v{n}",
    )
    replies = await runtime.handle(inbound)
    return replies[0].text


async def reloads(runtime) -> list[dict]:
    return [row for row in await runtime.storage.list_audit() if row["action"] == "kb_reloaded"]


async def eventually(check, timeout: float = 5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := await check()):
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)
    return result


async def test_hot_reload_applies_a_valid_edit_in_a_running_bot(bot_with_editable_knowledge):
    runtime, answers = bot_with_editable_knowledge
    assert OLD in await ask_validity(runtime, 1)
    answers.write_text(answers.read_text(encoding="utf-8").replace(OLD, NEW), encoding="utf-8")

    async def changed():
        return NEW in await ask_validity(runtime, asyncio.get_running_loop().time())

    await eventually(changed)
    (entry,) = await eventually(lambda: reloads(runtime))  # audited just after the new version is served
    assert entry["actor"] == "system:kb_watch"
    assert list(entry["details"]["files"]) == ["answers.yml"]
    assert len(entry["details"]["files"]["answers.yml"]) == 64  # sha256 of the new content
    assert entry["details"]["changed"] == ["answers.validity"]


async def test_hot_reload_rejects_an_invalid_edit_and_keeps_the_old_answer(bot_with_editable_knowledge, caplog):
    runtime, answers = bot_with_editable_knowledge
    broken = answers.read_text(encoding="utf-8").replace(OLD, NEW).replace("confidence: high", "confidence: sure", 1)
    with caplog.at_level(logging.ERROR, logger="bot.kb_watch"):
        answers.write_text(broken, encoding="utf-8")

        async def rejected():
            return any("rejected" in record.getMessage() for record in caplog.records)

        await eventually(rejected)
        for _ in range(3):  # several more looks at the same broken files: nothing new, nothing logged again
            assert await runtime.kb_watcher.check() is None
    errors = [record.getMessage() for record in caplog.records if "rejected" in record.getMessage()]
    assert len(errors) == 1
    assert "answers.yml" in errors[0] and "'sure' is not one of" in errors[0]
    assert OLD in await ask_validity(runtime, 2)
    assert await reloads(runtime) == []

    # Fixing the edit applies it.
    answers.write_text(broken.replace("confidence: sure", "confidence: high", 1), encoding="utf-8")

    async def applied():
        return await reloads(runtime)

    await eventually(applied)
    assert NEW in await ask_validity(runtime, 3)


async def test_answers_keep_flowing_while_the_knowledge_reloads(bot_with_editable_knowledge):
    runtime, answers = bot_with_editable_knowledge
    original = answers.read_text(encoding="utf-8")
    texts = []
    for n in range(40):
        if n % 10 == 5:
            edited = original.replace(OLD, NEW) if n % 20 == 5 else original
            answers.write_text(edited, encoding="utf-8")
        texts.append(await ask_validity(runtime, 100 + n))
        await asyncio.sleep(0.02)
    assert all(OLD in text or NEW in text for text in texts)  # every message answered, from one version or the other
    assert len(texts) == 40


async def test_workers_applying_the_same_edit_audit_it_once(tmp_path):
    from types import SimpleNamespace

    from bot.kb_watch import KnowledgeWatcher
    from domain.knowledge import load_knowledge
    from storage.sql import SqlStorage

    knowledge = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, knowledge)
    storage = SqlStorage(f"sqlite+aiosqlite:///{tmp_path}/shared.sqlite3")
    await storage.init()
    try:
        workers = [SimpleNamespace(knowledge=load_knowledge(knowledge)) for _ in range(2)]
        watchers = [KnowledgeWatcher(services, storage, knowledge, interval=60) for services in workers]
        assert [await watcher.check() for watcher in watchers] == [None, None]  # nothing changed yet
        answers = knowledge / "answers.yml"
        answers.write_text(answers.read_text(encoding="utf-8").replace(OLD, NEW), encoding="utf-8")
        assert [await watcher.check() for watcher in watchers] == [True, True]
        assert all(NEW in services.knowledge.answer("validity", "vi").text for services in workers)
        assert len([row for row in await storage.list_audit() if row["action"] == "kb_reloaded"]) == 1
    finally:
        await storage.close()


async def test_the_runtime_keeps_unanswered_questions_as_long_as_configured(tmp_path):
    settings = staff_settings(tmp_path, feedback={"unanswered_keep_days": 7}, knowledge={"reload_seconds": 0})
    _url, runtime, server = await serve_runtime(settings)
    try:
        assert runtime.feedback.keep_days == 7
        assert runtime.dispatcher.services.feedback is runtime.feedback
        assert runtime.kb_watcher is None  # reload_seconds: 0 turns the watcher off
    finally:
        await server.stop()
