"""Translation of OCPI objects and PATCH bodies between 2.1.1 and 2.2.1: models in, models out.

Every function returns `Translated` (the object and the notes of what it could not carry) or
raises `Untranslatable` when carrying the object would change its meaning. Context a 2.1.1
object does not hold (its owner's country_code/party_id, the driver's token, a Location a
2.2.1 Session only references) is passed in by the caller. docs/versions.md "2.1.1 <-> 2.2.1"
lists what each translation carries and every choice made where the specs are silent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import ValidationError

from ocpi import v211, v221
from ocpi.status import OcpiStatus
from ocpi.translate.notes import Loss, Translated, Untranslatable
from ocpi.v221.types import OcpiModel, Role

__all__ = [
    "authorization_info_to_v211",
    "authorization_info_to_v221",
    "cdr_to_v211",
    "cdr_to_v221",
    "command_response_to_v211",
    "command_response_to_v221",
    "command_result_to_v211",
    "command_result_to_v221",
    "command_type_to_v211",
    "connector_patch_to_v211",
    "connector_patch_to_v221",
    "connector_to_v211",
    "connector_to_v221",
    "credentials_to_v211",
    "credentials_to_v221",
    "evse_patch_to_v211",
    "evse_patch_to_v221",
    "evse_to_v211",
    "evse_to_v221",
    "location_patch_to_v211",
    "location_patch_to_v221",
    "location_references_to_v211",
    "location_references_to_v221",
    "location_to_v211",
    "location_to_v221",
    "reserve_now_to_v211",
    "reserve_now_to_v221",
    "session_patch_to_v211",
    "session_patch_to_v221",
    "session_to_v211",
    "session_to_v221",
    "start_session_to_v211",
    "start_session_to_v221",
    "status_code_to_v211",
    "stop_session_to_v211",
    "stop_session_to_v221",
    "tariff_to_v211",
    "tariff_to_v221",
    "token_patch_to_v211",
    "token_patch_to_v221",
    "token_to_v211",
    "token_to_v221",
    "unlock_connector_to_v211",
    "unlock_connector_to_v221",
]

T = TypeVar("T")
M = TypeVar("M", bound=OcpiModel)
E = TypeVar("E", bound=StrEnum)

NOT_APPLICABLE = "#NA"
"""2.2.1 Session evse_uid/connector_id of a reservation made for no EVSE (spec mod_sessions)."""


# --- the machinery ------------------------------------------------------------------------
class _Notes:
    """The losses of one translation, collected while walking the object."""

    def __init__(self) -> None:
        self.lost: list[Loss] = []

    def lose(self, path: str, reason: str) -> None:
        self.lost.append(Loss(path, reason))

    def result(self, value: T) -> Translated[T]:
        return Translated(value, tuple(self.lost))


def _join(path: str, *parts: object) -> str:
    return ".".join([path, *map(str, parts)] if path else map(str, parts))


def _build(model: type[M], path: str, **fields: Any) -> M:
    """`model(**fields)`, with a value the target version cannot hold raised as Untranslatable.

    This is where 2.1.1's and 2.2.1's length and format limits meet (an id of 37-39
    characters, an address longer than 45, a 24:00 restriction time...).
    """
    try:
        return model(**fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = _join(path, *error["loc"])
        version = "2.1.1" if model.__module__.startswith("ocpi.v211") else "2.2.1"
        raise Untranslatable(
            where, f"does not fit the OCPI {version} {model.__name__}: {error['msg']}"
        ) from None


def _same_enum(target: type[E], value: StrEnum, path: str) -> E:
    """The same-named value of the other version's enum, or Untranslatable."""
    try:
        return target(value.value)
    except ValueError:
        raise Untranslatable(
            path, f"{value.value} does not exist in the target version's {target.__name__}"
        ) from None


def _filter_enums(
    target: type[E], values: list[Any] | None, path: str, notes: _Notes
) -> list[E] | None:
    """Keep the values the target enum knows; each other one is a Loss."""
    if values is None:
        return None
    known = {member.value for member in target}
    kept: list[E] = []
    for index, value in enumerate(values):
        if value.value in known:
            kept.append(target(value.value))
        else:
            notes.lose(_join(path, index), f"{value.value} does not exist in {target.__name__}")
    return kept


def _lose_present(
    model: OcpiModel, fields: Iterable[str], path: str, notes: _Notes, why: str
) -> None:
    for field in fields:
        value = getattr(model, field)
        if value is not None and value != []:
            notes.lose(_join(path, field), why)


# --- Locations: shared parts --------------------------------------------------------------
_PARKING_TO_LOCATION_TYPE = {
    v221.ParkingType.ON_STREET: v211.LocationType.ON_STREET,
    v221.ParkingType.PARKING_GARAGE: v211.LocationType.PARKING_GARAGE,
    v221.ParkingType.UNDERGROUND_GARAGE: v211.LocationType.UNDERGROUND_GARAGE,
    v221.ParkingType.PARKING_LOT: v211.LocationType.PARKING_LOT,
}
_LOCATION_TYPE_TO_PARKING = {value: key for key, value in _PARKING_TO_LOCATION_TYPE.items()}


def _energy_mix_to_v211(mix: v221.EnergyMix | None, path: str) -> v211.EnergyMix | None:
    if mix is None:
        return None
    impacts = None
    if mix.environ_impact is not None:
        impacts = [
            _build(
                v211.EnvironmentalImpact,
                _join(path, "environ_impact", index),
                source=impact.category,
                amount=impact.amount,
            )
            for index, impact in enumerate(mix.environ_impact)
        ]
    return _build(
        v211.EnergyMix,
        path,
        is_green_energy=mix.is_green_energy,
        energy_sources=mix.energy_sources,
        environ_impact=impacts,
        supplier_name=mix.supplier_name,
        energy_product_name=mix.energy_product_name,
    )


def _energy_mix_to_v221(mix: v211.EnergyMix | None, path: str) -> v221.EnergyMix | None:
    if mix is None:
        return None
    impacts = None
    if mix.environ_impact is not None:
        impacts = [
            _build(
                v221.EnvironmentalImpact,
                _join(path, "environ_impact", index),
                category=impact.source,
                amount=impact.amount,
            )
            for index, impact in enumerate(mix.environ_impact)
        ]
    return _build(
        v221.EnergyMix,
        path,
        is_green_energy=mix.is_green_energy,
        energy_sources=mix.energy_sources,
        environ_impact=impacts,
        supplier_name=mix.supplier_name,
        energy_product_name=mix.energy_product_name,
    )


def _hours_to_v211(hours: v221.Hours | None, path: str) -> v211.Hours | None:
    if hours is None:
        return None
    regular = None
    if hours.regular_hours is not None:
        regular = [
            _build(v211.RegularHours, _join(path, "regular_hours", index), **entry.model_dump())
            for index, entry in enumerate(hours.regular_hours)
        ]
    return _build(
        v211.Hours,
        path,
        regular_hours=regular,
        twentyfourseven=hours.twentyfourseven,
        exceptional_openings=hours.exceptional_openings,
        exceptional_closings=hours.exceptional_closings,
    )


def _hours_to_v221(hours: v211.Hours | None, path: str) -> v221.Hours | None:
    if hours is None:
        return None
    regular = None
    if hours.regular_hours is not None:
        regular = [
            _build(v221.RegularHours, _join(path, "regular_hours", index), **entry.model_dump())
            for index, entry in enumerate(hours.regular_hours)
        ]
    # 2.1.1 §4.13 makes twentyfourseven one of two choices; 2.2.1 requires it. Regular hours
    # given without it mean "not 24/7".
    return _build(
        v221.Hours,
        path,
        twentyfourseven=bool(hours.twentyfourseven),
        regular_hours=regular,
        exceptional_openings=hours.exceptional_openings,
        exceptional_closings=hours.exceptional_closings,
    )


