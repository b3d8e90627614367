"""Announcements to thousands of citizens: broadcasts, segments and the
delivery engine. One concern per module (import from them directly; this
package imports nothing, so `troly --help` stays instant):

- `model`: segments, broadcasts, outbox states and reports;
- `segments`: which citizens a segment reaches (one SQL query);
- `store`: `BroadcastStore`, broadcasts and the outbox in the bot's database
  (claims with `FOR UPDATE SKIP LOCKED` on PostgreSQL, `BEGIN IMMEDIATE` on
  SQLite);
- `pacing`: the token bucket and per-channel pacer (flood limits, 429 pause);
- `worker`: `DeliveryWorker`, which works the outbox;
- `cli`: `troly broadcast send|list|cancel|report|deliver`.
"""
