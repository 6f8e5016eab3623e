"""Small SQL helpers the store's modules share."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = 900) -> Iterable[Sequence[T]]:
    """`items` in runs short enough to bind (SQLite caps the parameters of a statement)."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def marks(items: Sequence[Any]) -> str:
    """`?,?,?`: one placeholder per item, for `IN (...)`."""
    return ",".join("?" * len(items))


def dedupe(items: Iterable[str]) -> list[str]:
    """The items once each, in their first order."""
    return list(dict.fromkeys(items))