def _choose_tariff_id(
    ids: list[str] | None,
    tariffs: Mapping[str, v221.Tariff] | None,
    path: str,
    notes: _Notes,
) -> str | None:
    """The one tariff_id a 2.1.1 Connector can carry.

    2.2.1 allows several tariffs per connector, at most one per Tariff.type (spec 2.2.1
    mod_locations Connector). The one that applies to a 2.1.1 eMSP's contract drivers is the
    REGULAR (or untyped) one; the others (ad hoc payment, charging-preference profiles) are
    lost. Without the Tariffs to look at, or without exactly one such tariff, which price a
    2.1.1 driver pays cannot be told: Untranslatable.
    """
    if not ids:
        return None
    if len(ids) == 1:
        return ids[0]
    if tariffs is None:
        raise Untranslatable(
            path,
            f"2.1.1 carries one tariff_id, {len(ids)} are given, and without their Tariffs "
            "which one applies to a 2.1.1 eMSP's drivers cannot be told",
        )
    unknown = [tariff_id for tariff_id in ids if tariff_id not in tariffs]
    if unknown:
        raise Untranslatable(path, f"tariff {unknown[0]} is not among the Tariffs given")
    regular = [
        tariff_id for tariff_id in ids if tariffs[tariff_id].type in (None, v221.TariffType.REGULAR)
    ]
    if len(regular) != 1:
        raise Untranslatable(
            path,
            f"2.1.1 carries one tariff_id, and {len(regular)} of the {len(ids)} given are "
            "regular (untyped or REGULAR) tariffs: which one applies cannot be told",
        )
    for index, tariff_id in enumerate(ids):
        if tariff_id != regular[0]:
            kind = tariffs[tariff_id].type
            notes.lose(
                _join(path, index),
                f"2.1.1 carries one tariff_id: kept the regular tariff {regular[0]}, dropped "
                f"{tariff_id} ({kind.value if kind else 'untyped'})",
            )
    return regular[0]


# --- Location, EVSE, Connector: field by field, for whole objects and PATCH bodies -------
# Each *_fields_to_* function converts the fields it is given (all of an object's, or only
# those a PATCH sets) and leaves the others alone, so one set of rules serves both.
Fields = dict[str, Any]


def _fields(model: OcpiModel, *, only_set: bool = False) -> Fields:
    """The model's fields by name, in the spec's order: all of them, or those a PATCH set."""
    names = model.model_fields_set if only_set else type(model).model_fields
    return {name: getattr(model, name) for name in type(model).model_fields if name in names}


def _connector_fields_to_v211(
    fields: Fields, tariffs: Mapping[str, v221.Tariff] | None, path: str, notes: _Notes
) -> Fields:
    result: Fields = {}
    for name, value in fields.items():
        where = _join(path, name)
        if name == "max_voltage":
            result["voltage"] = value
        elif name == "max_amperage":
            result["amperage"] = value
        elif name == "max_electric_power":
            if value is not None:
                notes.lose(where, "2.1.1 has no such field")
        elif name == "tariff_ids":
            result["tariff_id"] = _choose_tariff_id(value, tariffs, where, notes)
        elif name == "standard":
            result[name] = _same_enum(v211.ConnectorType, value, where)
        elif name == "power_type":
            result[name] = _same_enum(v211.PowerType, value, where)
        else:
            result[name] = value
    return result


def _connector_fields_to_v221(fields: Fields, path: str) -> Fields:
    result: Fields = {}
    for name, value in fields.items():
        where = _join(path, name)
        if name == "voltage":
            result["max_voltage"] = value
        elif name == "amperage":
            result["max_amperage"] = value
        elif name == "tariff_id":
            result["tariff_ids"] = None if value is None else [value]
        elif name == "standard":
            result[name] = _same_enum(v221.ConnectorType, value, where)
        elif name == "power_type":
            result[name] = _same_enum(v221.PowerType, value, where)
        else:
            result[name] = value
    return result


def _evse_fields_to_v211(
    fields: Fields, tariffs: Mapping[str, v221.Tariff] | None, path: str, notes: _Notes
) -> Fields:
    result: Fields = {}
    for name, value in fields.items():
        where = _join(path, name)
        if name == "capabilities":
            result[name] = _filter_enums(v211.Capability, value, where, notes)
        elif name == "connectors":
            result[name] = [
                _build(
                    v211.Connector,
                    _join(where, index),
                    **_connector_fields_to_v211(
                        _fields(connector), tariffs, _join(where, index), notes
                    ),
                )
                for index, connector in enumerate(value)
            ]
        else:
            result[name] = value
    return result


def _evse_fields_to_v221(fields: Fields, path: str) -> Fields:
    result: Fields = {}
    for name, value in fields.items():
        where = _join(path, name)
        if name == "capabilities":
            result[name] = None if value is None else [v221.Capability(c.value) for c in value]
        elif name == "connectors":
            result[name] = [
                _build(
                    v221.Connector,
                    _join(where, index),
                    **_connector_fields_to_v221(_fields(connector), _join(where, index)),
                )
                for index, connector in enumerate(value)
            ]
        else:
            result[name] = value
    return result


def _evses_to_v211(
    evses: list[v221.EVSE] | None,
    tariffs: Mapping[str, v221.Tariff] | None,
    path: str,
    notes: _Notes,
) -> list[v211.EVSE] | None:
    if evses is None:
        return None
    return [
        _build(
            v211.EVSE,
            _join(path, index),
            **_evse_fields_to_v211(_fields(evse), tariffs, _join(path, index), notes),
        )
        for index, evse in enumerate(evses)
    ]


def _location_fields_to_v211(
    fields: Fields,
    tariffs: Mapping[str, v221.Tariff] | None,
    path: str,
    notes: _Notes,
    *,
    embedded: bool = False,
) -> Fields:
    result: Fields = {}
    for name, value in fields.items():
        where = _join(path, name)
        if name in ("country_code", "party_id"):
            continue  # in the 2.1.1 URL (transport_and_format "Client owned object push")
        if name == "publish":
            if value is False and not embedded:
                # Spec 2.2.1 mod_locations: publish false shows the Location only to the
                # tokens in publish_allowed_to; a 2.1.1 eMSP would show it to every driver.
                raise Untranslatable(
                    where,
                    "the Location is not to be published; 2.1.1 has no such flag and its eMSP "
                    "would show it to every driver",
                )
        elif name == "publish_allowed_to":
            if value:
                notes.lose(where, "2.1.1 has no publish_allowed_to")
        elif name == "state":
            if value is not None:
                notes.lose(where, "2.1.1 has no such field")
        elif name == "parking_type":
            result["type"] = _location_type(value, where, notes)
        elif name == "postal_code":
            # Required in 2.1.1, optional in 2.2.1: "" stands for "none" (and is read back so).
            result[name] = value or ""
        elif name == "evses":
            result[name] = _evses_to_v211(value, tariffs, where, notes)
        elif name == "facilities":
            result[name] = _filter_enums(v211.Facility, value, where, notes)
        elif name == "opening_times":
            result[name] = _hours_to_v211(value, where)
        elif name == "energy_mix":
            result[name] = _energy_mix_to_v211(value, where)
        else:
            result[name] = value
    return result


def _location_type(
    parking_type: v221.ParkingType | None, path: str, notes: _Notes
) -> v211.LocationType:
    if parking_type is None:
        return v211.LocationType.UNKNOWN  # spec 2.1.1 §4.16: "not known by the operator (default)"
    if parking_type in _PARKING_TO_LOCATION_TYPE:
        return _PARKING_TO_LOCATION_TYPE[parking_type]
    notes.lose(path, f"2.1.1 LocationType has no {parking_type.value}: sent as OTHER")
    return v211.LocationType.OTHER


