"""Malformed-input cases for the --cell option and the extended cells' options; see :mod:`tests.cli.malformed`."""

from __future__ import annotations

from typing import List

from .malformed import Case


def cases() -> List[Case]:
    return []
