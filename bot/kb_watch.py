"""Knowledge-base hot reload: admins edit the YAML files, the running bot
picks the edit up within `knowledge.reload_seconds`, without a restart.

Every few seconds `KnowledgeWatcher` hashes the knowledge files. When a hash
changes it rebuilds the knowledge base off the event loop with the same
validation as `troly kb check`, then:

- valid: swaps it into the running services in one assignment (a message
  being answered finishes with the version it started with; none is lost)
  and writes `kb_reloaded` to the audit log with each file's new content
  hash, the files that changed and the entries (`file.key`) that changed
  (once per edit, however many workers apply it);
- invalid: keeps serving the previous version and logs one clear error
  listing the problems (once per edit, not every few seconds); nothing is
  audited, as nothing changed.

The fee rules (`fees.yml`) are not part of `troly kb check` and are read
once at start: a fee edit needs a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from pathlib import Path

from domain.knowledge import KNOWLEDGE_FILES, KnowledgeError, reload
from flows.base import Services
from storage.sql import SqlStorage

log = logging.getLogger(__name__)

ACTOR = "system:kb_watch"
MAX_KEYS_AUDITED = 100
MAX_PROBLEMS_LOGGED = 20


def knowledge_hashes(directory: Path) -> dict[str, str]:
    """`file.yml` -> sha256 of its content ("" when missing) for every knowledge file."""
    hashes = {}
    for name in KNOWLEDGE_FILES:
        path = directory / f"{name}.yml"
        try:
            hashes[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            hashes[path.name] = ""
    return hashes


class KnowledgeWatcher:
    """Reloads `services.knowledge` from `directory` when its files change."""

    def __init__(self, services: Services, storage: SqlStorage, directory: Path, interval: float) -> None:
        self.services = services
        self.storage = storage
        self.directory = Path(directory)
        self.interval = interval
        self._applied = knowledge_hashes(self.directory)  # what the running version was built from
        self._rejected: dict[str, str] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="kb-watch")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
            except Exception:
                log.exception("knowledge reload check failed; the running version stays")

    async def check(self) -> bool | None:
        """Look once: True if an edit was applied, False if one was rejected,
        None if nothing changed (or an edit is still being saved)."""
        hashes = await asyncio.to_thread(knowledge_hashes, self.directory)
        if hashes in (self._applied, self._rejected):
            return None
        try:
            fresh = await asyncio.to_thread(reload, self.directory)
        except KnowledgeError as error:
            if hashes != await asyncio.to_thread(knowledge_hashes, self.directory):
                return None  # an editor is still saving: judge the finished edit
            self._rejected = hashes
            problems = error.problems
            listed = "\n".join(f"  {problem}" for problem in problems[:MAX_PROBLEMS_LOGGED])
            hidden = len(problems) - MAX_PROBLEMS_LOGGED
            more = f"\n  ... and {hidden} more" if hidden > 0 else ""
            log.error(
                "knowledge edit in %s rejected: %d problem(s); still serving the previous version "
                "(run `troly kb check`):\n%s%s",
                self.directory, len(problems), listed, more,
            )  # fmt: skip
            return False
        if hashes != await asyncio.to_thread(knowledge_hashes, self.directory):
            return None  # changed again while loading: apply the next look's version
        previous = self.services.knowledge
        changed_keys = previous.changed_keys(fresh) if hasattr(previous, "changed_keys") else []
        changed_files = sorted(name for name, digest in hashes.items() if self._applied.get(name) != digest)
        self.services.knowledge = fresh
        self._applied, self._rejected = hashes, None
        if await self._already_audited(hashes):
            return True
        await self.storage.audit(
            ACTOR,
            "kb_reloaded",
            {
                "directory": str(self.directory),
                "files": {name: hashes[name] for name in changed_files},
                "hashes": hashes,
                "changed": changed_keys[:MAX_KEYS_AUDITED],
                "changed_count": len(changed_keys),
            },
        )
        log.info("knowledge reloaded from %s: %s (%d entries changed)", self.directory,
                 ", ".join(changed_files), len(changed_keys))  # fmt: skip
        return True

    async def _already_audited(self, hashes: dict[str, str]) -> bool:
        """Several workers (`troly run --worker`) apply the same edit: the
        first one audits it, the others find it on record."""
        latest = await self.storage.list_audit(actor=ACTOR, limit=1)
        return bool(latest) and latest[0]["action"] == "kb_reloaded" and latest[0]["details"].get("hashes") == hashes