def _location_fields_to_v221(
    fields: Fields, time_zone: str | None, path: str, notes: _Notes
) -> Fields:
    result: Fields = {}
    for name, value in fields.items():
        where = _join(path, name)
        if name == "type":
            if value is v211.LocationType.OTHER:
                notes.lose(where, "2.2.1 ParkingType has no OTHER: left out")
            result["parking_type"] = _LOCATION_TYPE_TO_PARKING.get(value)
        elif name == "postal_code":
            result[name] = value or None
        elif name == "time_zone":
            if value is None and time_zone is None:
                raise Untranslatable(where, "required in 2.2.1, absent in this 2.1.1 Location")
            result[name] = value or time_zone
        elif name == "evses":
            result[name] = (
                None
                if value is None
                else [
                    _build(
                        v221.EVSE,
                        _join(where, index),
                        **_evse_fields_to_v221(_fields(evse), _join(where, index)),
                    )
                    for index, evse in enumerate(value)
                ]
            )
        elif name == "facilities":
            result[name] = None if value is None else [v221.Facility(f.value) for f in value]
        elif name == "opening_times":
            result[name] = _hours_to_v221(value, where)
        elif name == "energy_mix":
            result[name] = _energy_mix_to_v221(value, where)
        else:
            result[name] = value
    return result


def _location_to_v211(
    location: v221.Location,
    tariffs: Mapping[str, v221.Tariff] | None,
    path: str,
    notes: _Notes,
    *,
    embedded: bool = False,
) -> v211.Location:
    fields = _location_fields_to_v211(_fields(location), tariffs, path, notes, embedded=embedded)
    return _build(v211.Location, path, **fields)


def connector_to_v211(
    connector: v221.Connector, *, tariffs: Mapping[str, v221.Tariff] | None = None
) -> Translated[v211.Connector]:
    """A 2.2.1 Connector as 2.1.1; `tariffs` (by id) is needed when it has several tariff_ids."""
    notes = _Notes()
    fields = _connector_fields_to_v211(_fields(connector), tariffs, "", notes)
    return notes.result(_build(v211.Connector, "", **fields))


def connector_to_v221(connector: v211.Connector) -> Translated[v221.Connector]:
    return Translated(
        _build(v221.Connector, "", **_connector_fields_to_v221(_fields(connector), ""))
    )


def evse_to_v211(
    evse: v221.EVSE, *, tariffs: Mapping[str, v221.Tariff] | None = None
) -> Translated[v211.EVSE]:
    notes = _Notes()
    fields = _evse_fields_to_v211(_fields(evse), tariffs, "", notes)
    return notes.result(_build(v211.EVSE, "", **fields))


def evse_to_v221(evse: v211.EVSE) -> Translated[v221.EVSE]:
    return Translated(_build(v221.EVSE, "", **_evse_fields_to_v221(_fields(evse), "")))


def location_to_v211(
    location: v221.Location, *, tariffs: Mapping[str, v221.Tariff] | None = None
) -> Translated[v211.Location]:
    """A 2.2.1 Location as 2.1.1 (its owner goes in the 2.1.1 URL, not the object).

    `tariffs` (the CPO's Tariffs by id) is needed only for connectors with several tariff_ids.
    """
    notes = _Notes()
    return notes.result(_location_to_v211(location, tariffs, "", notes))


def location_to_v221(
    location: v211.Location, *, country_code: str, party_id: str, time_zone: str | None = None
) -> Translated[v221.Location]:
    """A 2.1.1 Location as 2.2.1, owned by the sending CPO (`country_code`, `party_id`) and
    published (2.1.1 publishes every Location it sends).

    `time_zone` is used only when the 2.1.1 Location has none (2.2.1 requires one).
    """
    notes = _Notes()
    fields = _location_fields_to_v221(_fields(location), time_zone, "", notes)
    return notes.result(
        _build(
            v221.Location,
            "",
            country_code=country_code,
            party_id=party_id,
            publish=True,
            **fields,
        )
    )


# --- PATCH bodies of Location, EVSE and Connector ----------------------------------------
# A PATCH names the object in its URL; its body carries only what changes. Spec 2.2.1
# transport_and_format: a PATCH SHALL carry last_updated; 2.1.1 does not require it, so the
# caller passes the time to use when a 2.1.1 PATCH has none (when it was received).


def _patch_last_updated(fields: Fields, last_updated: datetime | None) -> Fields:
    if fields.get("last_updated") is not None:
        return fields
    if last_updated is None:
        raise Untranslatable(
            "last_updated", "a 2.2.1 PATCH requires last_updated and this 2.1.1 PATCH has none"
        )
    return fields | {"last_updated": last_updated}


def location_patch_to_v211(
    patch: OcpiModel, *, tariffs: Mapping[str, v221.Tariff] | None = None
) -> Translated[OcpiModel]:
    """A 2.2.1 LocationPatch as a 2.1.1 one: only the fields it sets, converted as in
    location_to_v211 (`publish: true` needs no counterpart and is left out)."""
    notes = _Notes()
    fields = _location_fields_to_v211(_fields(patch, only_set=True), tariffs, "", notes)
    return notes.result(_build(v211.LocationPatch, "", **fields))


def location_patch_to_v221(
    patch: OcpiModel, *, time_zone: str | None = None, last_updated: datetime | None = None
) -> Translated[OcpiModel]:
    """A 2.1.1 LocationPatch as a 2.2.1 one; `last_updated` is used when the patch has none."""
    notes = _Notes()
    fields = _location_fields_to_v221(_fields(patch, only_set=True), time_zone, "", notes)
    return notes.result(_build(v221.LocationPatch, "", **_patch_last_updated(fields, last_updated)))


def evse_patch_to_v211(
    patch: OcpiModel, *, tariffs: Mapping[str, v221.Tariff] | None = None
) -> Translated[OcpiModel]:
    notes = _Notes()
    fields = _evse_fields_to_v211(_fields(patch, only_set=True), tariffs, "", notes)
    return notes.result(_build(v211.EVSEPatch, "", **fields))


def evse_patch_to_v221(
    patch: OcpiModel, *, last_updated: datetime | None = None
) -> Translated[OcpiModel]:
    fields = _evse_fields_to_v221(_fields(patch, only_set=True), "")
    return Translated(_build(v221.EVSEPatch, "", **_patch_last_updated(fields, last_updated)))


def connector_patch_to_v211(
    patch: OcpiModel, *, tariffs: Mapping[str, v221.Tariff] | None = None
) -> Translated[OcpiModel]:
    notes = _Notes()
    fields = _connector_fields_to_v211(_fields(patch, only_set=True), tariffs, "", notes)
    return notes.result(_build(v211.ConnectorPatch, "", **fields))


def connector_patch_to_v221(
    patch: OcpiModel, *, last_updated: datetime | None = None
) -> Translated[OcpiModel]:
    fields = _connector_fields_to_v221(_fields(patch, only_set=True), "")
    return Translated(_build(v221.ConnectorPatch, "", **_patch_last_updated(fields, last_updated)))


# --- Tariff -------------------------------------------------------------------------------
def _restrictions_to_v211(
    restrictions: v221.TariffRestrictions | None, path: str
) -> v211.TariffRestrictions | None:
    if restrictions is None:
        return None
    for field in ("min_current", "max_current", "reservation"):
        if getattr(restrictions, field) is not None:
            # Dropping a restriction widens when the element applies: another price.
            raise Untranslatable(
                _join(path, field),
                "2.1.1 has no such restriction; without it the element would apply when it "
                "should not",
            )
    fields = restrictions.model_dump(exclude={"min_current", "max_current", "reservation"})
    return _build(v211.TariffRestrictions, path, **fields)


