"""Issue 18: a burst of new citizens' /start against fakes that enforce the
platforms' limits, by long polling and by webhook, through the real adapter,
queue and pacer: Telegram (30/s, per chat 1/s with bursts of 3), Zalo Bot
(its configured 10/s, 1/s per chat) and Zalo OA (by webhook only; its
configured 10/s, 1/s per chat). bench/burst.py runs the full 1,000."""

from __future__ import annotations

import pytest

from tests.outbound.scenarios import announcement_with_questions, telegram_burst, zalo_burst, zalo_oa_burst

BURSTS = {"telegram": (telegram_burst, 60), "zalo_bot": (zalo_burst, 30)}


@pytest.mark.parametrize("webhook", [False, True], ids=["polling", "webhook"])
@pytest.mark.parametrize("channel", BURSTS)
async def test_every_citizen_of_a_burst_is_answered_once_without_tripping_the_limits(tmp_path, channel, webhook):
    burst, users = BURSTS[channel]
    figures = await burst(users, f"sqlite+aiosqlite:///{tmp_path}/troly.sqlite3", webhook=webhook)
    assert_answered_once_under_the_limits(figures, users)


async def test_every_new_follower_of_the_oa_writing_at_once_is_answered_once_without_tripping_the_limits(tmp_path):
    figures = await zalo_oa_burst(30, f"sqlite+aiosqlite:///{tmp_path}/troly.sqlite3")
    assert_answered_once_under_the_limits(figures, 30)


def assert_answered_once_under_the_limits(figures: dict, users: int) -> None:
    assert figures["answered"] == users, figures
    assert figures["duplicates"] == 0, figures
    assert figures["answered_429"] <= users // 100, figures  # at most 1% of the sends
    assert figures["given_up"] == {}, figures


async def test_citizens_questions_go_ahead_of_a_running_announcement(tmp_path):
    figures = await announcement_with_questions(
        150, 10, 3, f"sqlite+aiosqlite:///{tmp_path}/troly.sqlite3", think_seconds=(0.2, 1.0)
    )
    assert figures["announced"] == 150 and figures["announcement_duplicates"] == 0, figures
    assert figures["questions"] == 30, figures
    # Replies wait for at most a few of the announcement's slots, not for the announcement.
    assert figures["reply_p99_s"] < 1.0, figures
