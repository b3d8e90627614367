"""Questions the bot could not answer: kept masked for admins, shown in the
statistics, erased by /forget, pruned after the retention period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from bot.dispatcher import Dispatcher
from bot.usage_stats import stats_text, usage_stats
from core.redaction import mask_question
from storage.feedback import FeedbackStore, nlu_yaml
from storage.migrations import alembic_config
from storage.schema import metadata, unanswered_questions
from storage.sql import SqlStorage
from tests.flows.helpers import Chat

PERSONAL = (
    "Tôi hỏi về mã 000.00.01.H01-261103-0012, số 0912 345 678, căn cước 001190004567, mail lan.nguyen@example.com"
)


@pytest.fixture
async def any_storage(storage_url):
    store = SqlStorage(storage_url)
    await store.init()
    yield store
    await store.close()


async def kept(storage) -> list[dict]:
    async with storage.transaction() as conn:
        rows = (await conn.execute(select(unanswered_questions))).all()
    return [row._asdict() for row in rows]


def test_personal_numbers_codes_and_emails_are_masked_and_length_capped():
    masked = mask_question(PERSONAL)
    for secret in ("0012", "261103", "345", "678", "001190004567", "lan.nguyen", "example.com", "H01"):
        assert secret not in masked, secret
    assert masked.startswith("Tôi hỏi về mã ***,")
    assert len(mask_question("xin hỏi " * 100)) <= 300
    assert mask_question("phí làm phiếu 2 bao nhiêu năm 2025") == "phí làm phiếu 2 bao nhiêu năm 2025"


async def test_unanswered_question_is_stored_masked_and_shown_in_stats(chat, storage):
    await chat.onboard()
    await chat.say(PERSONAL)  # the scripted NLU cannot place it: nlu_fallback
    await chat.say("Thời tiết hôm nay thế nào?")  # out of scope
    await chat.say("thoi tiet hom nay the nao")  # the same question, typed without diacritics
    rows = await kept(storage)
    assert len(rows) == 3
    assert all("0912" not in row["text"] and "@" not in row["text"] for row in rows)
    # No identity beyond the analytics' keyed hash.
    assert {row["user_hash"] for row in rows} == {storage.pseudonym("web", "u1")}
    assert set(rows[0]) == {
        "id",
        "user_hash",
        "language",
        "guess",
        "confirmed",
        "text",
        "normalized",
        "at",
        "update_id",
    }
    assert rows[0]["guess"] == "fee_info" and rows[1]["guess"] == "out_of_scope"

    stats = await usage_stats(storage)
    assert stats.unanswered[0].count == 2 and "hom nay" in stats.unanswered[0].text.lower().replace("ô", "o")
    assert stats.unanswered[0].guess == "out_of_scope"
    text = stats_text(stats)
    assert "Unanswered questions" in text and "2× " in text
    assert stats.as_dict()["unanswered"][0]["count"] == 2


async def test_a_turn_redone_after_another_worker_saved_keeps_its_question_once(chat, services, storage):
    await chat.onboard()
    other_worker = Chat(Dispatcher(services), _ids=count(100))  # same user, another process's dispatcher
    await other_worker.say("menu")  # this worker's cached conversation is now stale
    replies = await chat.say("Thời tiết hôm nay thế nào?")  # saved on the second try, after a version conflict
    # Out of scope: an honest answer with the official channels (issue 17), kept once for admins.
    assert len(replies) == 1 and "answer about out_of_scope" in replies[0].text
    (row,) = [row for row in await kept(storage) if row["user_hash"] == storage.pseudonym("web", "u1")]
    assert row["update_id"] == f"u1-{next(chat._ids) - 1}"


async def test_the_same_message_again_keeps_nothing_more_on_both_databases(any_storage):
    store = FeedbackStore(any_storage)

    def keep(user_id: str, update_id: str):
        return store.record_unanswered(
            "zalo_oa", user_id, "mấy giờ mở cửa", language="vi", guess="x", update_id=update_id
        )

    first = await keep("7", "e1")
    again = await keep("7", "e1")  # the same message handled twice
    await keep("7", "e2")
    await keep("8", "e1")  # update ids are per user here (Zalo OA event ids)
    assert again == first
    assert [(q.text, q.count) for q in await store.top_unanswered()] == [("mấy giờ mở cửa", 3)]


async def test_questions_are_not_kept_without_privacy_consent(chat, storage):
    await chat.onboard(consent=False)
    await chat.say("Thời tiết hôm nay thế nào?")
    assert await kept(storage) == []


async def test_forget_removes_the_kept_questions(chat, storage):
    await chat.onboard()
    await chat.say("Thời tiết hôm nay thế nào?")
    assert len(await kept(storage)) == 1
    await chat.press("menu:forget")
    await chat.press("menu:forget:yes")
    assert await kept(storage) == []


async def test_retention_prunes_questions_older_than_the_configured_days(any_storage):
    store = FeedbackStore(any_storage, keep_days=90)
    now = datetime.now(UTC)
    await store.record_unanswered("web", "new", "câu hỏi mới", language="vi", guess="x", at=now - timedelta(days=89))
    await store.record_unanswered("web", "old", "câu hỏi cũ", language="vi", guess="x", at=now - timedelta(days=91))
    assert len(await store.top_unanswered()) == 2  # recording prunes at most hourly
    assert await store.prune(now) == 1
    assert [q.text for q in await store.top_unanswered()] == ["câu hỏi mới"]
    # Statistics prune with the store's own retention too.
    await FeedbackStore(any_storage, keep_days=30).record_unanswered(
        "web", "x", "câu hỏi khác", language="vi", guess="x", at=now
    )
    stats = await usage_stats(any_storage, feedback=FeedbackStore(any_storage, keep_days=30))
    assert [q.text for q in stats.unanswered] == ["câu hỏi khác"]


async def test_forget_user_erases_questions_on_both_databases(any_storage):
    store = FeedbackStore(any_storage)
    await store.record_unanswered("telegram", "42", "làm sao để hỏi?", language="vi", guess="out_of_scope")
    await store.record_unanswered("telegram", "43", "làm sao để hỏi?", language="en", guess="out_of_scope")
    await any_storage.forget_user("telegram", "42")
    questions = await store.top_unanswered()
    assert [(q.text, q.count) for q in questions] == [("làm sao để hỏi?", 1)]


async def test_withdrawn_consent_deletes_the_users_questions_and_subscriptions_only(any_storage):
    store = FeedbackStore(any_storage)
    for user_id in ("42", "43"):
        await any_storage.get_or_create_user("telegram", user_id, user_id)
        await store.record_unanswered("telegram", user_id, "làm sao để hỏi?", language="vi", guess="out_of_scope")
        await any_storage.subscribe("telegram", user_id, "LLTP-7")
    await any_storage.withdraw_consent("telegram", "42")
    assert [(q.text, q.count) for q in await store.top_unanswered()] == [("làm sao để hỏi?", 1)]
    assert [s.user_id for s in await any_storage.subscribers("LLTP-7")] == ["43"]
    assert await any_storage.get_user("telegram", "42") is not None  # the profile stays: only /forget erases it


async def test_the_export_is_nlu_yml_an_editor_can_paste(any_storage):
    import yaml

    store = FeedbackStore(any_storage)
    for user in ("1", "2", "3"):
        await store.record_unanswered("web", user, "Lệ phí: cấp lại bao nhiêu?", language="vi", guess="fee_info")
    await store.record_unanswered("web", "4", "mấy giờ mở cửa # hôm nay", language="vi", guess="out_of_scope")
    exported = nlu_yaml(await store.top_unanswered(), days=14)
    data = yaml.safe_load(exported)
    assert data["version"] == "3.1"
    assert data["nlu"][0] == {"intent": "fee_info", "examples": "- Lệ phí: cấp lại bao nhiêu?\n"}
    assert data["nlu"][1]["examples"] == "- mấy giờ mở cửa # hôm nay\n"


async def test_migration_creates_and_drops_the_table_on_sqlite_and_postgresql(any_storage):
    async with any_storage.transaction() as conn:
        assert "unanswered_questions" in await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        drift = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata)
        )
    assert drift == []
    async with any_storage.transaction(write=True) as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0004"))
        assert "unanswered_questions" not in await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "head"))
        assert "unanswered_questions" in await conn.run_sync(lambda sync: inspect(sync).get_table_names())


async def test_a_guess_the_citizen_confirms_labels_the_question_for_the_nlu_data(chat, storage):
    import yaml

    await chat.onboard()
    await chat.say("làm giấy này mất mấy đồng")  # the scripted NLU is unsure: did you mean fee_info / processing_time?
    assert "intent:processing_time" in chat.payloads
    await chat.press("intent:processing_time")
    (row,) = await kept(storage)
    assert row["guess"] == "processing_time" and row["confirmed"] is True
    (question,) = await FeedbackStore(storage).top_unanswered()
    assert question.confirmed == 1
    exported = nlu_yaml([question], days=14)
    assert "confirmed by citizens" in exported
    assert yaml.safe_load(exported)["nlu"][0]["intent"] == "processing_time"
    # A later, unrelated guess press labels nothing else.
    await chat.press("intent:fee_info")
    assert (await kept(storage))[0]["guess"] == "processing_time"
