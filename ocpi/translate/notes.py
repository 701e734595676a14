"""What a translation carries and what it could not: the shared result of every translator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Loss:
    """One thing the target version cannot carry.

    `path` names the field in the source object (dotted, list items by index:
    ``evses.0.parking_restrictions``); `reason` says in words why it was dropped or changed.
    """

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class Translated(Generic[T]):
    """A translated object and the notes of what it lost on the way (empty: nothing)."""

    value: T
    lost: tuple[Loss, ...] = ()

    @property
    def lossless(self) -> bool:
        return not self.lost


class Untranslatable(ValueError):
    """The object cannot be carried to the other version without changing its meaning.

    The hub refuses such a message with status 2001 and this message.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = reason
