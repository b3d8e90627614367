"""Announcements to thousands of citizens: the delivery engine. One concern
per module (import from them directly; this package imports nothing, so
`troly --help` stays instant):

- `pacing`: the token bucket and per-channel pacer (flood limits, 429 pause);
- `worker`: `DeliveryWorker`, which works the outbox;
- `when`: the times an admin writes (`--at`);
- `cli`: `troly broadcast send|list|cancel|report|deliver`.

Broadcasts, segments and the outbox are kept by `storage.broadcasts`.
"""
