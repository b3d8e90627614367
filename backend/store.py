"""The mock backend's own SQLite database.

Plain `sqlite3`: every query is a point read or a small write that takes
microseconds, so the service calls it directly from the event loop. One
connection per service; `:memory:` for the in-process fake.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from core.paths import private_file

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS citizens (
    id INTEGER PRIMARY KEY,
    full_name TEXT NOT NULL,
    id_digest TEXT NOT NULL UNIQUE,      -- keyed hash of the id number, never the number
    id_last4 TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    province_code TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    code TEXT PRIMARY KEY,
    citizen_id INTEGER NOT NULL REFERENCES citizens(id),
    certificate_type INTEGER NOT NULL,
    purpose TEXT NOT NULL,
    paper_copies INTEGER NOT NULL,
    delivery TEXT NOT NULL,
    address TEXT,
    province_code TEXT NOT NULL,
    fee_group TEXT NOT NULL,
    scenario TEXT NOT NULL,
    status TEXT NOT NULL,
    step INTEGER NOT NULL DEFAULT 0,     -- index of the next scenario step
    status_since TEXT NOT NULL,          -- simulated time the status began
    held INTEGER NOT NULL DEFAULT 0,     -- demo requests move only when fast-forwarded
    filed_at TEXT NOT NULL,
    accepted_on TEXT,                    -- date the agency accepted it (paid)
    due_date TEXT,
    extended INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_moving ON requests(held, status);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL REFERENCES requests(code),
    status TEXT NOT NULL,
    at TEXT NOT NULL,
    reason_vi TEXT NOT NULL,
    reason_en TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_code ON history(code);
CREATE TABLE IF NOT EXISTS sequences (prefix TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS payments (
    id TEXT PRIMARY KEY,                 -- unguessable, it is in the payment page URL
    code TEXT NOT NULL REFERENCES requests(code),
    amount_vnd INTEGER NOT NULL,
    state TEXT NOT NULL,                 -- pending | succeeded | failed
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_code ON payments(code);
CREATE TABLE IF NOT EXISTS certificates (
    id TEXT PRIMARY KEY,                 -- random, carried in the signed token
    number TEXT NOT NULL UNIQUE,
    code TEXT NOT NULL UNIQUE REFERENCES requests(code),
    certificate_type INTEGER NOT NULL,
    holder_name TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    agency_name TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    token TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,       -- real (wall) time, not simulated
    delivered_at REAL,
    gave_up INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(delivered_at, gave_up, next_attempt_at);
"""


def open_database(path: str | Path) -> sqlite3.Connection:
    """Open (creating if needed) the database and its tables."""
    if str(path) != ":memory:":
        private_file(Path(path))
    connection = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA foreign_keys = ON")
    if str(path) != ":memory:":
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
    connection.executescript(SCHEMA)
    return connection


def get_setting(db: sqlite3.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return row["value"] if row else None


def put_setting(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO settings(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
