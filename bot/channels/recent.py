"""A bounded mapping that forgets its oldest entries: what the adapters
remember (updates seen, messages to edit, file ids, long button payloads)
stays the same size however long the bot runs."""

from __future__ import annotations

from collections import OrderedDict


class Recent(OrderedDict):
    """A bounded mapping that forgets its oldest entries."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)