def _tariff_to_v211(tariff: v221.Tariff, path: str, notes: _Notes) -> v211.Tariff:
    _lose_present(tariff, ["type"], path, notes, "2.1.1 Tariffs have no type")
    _lose_present(
        tariff, ["min_price", "max_price"], path, notes, "2.1.1 Tariffs have no price limits"
    )
    _lose_present(
        tariff,
        ["start_date_time", "end_date_time"],
        path,
        notes,
        "2.1.1 Tariffs have no validity period",
    )
    elements = []
    for index, element in enumerate(tariff.elements):
        element_path = _join(path, "elements", index)
        components = []
        for number, component in enumerate(element.price_components):
            component_path = _join(element_path, "price_components", number)
            _lose_present(component, ["vat"], component_path, notes, "2.1.1 prices carry no VAT")
            components.append(
                _build(
                    v211.PriceComponent,
                    component_path,
                    type=component.type,
                    price=component.price,
                    step_size=component.step_size,
                )
            )
        elements.append(
            _build(
                v211.TariffElement,
                element_path,
                price_components=components,
                restrictions=_restrictions_to_v211(
                    element.restrictions, _join(element_path, "restrictions")
                ),
            )
        )
    return _build(
        v211.Tariff,
        path,
        id=tariff.id,
        currency=tariff.currency,
        tariff_alt_text=tariff.tariff_alt_text,
        tariff_alt_url=tariff.tariff_alt_url,
        elements=elements,
        energy_mix=_energy_mix_to_v211(tariff.energy_mix, _join(path, "energy_mix")),
        last_updated=tariff.last_updated,
    )


def _tariff_to_v221(
    tariff: v211.Tariff, country_code: str, party_id: str, path: str
) -> v221.Tariff:
    elements = []
    for index, element in enumerate(tariff.elements):
        element_path = _join(path, "elements", index)
        restrictions = None
        if element.restrictions is not None:
            restrictions = _build(
                v221.TariffRestrictions,
                _join(element_path, "restrictions"),
                **element.restrictions.model_dump(),
            )
        elements.append(
            _build(
                v221.TariffElement,
                element_path,
                price_components=[
                    _build(
                        v221.PriceComponent,
                        _join(element_path, "price_components", number),
                        **component.model_dump(),
                    )
                    for number, component in enumerate(element.price_components)
                ],
                restrictions=restrictions,
            )
        )
    return _build(
        v221.Tariff,
        path,
        country_code=country_code,
        party_id=party_id,
        id=tariff.id,
        currency=tariff.currency,
        tariff_alt_text=tariff.tariff_alt_text,
        tariff_alt_url=tariff.tariff_alt_url,
        elements=elements,
        energy_mix=_energy_mix_to_v221(tariff.energy_mix, _join(path, "energy_mix")),
        last_updated=tariff.last_updated,
    )


def tariff_to_v211(tariff: v221.Tariff) -> Translated[v211.Tariff]:
    notes = _Notes()
    return notes.result(_tariff_to_v211(tariff, "", notes))


def tariff_to_v221(
    tariff: v211.Tariff, *, country_code: str, party_id: str
) -> Translated[v221.Tariff]:
    """A 2.1.1 Tariff as 2.2.1, owned by the sending CPO (`country_code`, `party_id`)."""
    return Translated(_tariff_to_v221(tariff, country_code, party_id, ""))


# --- Token --------------------------------------------------------------------------------
_TOKEN_FIELDS_NOT_IN_V211 = ("group_id", "default_profile_type", "energy_contract")


def _token_fields_to_v211(fields: Fields, path: str, notes: _Notes) -> Fields:
    result: Fields = {}
    for name, value in fields.items():
        where = _join(path, name)
        if name in ("country_code", "party_id"):
            continue  # in the 2.1.1 URL (transport_and_format "Client owned object push")
        if name in _TOKEN_FIELDS_NOT_IN_V211:
            if value is not None:
                notes.lose(where, "2.1.1 Tokens have no such field")
        elif name == "contract_id":
            result["auth_id"] = value
        elif name == "type":
            if value.value in {member.value for member in v211.TokenType}:
                result[name] = v211.TokenType(value.value)
            else:
                notes.lose(where, f"2.1.1 TokenType has no {value.value}: sent as OTHER")
                result[name] = v211.TokenType.OTHER
        else:
            result[name] = value
    return result


def _token_fields_to_v221(fields: Fields) -> Fields:
    result: Fields = {}
    for name, value in fields.items():
        if name == "auth_id":
            result["contract_id"] = value
        elif name == "type":
            result[name] = v221.TokenType(value.value)
        else:
            result[name] = value
    return result


def _token_to_v211(token: v221.Token, path: str, notes: _Notes) -> v211.Token:
    return _build(v211.Token, path, **_token_fields_to_v211(_fields(token), path, notes))


def _token_to_v221(token: v211.Token, country_code: str, party_id: str, path: str) -> v221.Token:
    fields = _token_fields_to_v221(_fields(token))
    return _build(v221.Token, path, country_code=country_code, party_id=party_id, **fields)


def token_to_v211(token: v221.Token) -> Translated[v211.Token]:
    """A 2.2.1 Token as 2.1.1: contract_id becomes auth_id; its owner goes in the URL."""
    notes = _Notes()
    return notes.result(_token_to_v211(token, "", notes))


def token_to_v221(token: v211.Token, *, country_code: str, party_id: str) -> Translated[v221.Token]:
    """A 2.1.1 Token as 2.2.1, owned by the sending eMSP (`country_code`, `party_id`)."""
    return Translated(_token_to_v221(token, country_code, party_id, ""))


def token_patch_to_v211(patch: OcpiModel) -> Translated[OcpiModel]:
    notes = _Notes()
    fields = _token_fields_to_v211(_fields(patch, only_set=True), "", notes)
    return notes.result(_build(v211.TokenPatch, "", **fields))


def token_patch_to_v221(
    patch: OcpiModel, *, last_updated: datetime | None = None
) -> Translated[OcpiModel]:
    fields = _token_fields_to_v221(_fields(patch, only_set=True))
    return Translated(_build(v221.TokenPatch, "", **_patch_last_updated(fields, last_updated)))


def _references_to_v211(references: v221.LocationReferences, path: str) -> v211.LocationReferences:
    return _build(
        v211.LocationReferences,
        path,
        location_id=references.location_id,
        evse_uids=references.evse_uids,
    )


def _references_to_v221(
    references: v211.LocationReferences, path: str, notes: _Notes
) -> v221.LocationReferences:
    # The driver may use the EVSEs named; 2.2.1 cannot narrow that down to connectors.
    _lose_present(
        references, ["connector_ids"], path, notes, "2.2.1 LocationReferences name EVSEs only"
    )
    return _build(
        v221.LocationReferences,
        path,
        location_id=references.location_id,
        evse_uids=references.evse_uids,
    )


def location_references_to_v211(
    references: v221.LocationReferences,
) -> Translated[v211.LocationReferences]:
    """The body of a real-time authorization request (spec 2.1.1 mod_tokens §2.2.2)."""
    return Translated(_references_to_v211(references, ""))


def location_references_to_v221(
    references: v211.LocationReferences,
) -> Translated[v221.LocationReferences]:
    notes = _Notes()
    return notes.result(_references_to_v221(references, "", notes))


