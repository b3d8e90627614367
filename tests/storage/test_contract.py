"""The storage contract: one suite, run on SQLite and on PostgreSQL.

Whatever the bot relies on (profiles, consent, erasure, resumable
conversations, de-duplication, subscriptions, analytics, audit, per-user
ordering, migrations) is asserted here against both databases.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, make_url, select, text

from storage import resolve_url
from storage.base import Conversation, ConversationConflict, DuplicateUpdate, User, user_actor
from storage.privacy import tables_keyed_by_user
from storage.schema import metadata, seen_updates
from storage.sql import SqlStorage

TELEGRAM = "telegram"


# --- users ------------------------------------------------------------------
async def test_new_user_round_trips_every_profile_field(storage):
    created = await storage.get_or_create_user(TELEGRAM, "1001", "chat-1001")
    assert (created.language, created.consent_at, created.announcements_opt_out) == (None, None, False)
    assert created.created_at is not None and created.created_at.tzinfo is not None

    consent = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    profile = User(
        channel=TELEGRAM,
        user_id="1001",
        chat_id="chat-1001",
        language="vi",
        province_code="01",
        commune_code="00004",
        consent_at=consent,
        announcements_opt_out=True,
        unreachable=False,
        source="poster-hanoi",
        created_at=created.created_at,
        last_seen_at=created.last_seen_at,
    )
    await storage.save_user(profile)

    assert await storage.get_user(TELEGRAM, "1001") == profile
    assert await storage.get_user(TELEGRAM, "someone-else") is None
    assert await storage.get_user("zalo", "1001") is None  # ids are per channel


async def test_returning_user_keeps_profile_and_gets_new_chat_id(storage):
    first = await storage.get_or_create_user("zalo", "abc", "chat-a")
    first.language = "en"
    await storage.save_user(first)

    again = await storage.get_or_create_user("zalo", "abc", "chat-b")

    assert (again.language, again.chat_id, again.created_at) == ("en", "chat-b", first.created_at)
    assert again.last_seen_at >= first.last_seen_at


async def test_withdrawn_consent_is_remembered(storage):
    user = await storage.get_or_create_user(TELEGRAM, "7", "7")
    user.consent_at = datetime.now(UTC)
    await storage.save_user(user)
    user.consent_at = None
    await storage.save_user(user)

    assert (await storage.get_user(TELEGRAM, "7")).consent_at is None


async def test_saving_a_naive_datetime_is_refused(storage):
    user = await storage.get_or_create_user(TELEGRAM, "8", "8")
    user.consent_at = datetime(2026, 1, 1)
    with pytest.raises(Exception, match="naive datetime"):
        await storage.save_user(user)


# --- erasure ----------------------------------------------------------------
async def test_forget_me_erases_everything_about_the_user_and_nothing_else(storage):
    for user_id in ("555000111", "other"):
        await storage.get_or_create_user(TELEGRAM, user_id, user_id)
        await storage.save_conversation(TELEGRAM, user_id, Conversation(flow="status", state="ask_code"))
        await storage.subscribe(TELEGRAM, user_id, "LLTP-01")
        await storage.record_event(TELEGRAM, user_id, "status_checked", {"stage": "checking"})
    await storage.audit(user_actor(TELEGRAM, "555000111"), "status.proof_failed", {"request": "LLTP-01"})
    await storage.audit(
        "admin:an", "user.viewed", {"channel": TELEGRAM, "user_id": "555000111", "who": "telegram:555000111"}
    )
    await storage.audit("admin:an", "broadcast.sent", {"count": 3})

    await storage.forget_user(TELEGRAM, "555000111")

    assert await storage.get_user(TELEGRAM, "555000111") is None
    assert await storage.load_conversation(TELEGRAM, "555000111") == Conversation()
    assert [s.user_id for s in await storage.subscribers("LLTP-01")] == ["other"]
    assert len(await storage.list_events()) == 1  # only the other user's
    audit = await storage.list_audit()
    assert "555000111" not in repr(audit)
    erased = f"erased:{storage.pseudonym(TELEGRAM, '555000111')}"
    assert [(row["actor"], row["action"]) for row in audit] == [
        (erased, "user.forgotten"),
        ("admin:an", "broadcast.sent"),
        ("admin:an", "user.viewed"),
        (erased, "status.proof_failed"),
    ]
    assert audit[2]["details"] == {"channel": TELEGRAM, "user_id": erased, "who": erased}
    async with storage.transaction() as conn:  # every table about users, including later ones
        for table in tables_keyed_by_user():
            leftover = await conn.execute(select(table).where(table.c.user_id == "555000111"))
            assert leftover.first() is None, table.name
    # The other user is untouched.
    assert await storage.get_user(TELEGRAM, "other") is not None
    assert (await storage.load_conversation(TELEGRAM, "other")).state == "ask_code"


async def test_pseudonym_is_stable_per_database_and_not_the_id(storage_url):
    store = SqlStorage(storage_url)
    await store.init()
    first = store.pseudonym(TELEGRAM, "1001")
    await store.close()
    await store.init()
    try:
        assert store.pseudonym(TELEGRAM, "1001") == first
        assert "1001" not in first and store.pseudonym(TELEGRAM, "1002") != first
    finally:
        await store.close()


# --- conversation -----------------------------------------------------------
async def test_a_new_user_starts_at_the_menu(storage):
    assert await storage.load_conversation(TELEGRAM, "new") == Conversation(
        flow="menu", state="start", data={}, version=0
    )


async def test_conversation_resumes_after_a_restart(storage_url):
    before = SqlStorage(storage_url)
    await before.init()
    conversation = Conversation(
        flow="fee", state="ask_copies", data={"group": "standard", "copies": [1, 2], "vi": "Phiếu số 2"}
    )
    await before.save_conversation(TELEGRAM, "42", conversation)
    await before.close()  # the process dies mid-flow

    after = SqlStorage(storage_url)
    await after.init()
    try:
        resumed = await after.load_conversation(TELEGRAM, "42")
        assert resumed == Conversation(flow="fee", state="ask_copies", data=conversation.data, version=1)
        resumed.state = "show_fee"
        await after.save_conversation(TELEGRAM, "42", resumed)
        assert (await after.load_conversation(TELEGRAM, "42")).state == "show_fee"
    finally:
        await after.close()


async def test_a_lost_update_is_detected_not_silently_overwritten(storage):
    await storage.save_conversation(TELEGRAM, "42", Conversation(flow="status", state="ask_code"))
    handler_a = await storage.load_conversation(TELEGRAM, "42")
    handler_b = await storage.load_conversation(TELEGRAM, "42")

    handler_a.state = "ask_proof"
    await storage.save_conversation(TELEGRAM, "42", handler_a)
    handler_b.state = "menu"
    with pytest.raises(ConversationConflict):
        await storage.save_conversation(TELEGRAM, "42", handler_b)

    assert (await storage.load_conversation(TELEGRAM, "42")).state == "ask_proof"
    assert handler_a.version == 2  # saving bumps the caller's version: it can save again
    handler_a.state = "show_status"
    await storage.save_conversation(TELEGRAM, "42", handler_a)


async def test_two_first_saves_of_a_new_conversation_conflict(storage):
    await storage.save_conversation(TELEGRAM, "43", Conversation(state="a"))
    with pytest.raises(ConversationConflict):
        await storage.save_conversation(TELEGRAM, "43", Conversation(state="b"))
    assert (await storage.load_conversation(TELEGRAM, "43")).state == "a"


# --- one message: save_turn under the user lock -----------------------------
async def _an_ongoing_conversation(storage, user_id: str) -> Conversation:
    await storage.get_or_create_user(TELEGRAM, user_id, user_id)
    async with storage.user_lock(TELEGRAM, user_id):
        await storage.save_turn(TELEGRAM, user_id, update_id=f"{user_id}-1", conversation=Conversation(flow="fee"))
    return (await storage.begin_turn(TELEGRAM, user_id, f"{user_id}-2")).conversation


async def test_a_turn_starts_from_the_stored_user_and_conversation(storage):
    user = await storage.get_or_create_user(TELEGRAM, "63", "63")
    user.language, user.province_code = "vi", "01"
    user.consent_at = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)
    await storage.save_user(user)
    data = {"copies": 2, "province": "Hà Nội", "offered": [["Lệ phí", "menu:open:fees"]]}
    await storage.save_conversation(TELEGRAM, "63", Conversation(flow="fee", state="ask_copies", data=data))
    async with storage.user_lock(TELEGRAM, "63"):  # on PostgreSQL, read on the turn's own connection
        start = await storage.begin_turn(TELEGRAM, "63", "63-1")
    assert not start.duplicate
    assert start.user == await storage.get_user(TELEGRAM, "63")
    assert start.user.consent_at == datetime(2026, 11, 23, 15, 30, tzinfo=UTC) and start.user.consent_at.tzinfo
    assert start.conversation == Conversation(flow="fee", state="ask_copies", data=data, version=1)
    assert start == await storage.begin_turn(TELEGRAM, "63", "63-1")  # the same outside a turn


async def test_a_turn_saves_its_update_conversation_and_events_together(storage):
    conversation = await _an_ongoing_conversation(storage, "61")
    conversation.state = "ask_copies"
    async with storage.user_lock(TELEGRAM, "61"):
        await storage.save_turn(
            TELEGRAM,
            "61",
            update_id="61-2",
            conversation=conversation,
            events=[("fee_asked", {"group": "standard"}), ("button", {})],
        )
        again = await storage.begin_turn(TELEGRAM, "61", "61-2")
    assert again.duplicate
    loaded = (await storage.begin_turn(TELEGRAM, "61", "61-3")).conversation
    assert (loaded.state, loaded.version) == ("ask_copies", conversation.version) == ("ask_copies", 2)
    assert [(row["name"], row["props"]) for row in await storage.list_events()] == [
        ("fee_asked", {"group": "standard"}),
        ("button", {}),
    ]


async def test_a_turn_refreshes_the_users_chat_and_last_seen_time_with_the_rest(storage):
    conversation = await _an_ongoing_conversation(storage, "64")
    before = await storage.get_user(TELEGRAM, "64")
    async with storage.user_lock(TELEGRAM, "64"):
        await storage.save_turn(TELEGRAM, "64", update_id="64-2", touch_chat_id="chat-2", conversation=conversation)
        with pytest.raises(DuplicateUpdate):  # a duplicate touches nothing either
            await storage.save_turn(TELEGRAM, "64", update_id="64-2", touch_chat_id="chat-3", conversation=conversation)
    after = await storage.get_user(TELEGRAM, "64")
    assert after.chat_id == "chat-2" and after.last_seen_at > before.last_seen_at
    assert (after.language, after.created_at) == (before.language, before.created_at)
    assert (await storage.load_conversation(TELEGRAM, "64")).version == 2


@pytest.mark.parametrize("opened_at_start_up", [False, True], ids=["new-connection", "opened-at-start-up"])
async def test_a_new_users_first_turn_saves_the_user_conversation_and_events_together(storage, opened_at_start_up):
    if opened_at_start_up:  # as a starting worker does: its turn statements already ran on each connection
        await storage.open_turn_connections()
        if storage.is_postgres:
            assert storage._lock_engine.pool.checkedin() == storage._lock_pool_size
    consent = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    async with storage.user_lock(TELEGRAM, "65"):
        start = await storage.begin_turn(TELEGRAM, "65", "65-1")
        assert start.user is None and start.conversation == Conversation()
        user = await storage.get_or_create_user(TELEGRAM, "65", "65")
        user.language, user.consent_at, user.source = "en", consent, "qr-xa-tan-hoa"
        conversation = Conversation(flow="onboarding", state="province", data={"step": 3})
        await storage.save_turn(
            TELEGRAM,
            "65",
            update_id="65-1",
            user=user,
            conversation=conversation,
            events=[("onboarded", {"language": "en"})],
        )
    assert await storage.get_user(TELEGRAM, "65") == user
    assert await storage.load_conversation(TELEGRAM, "65") == Conversation("onboarding", "province", {"step": 3}, 1)
    assert [row["name"] for row in await storage.list_events()] == ["onboarded"]
    assert (await storage.begin_turn(TELEGRAM, "65", "65-1")).duplicate


async def test_a_first_save_over_an_existing_conversation_writes_nothing(storage):
    await _an_ongoing_conversation(storage, "66")
    user = await storage.get_user(TELEGRAM, "66")
    user.language = "en"
    async with storage.user_lock(TELEGRAM, "66"):
        with pytest.raises(ConversationConflict):  # another handler created it since this one read
            await storage.save_turn(
                TELEGRAM, "66", update_id="66-2", user=user, conversation=Conversation(state="b"), events=[("c", {})]
            )
        assert not (await storage.begin_turn(TELEGRAM, "66", "66-2")).duplicate  # so a retry handles it
    assert (await storage.get_user(TELEGRAM, "66")).language is None
    assert (await storage.load_conversation(TELEGRAM, "66")).state == "start"
    assert await storage.list_events() == []


async def test_a_turn_already_saved_or_saved_over_writes_nothing(storage):
    conversation = await _an_ongoing_conversation(storage, "62")
    stale = Conversation(flow=conversation.flow, state="stale", version=conversation.version)
    async with storage.user_lock(TELEGRAM, "62"):
        await storage.save_turn(TELEGRAM, "62", update_id="62-2", conversation=conversation, events=[("a", {})])
        with pytest.raises(DuplicateUpdate):  # the same update again
            await storage.save_turn(TELEGRAM, "62", update_id="62-2", conversation=conversation, events=[("b", {})])
        with pytest.raises(ConversationConflict):  # another handler saved since this one read
            await storage.save_turn(TELEGRAM, "62", update_id="62-3", conversation=stale, events=[("c", {})])
        assert not (await storage.begin_turn(TELEGRAM, "62", "62-3")).duplicate  # so a retry handles it
    assert [row["name"] for row in await storage.list_events()] == ["a"]
    assert (await storage.load_conversation(TELEGRAM, "62")).version == 2


# --- de-duplication ---------------------------------------------------------
async def test_a_redelivered_update_is_recognised_once(storage):
    assert await storage.first_time_seen(TELEGRAM, "900") is True
    assert await storage.first_time_seen(TELEGRAM, "900") is False
    assert await storage.first_time_seen("zalo", "900") is True  # ids are per channel


async def test_concurrent_redeliveries_are_handled_by_exactly_one(storage):
    results = await asyncio.gather(*(storage.first_time_seen(TELEGRAM, "901") for _ in range(20)))
    assert results.count(True) == 1


async def test_old_update_ids_are_pruned(storage):
    await storage.first_time_seen(TELEGRAM, "old")
    async with storage.transaction(write=True) as conn:  # age the row: it arrived three days ago
        await conn.execute(seen_updates.update().values(seen_at=datetime.now(UTC) - timedelta(days=3)))
    await storage.first_time_seen(TELEGRAM, "new")

    assert await storage.prune_seen_updates() == 1
    async with storage.transaction() as conn:
        remaining = (await conn.execute(select(seen_updates.c.update_id))).scalars().all()
    assert remaining == ["new"]


# --- subscriptions ----------------------------------------------------------
async def test_status_subscribers_are_the_reachable_users_who_asked(storage):
    for user_id, language in (("1", "vi"), ("2", "en"), ("3", "vi")):
        user = await storage.get_or_create_user(TELEGRAM, user_id, f"chat-{user_id}")
        user.language = language
        await storage.save_user(user)
    await storage.subscribe(TELEGRAM, "1", "LLTP-7")
    await storage.subscribe(TELEGRAM, "1", "LLTP-7")  # asking twice is one subscription
    await storage.subscribe(TELEGRAM, "2", "LLTP-7")
    await storage.subscribe(TELEGRAM, "3", "LLTP-7")
    await storage.subscribe(TELEGRAM, "3", "LLTP-8")
    blocked = await storage.get_user(TELEGRAM, "3")
    blocked.unreachable = True
    await storage.save_user(blocked)
    await storage.unsubscribe(TELEGRAM, "2", "LLTP-7")

    subscribers = await storage.subscribers("LLTP-7")

    assert [(s.channel, s.user_id, s.chat_id, s.language) for s in subscribers] == [(TELEGRAM, "1", "chat-1", "vi")]
    assert await storage.subscribers("LLTP-unknown") == []


# --- notices for the web chat ----------------------------------------------
async def test_notices_wait_in_order_for_their_user_and_are_handed_over_once(storage):
    await storage.queue_notices("web", "w1", [{"text": "first"}, {"text": "second"}], keep=50)
    await storage.queue_notices("web", "w2", [{"text": "for someone else"}], keep=50)
    await storage.queue_notices("web", "w1", [{"text": "third"}], keep=50)

    assert [n["text"] for n in await storage.take_notices("web", "w1")] == ["first", "second", "third"]
    assert await storage.take_notices("web", "w1") == []
    assert await storage.take_notices("web", "w2") == [{"text": "for someone else"}]


async def test_a_page_left_closed_keeps_only_the_newest_notices(storage):
    for number in range(5):
        await storage.queue_notices("web", "w1", [{"n": number}], keep=3)
    assert await storage.take_notices("web", "w1") == [{"n": 2}, {"n": 3}, {"n": 4}]


async def test_two_polls_at_once_hand_each_notice_over_once(storage):
    await storage.queue_notices("web", "w1", [{"n": n} for n in range(20)], keep=50)
    first, second = await asyncio.gather(storage.take_notices("web", "w1"), storage.take_notices("web", "w1"))
    assert sorted(n["n"] for n in first + second) == list(range(20))


# --- analytics and audit ----------------------------------------------------
async def test_analytics_events_never_keep_personal_numbers(storage):
    await storage.record_event(
        TELEGRAM,
        "555000111",
        "status_checked",
        {"stage": "checking", "text": "số 001099012345, gọi 090 123 4567", "phone": "x", "copies": 2},
    )
    await storage.record_event(TELEGRAM, "555000111", "guide_finished")

    rows = await storage.list_events()
    assert [row["name"] for row in rows] == ["status_checked", "guide_finished"]
    assert rows[0]["props"] == {
        "stage": "checking",
        "text": "số [redacted], gọi [redacted]",
        "phone": "[redacted]",
        "copies": 2,
    }
    assert "555000111" not in repr(rows)
    assert rows[0]["user_hash"] == rows[1]["user_hash"]  # distinct users still countable
    assert [row["name"] for row in await storage.list_events(name="guide_finished")] == ["guide_finished"]


async def test_audit_log_keeps_who_did_what_and_when(storage):
    start = datetime.now(UTC) - timedelta(seconds=1)
    await storage.audit("admin:lan", "broadcast.approved", {"broadcast": 12, "nested": {"ok": True}})
    await storage.audit("admin:minh", "role.granted", None)

    rows = await storage.list_audit()
    assert [(r["actor"], r["action"], r["details"]) for r in rows] == [
        ("admin:minh", "role.granted", {}),
        ("admin:lan", "broadcast.approved", {"broadcast": 12, "nested": {"ok": True}}),
    ]
    assert all(row["at"] >= start for row in rows)
    assert [r["action"] for r in await storage.list_audit(actor="admin:lan")] == ["broadcast.approved"]


# --- ordering ---------------------------------------------------------------
async def _handle(storage, user_id: str, label: str, log: list, active: dict) -> None:
    async with storage.user_lock(TELEGRAM, user_id):
        active[user_id] = active.get(user_id, 0) + 1
        log.append((user_id, label, active[user_id]))
        await asyncio.sleep(0.01)
        active[user_id] -= 1


async def test_one_users_messages_are_handled_one_at_a_time_in_order(storage):
    log: list = []
    active: dict = {}
    await asyncio.gather(*(_handle(storage, "42", f"m{i}", log, active) for i in range(6)))
    assert log == [("42", f"m{i}", 1) for i in range(6)]


async def test_different_users_are_not_held_up_by_each_other(storage):
    a_inside, b_inside = asyncio.Event(), asyncio.Event()

    async def user_a():
        async with storage.user_lock(TELEGRAM, "a"):
            a_inside.set()
            await asyncio.wait_for(b_inside.wait(), 5)  # B gets in while A is still inside

    async def user_b():
        await a_inside.wait()
        async with storage.user_lock(TELEGRAM, "b"):  # would wait for A if locks were global
            b_inside.set()

    await asyncio.gather(user_a(), user_b())


async def test_a_cancelled_handler_releases_the_user_lock(storage):
    inside = asyncio.Event()

    async def stuck():
        async with storage.user_lock(TELEGRAM, "c"):
            inside.set()
            await asyncio.Event().wait()  # until cancelled

    task = asyncio.create_task(stuck())
    await asyncio.wait_for(inside.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(2):
        async with storage.user_lock(TELEGRAM, "c"):
            pass


@pytest.mark.postgres
async def test_workers_sharing_postgres_never_handle_one_user_at_once(postgres_url):
    """Two storages are two worker processes: only the database lock
    (not process memory) keeps them apart."""
    workers = [SqlStorage(postgres_url), SqlStorage(postgres_url)]
    await asyncio.gather(*(worker.init() for worker in workers))  # concurrent start-up migrates once
    try:
        inside: list[str] = []
        overlaps = 0

        async def handle(worker, label):
            nonlocal overlaps
            async with worker.user_lock(TELEGRAM, "42"):
                inside.append(label)
                overlaps += len(inside) > 1
                await asyncio.sleep(0.02)
                inside.remove(label)

        await asyncio.gather(*(handle(workers[i % 2], f"m{i}") for i in range(8)))
        assert overlaps == 0
    finally:
        for worker in workers:
            await worker.close()


@pytest.mark.postgres
async def test_a_saved_turn_lets_the_other_worker_in_with_what_it_saved(postgres_url):
    """A turn's save hands the user lock over (no separate unlock): the
    other worker's turn may start as soon as the save is committed, and
    reads it. A save that conflicted keeps the lock; none is left over."""
    first, second = SqlStorage(postgres_url), SqlStorage(postgres_url)
    await first.init()
    await second.init()
    order: list[str] = []
    saved, conflicted, done = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def first_worker():
        async with first.user_lock(TELEGRAM, "67"):
            await first.begin_turn(TELEGRAM, "67", "67-1")
            await first.get_or_create_user(TELEGRAM, "67", "67")
            await first.save_turn(TELEGRAM, "67", update_id="67-1", conversation=Conversation(flow="fee", state="ask"))
            saved.set()
            await done.wait()  # still inside its user lock
        async with first.user_lock(TELEGRAM, "67"):
            with pytest.raises(ConversationConflict):  # a stale "new" conversation
                await first.save_turn(TELEGRAM, "67", update_id="67-3", conversation=Conversation(flow="fee"))
            conflicted.set()
            await asyncio.sleep(0.3)
            order.append("first worker out")

    async def second_worker():
        await saved.wait()
        async with asyncio.timeout(2), second.user_lock(TELEGRAM, "67"):
            start = await second.begin_turn(TELEGRAM, "67", "67-2")
        done.set()
        await conflicted.wait()
        async with second.user_lock(TELEGRAM, "67"):
            order.append("second worker in")
        return start

    try:
        _, start = await asyncio.gather(first_worker(), second_worker())
        assert start.conversation == Conversation(flow="fee", state="ask", version=1)
        assert order == ["first worker out", "second worker in"]
        async with first.transaction() as conn:
            held = text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            assert (await conn.execute(held)).scalar() == 0
    finally:
        await first.close()
        await second.close()


@pytest.mark.postgres
async def test_a_worker_on_the_database_host_connects_by_its_unix_socket(postgres_url):
    """docs/deploy.md: `?host=<socket directory>` instead of an address."""
    by_tcp = SqlStorage(postgres_url)
    await by_tcp.init()
    try:
        async with by_tcp.transaction() as conn:
            directory = (await conn.execute(text("SHOW unix_socket_directories"))).scalar().split(",")[0].strip()
            port = (await conn.execute(text("SHOW port"))).scalar()
        if not directory or not os.path.isdir(directory):
            pytest.skip("the PostgreSQL server under test is not on this host (TROLY_TEST_POSTGRES_URL)")
        socket_url = make_url(postgres_url).set(host="", port=None, query={"host": directory, "port": port})
        by_socket = SqlStorage(socket_url.render_as_string(hide_password=False))
        await by_socket.init()
        try:
            await by_socket.open_turn_connections()
            async with by_socket.user_lock(TELEGRAM, "66"):
                await by_socket.begin_turn(TELEGRAM, "66", "66-1")
                await by_socket.get_or_create_user(TELEGRAM, "66", "66")
                await by_socket.save_turn(TELEGRAM, "66", update_id="66-1", conversation=Conversation(flow="fee"))
            async with by_socket.transaction() as conn:
                assert (await conn.execute(text("SELECT inet_server_addr()"))).scalar() is None  # not TCP
        finally:
            await by_socket.close()
        assert (await by_tcp.load_conversation(TELEGRAM, "66")).flow == "fee"  # the same database
    finally:
        await by_tcp.close()


# --- migrations and set-up --------------------------------------------------
async def test_migrations_upgrade_an_empty_database_to_the_table_definitions(storage_url):
    store = SqlStorage(storage_url)
    await store.init()
    try:
        async with store.transaction() as conn:
            tables = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
            revision = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
            drift = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata)
            )
        assert tables >= {"users", "conversations", "seen_updates", "subscriptions", "events", "audit_log"}
        assert revision == _head_revision()
        assert drift == [], "storage/schema.py and the Alembic revisions disagree"
    finally:
        await store.close()
    again = SqlStorage(storage_url)
    await again.init()  # a restart on a migrated database is a no-op
    await again.close()


def _head_revision() -> str:
    from alembic.script import ScriptDirectory

    from storage.migrations import alembic_config

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_relative_sqlite_path_lives_under_the_project_root(tmp_path):
    url = resolve_url("sqlite+aiosqlite:///var/nested/troly.sqlite3", root=tmp_path)
    assert url == f"sqlite+aiosqlite:///{tmp_path}/var/nested/troly.sqlite3"
    store = SqlStorage(url)
    await store.init()  # creates the missing directory
    await store.close()
    assert (tmp_path / "var" / "nested" / "troly.sqlite3").exists()


async def test_sqlite_is_tuned_for_a_bot(tmp_path):
    store = SqlStorage(f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3")
    await store.init()
    try:
        async with store.transaction() as conn:
            pragmas = {
                name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "busy_timeout", "foreign_keys")
            }
        assert pragmas == {"journal_mode": "wal", "busy_timeout": 10000, "foreign_keys": 1}
    finally:
        await store.close()


@pytest.mark.parametrize(
    "url", ["mysql+aiomysql://db/troly", "sqlite:///var/troly.sqlite3", "sqlite+aiosqlite://", "postgresql://db/troly"]
)
def test_unsupported_storage_url_is_refused_with_a_clear_message(url):
    with pytest.raises(ValueError, match="storage.url"):
        SqlStorage(url)
