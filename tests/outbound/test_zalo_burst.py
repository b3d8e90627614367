"""Issue 18 on the Zalo Bot channel: a burst of new citizens' /start
against its fake enforcing the configured limits, by polling and webhook."""

from __future__ import annotations

import pytest

from tests.outbound.scenarios import zalo_burst

USERS = 30


@pytest.mark.parametrize("webhook", [False, True], ids=["polling", "webhook"])
async def test_every_zalo_citizen_of_a_burst_is_answered_once_without_tripping_the_limits(tmp_path, webhook):
    figures = await zalo_burst(USERS, f"sqlite+aiosqlite:///{tmp_path}/troly.sqlite3", webhook=webhook)
    assert figures["answered"] == USERS, figures
    assert figures["duplicates"] == 0, figures
    assert figures["answered_429"] <= USERS // 100, figures
    assert figures["given_up"] == {}, figures