def authorization_info_to_v211(info: v221.AuthorizationInfo) -> Translated[v211.AuthorizationInfo]:
    """The eMSP's answer to a real-time authorization, as 2.1.1."""
    notes = _Notes()
    notes.lose("token", "a 2.1.1 AuthorizationInfo does not echo the Token")
    _lose_present(
        info,
        ["authorization_reference"],
        "",
        notes,
        "2.1.1 has no authorization_reference; the CPO cannot quote it in the Session or CDR",
    )
    location = None if info.location is None else _references_to_v211(info.location, "location")
    return notes.result(
        _build(v211.AuthorizationInfo, "", allowed=info.allowed, location=location, info=info.info)
    )


def authorization_info_to_v221(
    info: v211.AuthorizationInfo, *, token: v221.Token
) -> Translated[v221.AuthorizationInfo]:
    """A 2.1.1 AuthorizationInfo as 2.2.1; `token` is the (2.2.1) Token it answers for."""
    notes = _Notes()
    location = None
    if info.location is not None:
        location = _references_to_v221(info.location, "location", notes)
    return notes.result(
        _build(
            v221.AuthorizationInfo,
            "",
            allowed=info.allowed,
            token=token,
            location=location,
            info=info.info,
        )
    )


# --- Session and CDR: shared parts --------------------------------------------------------
def _auth_method_to_v211(method: v221.AuthMethod, path: str, notes: _Notes) -> v211.AuthMethod:
    if method is v221.AuthMethod.COMMAND:
        # A session started by a command was authorised by the eMSP, as an AUTH_REQUEST is.
        notes.lose(path, "2.1.1 AuthMethod has no COMMAND: sent as AUTH_REQUEST")
        return v211.AuthMethod.AUTH_REQUEST
    return v211.AuthMethod(method.value)


def _driver_to_v211(token: v221.CdrToken, path: str, notes: _Notes) -> str:
    notes.lose(
        path,
        "2.1.1 names the driver by auth_id (the contract_id) only: the token's uid, type, "
        "country_code and party_id are not carried",
    )
    return token.contract_id


def _check_driver(token: v221.CdrToken, auth_id: str) -> v221.CdrToken:
    if token.contract_id != auth_id:
        raise Untranslatable(
            "auth_id",
            f"the CdrToken given has contract_id {token.contract_id}, not this auth_id {auth_id}",
        )
    return token


def _periods_to_v211(
    periods: list[v221.ChargingPeriod] | None, path: str, notes: _Notes
) -> list[v211.ChargingPeriod] | None:
    if periods is None:
        return None
    known = {member.value for member in v211.CdrDimensionType}
    result = []
    for index, period in enumerate(periods):
        period_path = _join(path, index)
        _lose_present(period, ["tariff_id"], period_path, notes, "2.1.1 periods name no tariff")
        dimensions = []
        for number, dimension in enumerate(period.dimensions):
            if dimension.type.value in known:
                dimensions.append(
                    v211.CdrDimension(
                        type=v211.CdrDimensionType(dimension.type.value), volume=dimension.volume
                    )
                )
            else:
                notes.lose(
                    _join(period_path, "dimensions", number),
                    f"2.1.1 CdrDimensionType has no {dimension.type.value}",
                )
        if not dimensions:
            # Dropping the period would stretch the one before it over this one's time.
            raise Untranslatable(
                _join(period_path, "dimensions"),
                "none of this period's dimensions exists in 2.1.1, and a period needs one",
            )
        result.append(
            _build(
                v211.ChargingPeriod,
                period_path,
                start_date_time=period.start_date_time,
                dimensions=dimensions,
            )
        )
    return result


def _periods_to_v221(
    periods: list[v211.ChargingPeriod] | None, path: str, notes: _Notes
) -> list[v221.ChargingPeriod] | None:
    if periods is None:
        return None
    result = []
    for index, period in enumerate(periods):
        period_path = _join(path, index)
        dimensions = []
        for number, dimension in enumerate(period.dimensions):
            if dimension.type is v211.CdrDimensionType.FLAT:
                notes.lose(
                    _join(period_path, "dimensions", number), "2.2.1 CdrDimensionType has no FLAT"
                )
            else:
                dimensions.append(
                    v221.CdrDimension(
                        type=v221.CdrDimensionType(dimension.type.value), volume=dimension.volume
                    )
                )
        if not dimensions:
            raise Untranslatable(
                _join(period_path, "dimensions"),
                "this period has only FLAT, which 2.2.1 does not have, and a period needs one",
            )
        result.append(
            _build(
                v221.ChargingPeriod,
                period_path,
                start_date_time=period.start_date_time,
                dimensions=dimensions,
            )
        )
    return result


def _price_to_v211(price: v221.Price | None, path: str, notes: _Notes) -> Any:
    if price is None:
        return None
    if price.incl_vat is not None:
        notes.lose(_join(path, "incl_vat"), "2.1.1 costs are a number excluding VAT")
    return price.excl_vat


def _relevant_location(
    location: v221.Location,
    location_id: str,
    evse_uid: str,
    connector_id: str,
    path: str,
    used_tariffs: set[str],
) -> v221.Location:
    """`location` with only the EVSE and Connector a Session or CDR used (spec 2.1.1 Session,
    CDR: "including only the relevant EVSE and connector").

    Of several tariff_ids the connector keeps the one the Session or CDR used (`used_tariffs`,
    from its periods or Tariffs); with none or several of them used, the embedded connector
    names no tariff (it is optional in 2.1.1 and the object's own prices stand).
    """
    if location.id != location_id:
        raise Untranslatable(path, f"the Location given is {location.id}, not {location_id}")
    if evse_uid == NOT_APPLICABLE:
        return location.model_copy(update={"evses": None})
    for evse in location.evses or []:
        if evse.uid == evse_uid:
            for connector in evse.connectors:
                if connector.id == connector_id:
                    ids = connector.tariff_ids or []
                    if len(ids) > 1:
                        used = [tariff_id for tariff_id in ids if tariff_id in used_tariffs]
                        connector = connector.model_copy(
                            update={"tariff_ids": used if len(used) == 1 else None}
                        )
                    relevant = evse.model_copy(update={"connectors": [connector]})
                    return location.model_copy(update={"evses": [relevant]})
    raise Untranslatable(
        path, f"the Location given has no EVSE {evse_uid} with connector {connector_id}"
    )


def _used_evse(location: v211.Location, path: str) -> tuple[v211.EVSE, v211.Connector]:
    """The one EVSE and Connector of an embedded 2.1.1 Location."""
    evses = location.evses or []
    if len(evses) != 1 or len(evses[0].connectors) != 1:
        raise Untranslatable(
            _join(path, "evses"),
            "2.2.1 names exactly one EVSE and connector; this Location embeds "
            f"{len(evses)} EVSEs"
            + (f" and {len(evses[0].connectors)} connectors" if evses else ""),
        )
    return evses[0], evses[0].connectors[0]


_CDR_LOCATION_FIELDS = {"id", "name", "address", "city", "postal_code", "country", "coordinates"}
_CDR_EVSE_FIELDS = {"uid", "evse_id"}
_CDR_CONNECTOR_FIELDS = {"id", "standard", "format", "power_type"}
_METADATA = {"last_updated", "evses", "connectors"}


def _lose_embedded(
    location: v211.Location,
    carried: tuple[set[str], set[str], set[str]],
    path: str,
    notes: _Notes,
    why: str,
) -> None:
    """A Loss for each field of an embedded Location (and its EVSE and Connector) not carried."""
    location_fields, evse_fields, connector_fields = carried
    # UNKNOWN is 2.1.1's "not known" default: leaving it behind loses nothing.
    skip = _METADATA | {"type"} if location.type is v211.LocationType.UNKNOWN else _METADATA
    _lose_present(location, _others(location, location_fields | skip), path, notes, why)
    for index, evse in enumerate(location.evses or []):
        evse_path = _join(path, "evses", index)
        _lose_present(evse, _others(evse, evse_fields | _METADATA), evse_path, notes, why)
        for number, connector in enumerate(evse.connectors):
            _lose_present(
                connector,
                _others(connector, connector_fields | _METADATA),
                _join(evse_path, "connectors", number),
                notes,
                why,
            )


