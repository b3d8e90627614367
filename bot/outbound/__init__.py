"""One outbound path per bot account: every reply, notice and relay is
written to the queue (`storage/outbound.py`) before its update is
acknowledged, then sent through the account's pacer, replies ahead of
announcements (`queue.py`, `pacing.py`)."""
