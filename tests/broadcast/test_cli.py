"""`troly broadcast` and `troly admin` as an operator types them, delivering
through the real Telegram adapter to the loopback fake Bot API."""

from __future__ import annotations

import asyncio
import functools
import io
import json
from contextlib import redirect_stderr, redirect_stdout
from unittest.mock import patch

from bot.cli import main
from storage.broadcasts.store import BroadcastStore
from tests.broadcast.conftest import add_citizens
from tests.fakes.telegram_api import FakeTelegramApi


def run_troly(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    """`troly ARGV` in this process (a thread of it), `stdin` typed at its
    prompts: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), patch("sys.stdin", io.StringIO(stdin)):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


async def troly(config, *args, stdin: str = "") -> tuple[int, str, str]:
    call = functools.partial(run_troly, "--config", str(config), *args, stdin=stdin)
    return await asyncio.wait_for(asyncio.to_thread(call), 60)


def write_config(tmp_path, sqlite_url):
    config = tmp_path / "config.yml"
    config.write_text(
        f"storage: {{url: '{sqlite_url}'}}\n"
        f"media: {{directory: '{tmp_path}/media', secret_file: '{tmp_path}/media-secret'}}\n"
        "broadcast: {poll_seconds: 0.1, rates: {telegram: {per_second: 200, per_chat_per_second: 5}}}\n",
        encoding="utf-8",
    )
    return config


async def test_operator_sends_a_photo_announcement_to_one_province_from_the_command_line(
    tmp_path, sqlite_storage, sqlite_url, monkeypatch
):
    await add_citizens(sqlite_storage, 5, province_code="79")
    await add_citizens(sqlite_storage, 3, start=100, province_code="01")
    config = write_config(tmp_path, sqlite_url)
    text = tmp_path / "tin.txt"
    text.write_text("Từ 01/12, Công an tỉnh tiếp dân cả sáng thứ Bảy.\n", encoding="utf-8")
    from PIL import Image

    Image.new("RGB", (64, 48), "navy").save(tmp_path / "anh.jpg")

    async with FakeTelegramApi() as api:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", api.token)
        monkeypatch.setenv("TELEGRAM_BASE_URL", api.base_url)
        code, out, err = await troly(
            config, "broadcast", "send", "--text-file", str(text), "--image", str(tmp_path / "anh.jpg"),
            "--segment", "province=79", "--yes",
        )  # fmt: skip
        assert code == 0, err
        photos = api.calls_to("sendPhoto")
    assert sorted(call.chat_id for call in photos) == ["1", "2", "3", "4", "5"]
    assert all(api.last_bot_message(chat).text.startswith("Từ 01/12, Công an tỉnh") for chat in "12345")
    assert "Broadcast #1: 5 recipients, segment: province=79." in out
    final = json.loads(out.strip().splitlines()[-1])
    assert final["sent"] == 5 and final["status"] == "done"
    assert "[########################]" in err  # the progress bar reached the end

    code, out, _ = await troly(config, "broadcast", "report", "1", "--json")
    assert json.loads(out)["sent"] == 5
    code, out, _ = await troly(config, "broadcast", "list")
    assert "#1 [done] province=79" in out


async def test_send_shows_the_preview_and_count_and_sends_only_when_confirmed(tmp_path, sqlite_storage, sqlite_url):
    await add_citizens(sqlite_storage, 3, province_code="79")
    await add_citizens(sqlite_storage, 2, start=100, province_code="01")
    config = write_config(tmp_path, sqlite_url)
    text = tmp_path / "tin.txt"
    text.write_text("Công an tỉnh tiếp dân cả sáng thứ Bảy.", encoding="utf-8")
    send = ["broadcast", "send", "--text-file", str(text), "--segment", "province=79", "--no-wait"]

    for answer in ("n\n", ""):  # no, or no answer at all (a script without --yes)
        code, out, _ = await troly(config, *send, stdin=answer)
        assert code == 1 and "Công an tỉnh tiếp dân cả sáng thứ Bảy." in out
        assert "Recipients: 3 (province=79)" in out and "Send to 3 people?" in out and "--yes" in out
    assert await BroadcastStore(sqlite_storage).newest() == []  # nothing recorded, nothing queued

    code, out, err = await troly(config, *send, stdin="y\n")
    assert code == 0, err
    assert "Broadcast #1: 3 recipients" in out
    assert (await BroadcastStore(sqlite_storage).get(1)).recipients == 3


async def test_dry_run_lists_who_would_get_it_with_masked_ids_and_sends_nothing(tmp_path, sqlite_storage, sqlite_url):
    await add_citizens(sqlite_storage, 2, start=84912345678, province_code="79")
    config = write_config(tmp_path, sqlite_url)
    text = tmp_path / "tin.txt"
    text.write_text("Tin thử", encoding="utf-8")
    code, out, _ = await troly(config, "broadcast", "send", "--text-file", str(text), "--dry-run")
    assert code == 0 and "Recipients: 2 (everyone)" in out and "nothing was sent" in out
    assert "84***78" in out and "84***79" in out
    assert "84912345678" not in out and "912345678" not in out  # an id can be a phone-like number: never shown
    assert "Send to" not in out  # no question: nothing is sent
    assert await BroadcastStore(sqlite_storage).newest() == []


async def test_operator_schedules_then_cancels_a_broadcast(tmp_path, sqlite_storage, sqlite_url):
    await add_citizens(sqlite_storage, 2)
    config = write_config(tmp_path, sqlite_url)
    text = tmp_path / "tin.txt"
    text.write_text("Hệ thống bảo trì tối nay.", encoding="utf-8")

    code, out, err = await troly(config, "broadcast", "send", "--text-file", str(text), "--at", "+2h", "--yes")
    assert code == 0, err
    assert "scheduled for" in out and "Vietnam time" in out
    code, out, _ = await troly(config, "broadcast", "cancel", "1")
    assert code == 0 and "cancelled" in out
    code, _, err = await troly(config, "broadcast", "cancel", "1")
    assert code == 2 and "already ended" in err


async def test_bad_command_line_input_gets_a_clear_message_not_a_traceback(tmp_path, sqlite_url):
    config = write_config(tmp_path, sqlite_url)
    text = tmp_path / "tin.txt"
    text.write_text("Tin", encoding="utf-8")
    for args, message in [
        (["--segment", "provice=79"], "segment term 'provice=79'"),
        (["--at", "tomorrow"], "write it like 2026-12-01 08:00"),
        (["--at", "2020-01-01 08:00"], "is in the past"),
        (["--image", str(text)], "not a picture"),
        (["--link-url", "http://x"], "go together"),
    ]:
        code, _, err = await troly(config, "broadcast", "send", "--text-file", str(text), *args, "--yes")
        assert code == 2 and message in err and "Traceback" not in err, err
    code, _, err = await troly(config, "broadcast", "report", "7")
    assert code == 2 and "no broadcast #7" in err


async def test_operator_grants_lists_and_revokes_roles(tmp_path, sqlite_storage, sqlite_url):
    config = write_config(tmp_path, sqlite_url)
    code, out, _ = await troly(config, "admin", "grant", "officer", "telegram:42")
    assert code == 0 and "officer granted: telegram:42" in out
    code, out, _ = await troly(config, "admin", "list")
    assert "officer   telegram:42  (database by cli:" in out
    code, out, _ = await troly(config, "admin", "revoke", "officer", "telegram:42")
    assert code == 0 and "revoked" in out
    code, _, err = await troly(config, "admin", "grant", "admin", "42")
    assert code == 2 and "<channel>:<user id>" in err
    actions = [row["action"] for row in await sqlite_storage.list_audit()]
    assert actions[:2] == ["role.revoked", "role.granted"]