def _others(model: OcpiModel, fields: set[str]) -> list[str]:
    """The fields of `model` not in `fields`, in the spec's (the model's) order."""
    return [field for field in type(model).model_fields if field not in fields]


# --- Session ------------------------------------------------------------------------------
_WHERE_IDS = ("location_id", "evse_uid", "connector_id")


def _session_fields_to_v211(
    fields: Fields, location: v221.Location | None, path: str, notes: _Notes
) -> Fields:
    result: Fields = {}
    ids = [name for name in _WHERE_IDS if name in fields]
    if ids:
        if location is None or len(ids) < len(_WHERE_IDS):
            raise Untranslatable(
                _join(path, ids[0]),
                "2.1.1 embeds the Location: saying where a Session is needs the Location and "
                "all of location_id, evse_uid and connector_id",
            )
        periods = fields.get("charging_periods") or []
        relevant = _relevant_location(
            location,
            fields["location_id"],
            fields["evse_uid"],
            fields["connector_id"],
            _join(path, "location_id"),
            {period.tariff_id for period in periods if period.tariff_id},
        )
        # Losses of the Location given are not the Session's: only its refusals count.
        result["location"] = _location_to_v211(
            relevant, None, _join(path, "location"), _Notes(), embedded=True
        )
    for name, value in fields.items():
        where = _join(path, name)
        if name in ("country_code", "party_id", *_WHERE_IDS):
            continue
        if name == "start_date_time":
            result["start_datetime"] = value
        elif name == "end_date_time":
            result["end_datetime"] = value
        elif name == "cdr_token":
            result["auth_id"] = _driver_to_v211(value, where, notes)
        elif name == "auth_method":
            result[name] = _auth_method_to_v211(value, where, notes)
        elif name == "authorization_reference":
            if value is not None:
                notes.lose(where, "2.1.1 Sessions have no such field")
        elif name == "charging_periods":
            result[name] = _periods_to_v211(value, where, notes)
        elif name == "total_cost":
            result[name] = _price_to_v211(value, where, notes)
        elif name == "status":
            if value is v221.SessionStatus.RESERVATION:
                notes.lose(where, "2.1.1 SessionStatus has no RESERVATION: sent as PENDING")
                value = v221.SessionStatus.PENDING
            result[name] = v211.SessionStatus(value.value)
        else:
            result[name] = value
    return result


def _session_fields_to_v221(
    fields: Fields, cdr_token: v221.CdrToken | None, path: str, notes: _Notes
) -> Fields:
    result: Fields = {}
    for name, value in fields.items():
        where = _join(path, name)
        if name == "start_datetime":
            result["start_date_time"] = value
        elif name == "end_datetime":
            result["end_date_time"] = value
        elif name == "auth_id":
            if cdr_token is None:
                raise Untranslatable(
                    where, "2.2.1 names the driver's token: the token of this auth_id is needed"
                )
            result["cdr_token"] = _check_driver(cdr_token, value)
        elif name == "auth_method":
            result[name] = v221.AuthMethod(value.value)
        elif name == "location":
            evse, connector = _used_evse(value, where)
            _lose_embedded(
                value,
                ({"id"}, {"uid"}, {"id"}),
                where,
                notes,
                "a 2.2.1 Session references its Location by location_id, evse_uid and connector_id",
            )
            result |= {"location_id": value.id, "evse_uid": evse.uid, "connector_id": connector.id}
        elif name == "charging_periods":
            result[name] = _periods_to_v221(value, where, notes)
        elif name == "total_cost":
            result[name] = None if value is None else v221.Price(excl_vat=value)
        elif name == "status":
            result[name] = v221.SessionStatus(value.value)
        else:
            result[name] = value
    return result


def session_to_v211(session: v221.Session, *, location: v221.Location) -> Translated[v211.Session]:
    """A 2.2.1 Session as 2.1.1, which embeds the Location: `location` is the Session's
    Location as the CPO holds it (only the EVSE and Connector used are sent)."""
    notes = _Notes()
    fields = _session_fields_to_v211(_fields(session), location, "", notes)
    return notes.result(_build(v211.Session, "", **fields))


def session_to_v221(
    session: v211.Session, *, country_code: str, party_id: str, cdr_token: v221.CdrToken
) -> Translated[v221.Session]:
    """A 2.1.1 Session as 2.2.1, owned by the sending CPO; `cdr_token` is the driver's token
    (2.1.1 gives only its auth_id, which must be the token's contract_id)."""
    notes = _Notes()
    fields = _session_fields_to_v221(_fields(session), cdr_token, "", notes)
    return notes.result(
        _build(v221.Session, "", country_code=country_code, party_id=party_id, **fields)
    )


def session_patch_to_v211(
    patch: OcpiModel, *, location: v221.Location | None = None
) -> Translated[OcpiModel]:
    """A 2.2.1 SessionPatch as a 2.1.1 one; `location` is needed only when the patch moves the
    Session (sets location_id, evse_uid and connector_id)."""
    notes = _Notes()
    fields = _session_fields_to_v211(_fields(patch, only_set=True), location, "", notes)
    return notes.result(_build(v211.SessionPatch, "", **fields))


def session_patch_to_v221(
    patch: OcpiModel,
    *,
    cdr_token: v221.CdrToken | None = None,
    last_updated: datetime | None = None,
) -> Translated[OcpiModel]:
    """A 2.1.1 SessionPatch as a 2.2.1 one; `cdr_token` is needed only when it sets auth_id,
    `last_updated` only when it has none."""
    notes = _Notes()
    fields = _session_fields_to_v221(_fields(patch, only_set=True), cdr_token, "", notes)
    return notes.result(_build(v221.SessionPatch, "", **_patch_last_updated(fields, last_updated)))


# --- CDR ----------------------------------------------------------------------------------
_CDR_COSTS_NOT_IN_V211 = [
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
]


