"""Broadcasts in the bot's database. One concern per module (import from
them directly, like `bot.broadcast`):

- `model`: segments, broadcasts, outbox states and reports;
- `segments`: which citizens a segment reaches (one SQL query);
- `store`: `BroadcastStore`, broadcasts and the outbox (claims with
  `FOR UPDATE SKIP LOCKED` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite).

Pacing, the delivery worker and the command line are in `bot.broadcast`.
"""
