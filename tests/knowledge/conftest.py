"""A writable copy of the knowledge files, and a way to edit one of them."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from domain.knowledge import KNOWLEDGE_DIR


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, target)
    return target


def edit(directory: Path, file: str, change: Callable[[Any], None]) -> None:
    """Apply `change` to the parsed `file.yml` in `directory` and write it back."""
    path = directory / f"{file}.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