def cdr_to_v211(cdr: v221.CDR, *, location: v221.Location) -> Translated[v211.CDR]:
    """A 2.2.1 CDR as 2.1.1, which embeds a whole Location: `location` is the CDR's Location
    as the CPO holds it; the CDR's own snapshot (cdr_location) overrides what it has."""
    notes = _Notes()
    if cdr.credit:
        raise Untranslatable(
            "credit", "2.1.1 has no credit CDRs: this one would read as a second charge"
        )
    if cdr.home_charging_compensation:
        # Spec 2.2.1 mod_cdrs: the energy is to be paid *to* the driver; a 2.1.1 eMSP would
        # bill the driver for it.
        raise Untranslatable(
            "home_charging_compensation",
            "2.1.1 has no home-charging compensation CDRs: this one would read as a charge",
        )
    _lose_present(
        cdr,
        ["session_id", "authorization_reference", "signed_data"],
        "",
        notes,
        "2.1.1 CDRs have no such field",
    )
    _lose_present(cdr, _CDR_COSTS_NOT_IN_V211, "", notes, "2.1.1 CDRs give total_cost only")
    _lose_present(cdr, ["invoice_reference_id"], "", notes, "2.1.1 CDRs have no such field")
    snapshot = cdr.cdr_location
    _lose_present(snapshot, ["state"], "cdr_location", notes, "2.1.1 Locations have no state")
    _same_enum(v211.ConnectorType, snapshot.connector_standard, "cdr_location.connector_standard")
    _same_enum(v211.PowerType, snapshot.connector_power_type, "cdr_location.connector_power_type")
    if snapshot.evse_uid == NOT_APPLICABLE:
        raise Untranslatable("cdr_location.evse_uid", "a CDR is for a charging session at an EVSE")
    relevant = _relevant_location(
        location,
        snapshot.id,
        snapshot.evse_uid,
        snapshot.connector_id,
        "cdr_location",
        {tariff.id for tariff in cdr.tariffs or []},
    )
    evses = relevant.evses or []
    connector = (
        evses[0]
        .connectors[0]
        .model_copy(
            update={
                "standard": snapshot.connector_standard,
                "format": snapshot.connector_format,
                "power_type": snapshot.connector_power_type,
            }
        )
    )
    evse = evses[0].model_copy(update={"evse_id": snapshot.evse_id, "connectors": [connector]})
    embedded = relevant.model_copy(
        update={
            "name": snapshot.name,
            "address": snapshot.address,
            "city": snapshot.city,
            "postal_code": snapshot.postal_code,
            "country": snapshot.country,
            "coordinates": snapshot.coordinates,
            "evses": [evse],
        }
    )
    tariffs = None
    if cdr.tariffs is not None:
        tariffs = []
        for index, tariff in enumerate(cdr.tariffs):
            path = _join("tariffs", index)
            for field in ("country_code", "party_id"):
                if getattr(tariff, field) != getattr(cdr, field):
                    notes.lose(
                        _join(path, field),
                        "2.1.1 Tariffs name no owner; read back, a CDR's Tariffs are the "
                        "CDR's owner's",
                    )
            tariffs.append(_tariff_to_v211(tariff, path, notes))
    return notes.result(
        _build(
            v211.CDR,
            "",
            id=cdr.id,
            start_date_time=cdr.start_date_time,
            stop_date_time=cdr.end_date_time,
            auth_id=_driver_to_v211(cdr.cdr_token, "cdr_token", notes),
            auth_method=_auth_method_to_v211(cdr.auth_method, "auth_method", notes),
            location=_location_to_v211(embedded, None, "cdr_location", _Notes(), embedded=True),
            meter_id=cdr.meter_id,
            currency=cdr.currency,
            tariffs=tariffs,
            charging_periods=_periods_to_v211(cdr.charging_periods, "charging_periods", notes),
            total_cost=_price_to_v211(cdr.total_cost, "total_cost", notes),
            total_energy=cdr.total_energy,
            total_time=cdr.total_time,
            total_parking_time=cdr.total_parking_time,
            remark=cdr.remark,
            last_updated=cdr.last_updated,
        )
    )


def cdr_to_v221(
    cdr: v211.CDR, *, country_code: str, party_id: str, cdr_token: v221.CdrToken
) -> Translated[v221.CDR]:
    """A 2.1.1 CDR as 2.2.1, owned by the sending CPO (its Tariffs too); `cdr_token` is the
    driver's token (2.1.1 gives only its auth_id, which must be the token's contract_id)."""
    notes = _Notes()
    evse, connector = _used_evse(cdr.location, "location")
    _lose_embedded(
        cdr.location,
        (_CDR_LOCATION_FIELDS, _CDR_EVSE_FIELDS, _CDR_CONNECTOR_FIELDS),
        "location",
        notes,
        "a 2.2.1 CdrLocation does not carry it",
    )
    if evse.evse_id is None:
        raise Untranslatable(
            "location.evses.0.evse_id", "2.2.1 CdrLocation requires evse_id; this EVSE has none"
        )
    cdr_location = _build(
        v221.CdrLocation,
        "location",
        id=cdr.location.id,
        name=cdr.location.name,
        address=cdr.location.address,
        city=cdr.location.city,
        postal_code=cdr.location.postal_code or None,
        country=cdr.location.country,
        coordinates=cdr.location.coordinates,
        evse_uid=evse.uid,
        evse_id=evse.evse_id,
        connector_id=connector.id,
        connector_standard=_same_enum(
            v221.ConnectorType, connector.standard, "location.evses.0.connectors.0.standard"
        ),
        connector_format=connector.format,
        connector_power_type=_same_enum(
            v221.PowerType, connector.power_type, "location.evses.0.connectors.0.power_type"
        ),
    )
    tariffs = None
    if cdr.tariffs is not None:
        tariffs = [
            _tariff_to_v221(tariff, country_code, party_id, _join("tariffs", index))
            for index, tariff in enumerate(cdr.tariffs)
        ]
    periods = _periods_to_v221(cdr.charging_periods, "charging_periods", notes)
    return notes.result(
        _build(
            v221.CDR,
            "",
            country_code=country_code,
            party_id=party_id,
            id=cdr.id,
            start_date_time=cdr.start_date_time,
            end_date_time=cdr.stop_date_time,
            cdr_token=_check_driver(cdr_token, cdr.auth_id),
            auth_method=v221.AuthMethod(cdr.auth_method.value),
            cdr_location=cdr_location,
            meter_id=cdr.meter_id,
            currency=cdr.currency,
            tariffs=tariffs,
            charging_periods=periods,
            total_cost=v221.Price(excl_vat=cdr.total_cost),
            total_energy=cdr.total_energy,
            total_time=cdr.total_time,
            total_parking_time=cdr.total_parking_time,
            remark=cdr.remark,
            last_updated=cdr.last_updated,
        )
    )


# --- Credentials --------------------------------------------------------------------------
def credentials_to_v211(
    credentials: v221.Credentials, *, role: Role | None = None
) -> Translated[v211.Credentials]:
    """2.2.1 Credentials as 2.1.1, which names one party: the entry for `role` (default: the
    first); every other role is a Loss."""
    notes = _Notes()
    chosen = 0
    if role is not None:
        matching = [index for index, entry in enumerate(credentials.roles) if entry.role is role]
        if not matching:
            raise Untranslatable("roles", f"no {role.value} role among these Credentials")
        chosen = matching[0]
    for index, entry in enumerate(credentials.roles):
        if index != chosen:
            notes.lose(
                _join("roles", index),
                f"2.1.1 Credentials name one party: {entry.role.value} {entry.country_code} "
                f"{entry.party_id} is not carried",
            )
    kept = credentials.roles[chosen]
    return notes.result(
        _build(
            v211.Credentials,
            "",
            token=credentials.token,
            url=credentials.url,
            business_details=kept.business_details,
            party_id=kept.party_id,
            country_code=kept.country_code,
        )
    )


def credentials_to_v221(
    credentials: v211.Credentials, *, role: Role
) -> Translated[v221.Credentials]:
    """2.1.1 Credentials as 2.2.1: its one party in the `role` the caller knows it has."""
    entry = _build(
        v221.CredentialsRole,
        "",
        role=role,
        business_details=credentials.business_details,
        party_id=credentials.party_id,
        country_code=credentials.country_code,
    )
    return Translated(
        _build(v221.Credentials, "", token=credentials.token, url=credentials.url, roles=[entry])
    )


# --- Commands -----------------------------------------------------------------------------
def command_type_to_v211(command: v221.CommandType) -> v211.CommandType:
    """The 2.1.1 command; CANCEL_RESERVATION has none (2.1.1 replaces a reservation by
    sending RESERVE_NOW again, it cannot cancel one)."""
    return _same_enum(v211.CommandType, command, "command")


