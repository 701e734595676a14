"""The round-trip check of the 2.1.1 translation: what differs after 2.2.1 -> 2.1.1 -> 2.2.1
must be covered by a reported Loss (a Loss path equal to, or a prefix of, the changed field)."""

from __future__ import annotations

from typing import Any

from ocpi.translate import Loss
from ocpi.v221 import OcpiModel
from tests.ocpi.test_examples import _ABSENT, _normalise

# Optional booleans whose `false` means the same as leaving them out (spec 2.2.1 mod_cdrs).
FALSE_IS_ABSENT = ("credit", "home_charging_compensation")


def wire(model: OcpiModel) -> Any:
    """The object's JSON, normalised: null, absent and [] are one; numbers by value."""
    document = model.to_json()
    for field in FALSE_IS_ABSENT:
        if document.get(field) is False:
            del document[field]
    return _normalise(document)


def differences(before: Any, after: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The paths (field names, list indices as text) where two normalised documents differ."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[tuple[str, ...]] = []
        for key in sorted(set(before) | set(after)):
            found += differences(before.get(key, _ABSENT), after.get(key, _ABSENT), (*path, key))
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        found = []
        for index, (one, other) in enumerate(zip(before, after, strict=True)):
            found += differences(one, other, (*path, str(index)))
        return found
    return [] if before == after else [path]


def uncovered(original: OcpiModel, back: OcpiModel, lost: tuple[Loss, ...]) -> list[str]:
    """Fields that changed on the round trip without a Loss naming them, a parent of them, or
    (for a list that changed length, where items cannot be paired) one of their items."""
    covered = [tuple(loss.path.split(".")) if loss.path else () for loss in lost]
    return [
        ".".join(path)
        for path in differences(wire(original), wire(back))
        if not any(path[: len(loss)] == loss or loss[: len(path)] == path for loss in covered)
    ]
