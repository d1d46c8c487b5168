"""Malformed-input cases for rnnkit export; see :mod:`tests.cli.malformed`."""

from __future__ import annotations

from typing import List

from .malformed import Case


def cases() -> List[Case]:
    return []