def start_session_to_v211(command: v221.StartSession) -> Translated[v211.StartSession]:
    notes = _Notes()
    _lose_present(
        command,
        ["connector_id"],
        "",
        notes,
        "2.1.1 StartSession names no connector: the Charge Point chooses",
    )
    _lose_present(
        command, ["authorization_reference"], "", notes, "2.1.1 commands have no such field"
    )
    return notes.result(
        _build(
            v211.StartSession,
            "",
            response_url=command.response_url,
            token=_token_to_v211(command.token, "token", notes),
            location_id=command.location_id,
            evse_uid=command.evse_uid,
        )
    )


def start_session_to_v221(
    command: v211.StartSession, *, country_code: str, party_id: str
) -> Translated[v221.StartSession]:
    """A 2.1.1 StartSession as 2.2.1; `country_code`/`party_id` own its Token (the eMSP)."""
    return Translated(
        _build(
            v221.StartSession,
            "",
            response_url=command.response_url,
            token=_token_to_v221(command.token, country_code, party_id, "token"),
            location_id=command.location_id,
            evse_uid=command.evse_uid,
        )
    )


_RESERVATION_ID = re.compile(r"-?(0|[1-9][0-9]*)")


def reserve_now_to_v211(command: v221.ReserveNow) -> Translated[v211.ReserveNow]:
    notes = _Notes()
    if not _RESERVATION_ID.fullmatch(command.reservation_id):
        raise Untranslatable(
            "reservation_id",
            f"2.1.1 reservation ids are integers; {command.reservation_id!r} is not one",
        )
    _lose_present(
        command, ["authorization_reference"], "", notes, "2.1.1 commands have no such field"
    )
    return notes.result(
        _build(
            v211.ReserveNow,
            "",
            response_url=command.response_url,
            token=_token_to_v211(command.token, "token", notes),
            expiry_date=command.expiry_date,
            reservation_id=int(command.reservation_id),
            location_id=command.location_id,
            evse_uid=command.evse_uid,
        )
    )


def reserve_now_to_v221(
    command: v211.ReserveNow, *, country_code: str, party_id: str
) -> Translated[v221.ReserveNow]:
    """A 2.1.1 ReserveNow as 2.2.1; `country_code`/`party_id` own its Token (the eMSP)."""
    return Translated(
        _build(
            v221.ReserveNow,
            "",
            response_url=command.response_url,
            token=_token_to_v221(command.token, country_code, party_id, "token"),
            expiry_date=command.expiry_date,
            reservation_id=str(command.reservation_id),
            location_id=command.location_id,
            evse_uid=command.evse_uid,
        )
    )


def stop_session_to_v211(command: v221.StopSession) -> Translated[v211.StopSession]:
    return Translated(_build(v211.StopSession, "", **command.model_dump()))


def stop_session_to_v221(command: v211.StopSession) -> Translated[v221.StopSession]:
    return Translated(_build(v221.StopSession, "", **command.model_dump()))


def unlock_connector_to_v211(command: v221.UnlockConnector) -> Translated[v211.UnlockConnector]:
    return Translated(_build(v211.UnlockConnector, "", **command.model_dump()))


def unlock_connector_to_v221(command: v211.UnlockConnector) -> Translated[v221.UnlockConnector]:
    return Translated(_build(v221.UnlockConnector, "", **command.model_dump()))


def command_response_to_v211(
    response: v221.CommandResponse,
) -> Translated[v211.CommandResponseType]:
    """The CPO's immediate answer: 2.1.1 sends the bare CommandResponseType (spec 2.1.1
    mod_commands §2.1.1 "Response Data"), without timeout or message."""
    notes = _Notes()
    notes.lose("timeout", "the 2.1.1 answer to a command carries no timeout")
    _lose_present(response, ["message"], "", notes, "the 2.1.1 answer carries no message")
    return notes.result(v211.CommandResponseType(response.result.value))


def command_response_to_v221(
    result: v211.CommandResponseType, *, timeout: int
) -> Translated[v221.CommandResponse]:
    """The CPO's immediate 2.1.1 answer as a 2.2.1 CommandResponse, which requires a `timeout`
    (seconds the eMSP waits for the result): 2.1.1 has none, so the caller chooses it."""
    if result is v211.CommandResponseType.TIMEOUT:
        # 2.2.1's immediate answer has no TIMEOUT: the command is not going ahead.
        notes = _Notes()
        notes.lose("result", "2.2.1 CommandResponseType has no TIMEOUT: sent as REJECTED")
        return notes.result(
            v221.CommandResponse(
                result=v221.CommandResponseType.REJECTED,
                timeout=timeout,
                message=[v221.DisplayText(language="en", text="TIMEOUT")],
            )
        )
    return Translated(
        v221.CommandResponse(result=v221.CommandResponseType(result.value), timeout=timeout)
    )


_RESULT_TO_V211 = {
    v221.CommandResultType.ACCEPTED: v211.CommandResponseType.ACCEPTED,
    v221.CommandResultType.CANCELED_RESERVATION: v211.CommandResponseType.ACCEPTED,
    v221.CommandResultType.NOT_SUPPORTED: v211.CommandResponseType.NOT_SUPPORTED,
    v221.CommandResultType.REJECTED: v211.CommandResponseType.REJECTED,
    v221.CommandResultType.TIMEOUT: v211.CommandResponseType.TIMEOUT,
}


def command_result_to_v211(result: v221.CommandResult) -> Translated[v211.CommandResponse]:
    """The Charge Point's outcome, POSTed to the response_url: 2.1.1 sends a CommandResponse.

    2.2.1's finer failures (EVSE_OCCUPIED, EVSE_INOPERATIVE, FAILED, UNKNOWN_RESERVATION)
    become REJECTED, which keeps their meaning (the command did not succeed) but not the why.
    """
    notes = _Notes()
    mapped = _RESULT_TO_V211.get(result.result, v211.CommandResponseType.REJECTED)
    if mapped.value != result.result.value:
        notes.lose("result", f"2.1.1 has no {result.result.value}: sent as {mapped.value}")
    _lose_present(result, ["message"], "", notes, "2.1.1 CommandResponse carries no message")
    return notes.result(v211.CommandResponse(result=mapped))


def command_result_to_v221(response: v211.CommandResponse) -> Translated[v221.CommandResult]:
    """A 2.1.1 CommandResponse POSTed to the response_url, as the 2.2.1 CommandResult."""
    if response.result is v211.CommandResponseType.UNKNOWN_SESSION:
        notes = _Notes()
        notes.lose("result", "2.2.1 CommandResultType has no UNKNOWN_SESSION: sent as FAILED")
        return notes.result(
            v221.CommandResult(
                result=v221.CommandResultType.FAILED,
                message=[v221.DisplayText(language="en", text="UNKNOWN_SESSION")],
            )
        )
    return Translated(v221.CommandResult(result=v221.CommandResultType(response.result.value)))


# --- Status codes -------------------------------------------------------------------------
def status_code_to_v211(code: int) -> Translated[int]:
    """A 2.2.1 status code as 2.1.1 knows it (spec 2.1.1 status_codes).

    2.1.1 has no 2004 (Unknown Token) and no 4xxx (hub errors, 2.2.1 status_codes): they go
    as the generic code of the class the 2.1.1 reader acts on (2000: fix the request; 3000:
    the other side failed). Every 2.1.1 code means the same in 2.2.1, so the way up needs no
    function.
    """
    notes = _Notes()
    if code == OcpiStatus.UNKNOWN_TOKEN:
        notes.lose("status_code", "2.1.1 has no 2004 (Unknown Token): sent as 2000")
        return notes.result(int(OcpiStatus.CLIENT_ERROR))
    if 4000 <= code <= 4999:
        notes.lose("status_code", f"2.1.1 has no hub errors ({code}): sent as 3000")
        return notes.result(int(OcpiStatus.SERVER_ERROR))
    return notes.result(code)
