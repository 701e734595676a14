"""Translation of OCPI objects between 2.2.1 and 2.3.0, object by object: pure, no I/O.

`<object>_to_v230` carries a 2.2.1 object up, `<object>_to_v221` a 2.3.0 object down. Each
returns a `Translated` value with a `Loss` for every field the target cannot carry, or raises
`Untranslatable` when carrying the object would change its meaning. docs/versions.md
("2.2.1 ↔ 2.3.0") gives every rule and the spec text behind it. In short:

- Price: 2.2.1 {excl_vat, incl_vat?} <-> 2.3.0 {before_taxes, taxes*}. Up, incl_vat becomes one
  tax named "VAT" of amount incl_vat - excl_vat; down, incl_vat is before_taxes plus the sum of
  all taxes (names, percentages, account numbers and the split into several taxes are lost).
  No incl_vat <-> no taxes: neither side then says what the taxes are.
- Tariff: 2.2.1 prices are excl. VAT by definition, so up a Tariff gets tax_included NO; down,
  NO is carried, N/A is carried with a note, YES is Untranslatable (its prices include taxes,
  which 2.2.1 prices never do). min/max_price map onto PriceLimit field by field.
- OpenEnum values 2.2.1 does not have (and 2.3.0's new enum values): list items are dropped, an
  optional field is left out, a TokenType becomes OTHER; a Connector whose standard 2.2.1 does
  not know is dropped (and an EVSE left without connectors with it); in a CDR, such a connector
  standard is Untranslatable.
- 2.3.0-only fields (Parking, help_phone, accepted_service_providers, connector capabilities,
  preauthorize_amount, hub_party_id) are lost going down.
- Credentials: a 2.2.1 HUB role becomes 2.3.0's hub_party_id; the parties reachable through the
  hub must be given to list them in `roles` (2.3.0 credentials NOTE). Down, hub_party_id is lost
  and the roles are carried as the platform's roles.

- PATCH bodies (`*_patch_to_*`) follow the same rules on the fields they carry; where leaving
  a field out would leave a wrong value in place at the receiver, they are Untranslatable.

Objects 2.3.0 did not change (ChargingProfile, CommandResponse, StopSession, …) are the same
Python classes in both packages and need no translation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ocpi import v221, v230
from ocpi.translate.notes import Loss, Translated, Untranslatable

__all__ = [
    "authorization_info_to_v221",
    "authorization_info_to_v230",
    "cdr_to_v221",
    "cdr_to_v230",
    "client_info_to_v221",
    "client_info_to_v230",
    "connector_patch_to_v221",
    "connector_patch_to_v230",
    "credentials_to_v221",
    "credentials_to_v230",
    "evse_patch_to_v221",
    "evse_patch_to_v230",
    "location_patch_to_v221",
    "location_patch_to_v230",
    "location_to_v221",
    "location_to_v230",
    "price_to_v221",
    "price_to_v230",
    "reserve_now_to_v221",
    "reserve_now_to_v230",
    "session_patch_to_v221",
    "session_patch_to_v230",
    "session_to_v221",
    "session_to_v230",
    "start_session_to_v221",
    "start_session_to_v230",
    "tariff_to_v221",
    "tariff_to_v230",
    "token_patch_to_v221",
    "token_patch_to_v230",
    "token_to_v221",
    "token_to_v230",
]

VAT = "VAT"
"""The name a 2.2.1 incl_vat difference gets as a 2.3.0 TaxAmount (the spec's examples use it)."""

Data = dict[str, Any]


class _Notes:
    """The losses of one translation, collected with their full paths."""

    def __init__(self) -> None:
        self.lost: list[Loss] = []

    def add(self, path: str, reason: str) -> None:
        self.lost.append(Loss(path, reason))


def _at(prefix: str, name: str | int) -> str:
    return f"{prefix}.{name}" if prefix else str(name)


def _dump(model: v221.OcpiModel) -> Data:
    """The model as a dict of Python values (Decimal, datetime, enum members); None left out."""
    return model.model_dump(exclude_none=True)


def _known(enum: type[StrEnum], value: str) -> bool:
    return value in enum._value2member_map_


def _keep_known(
    data: Data,
    field: str,
    enum: type[StrEnum],
    prefix: str,
    notes: _Notes,
    why: str,
    key: str | None = None,
) -> None:
    """Drop the items of list `field` whose value (or `key` of it) `enum` (2.2.1) does not know."""
    items = data.get(field)
    if not items:
        return
    kept = []
    for index, item in enumerate(items):
        value = item if key is None else item[key]
        if _known(enum, value):
            kept.append(item)
        else:
            notes.add(_at(prefix, f"{field}.{index}"), f"{value!s} {why}")
    data[field] = kept


def _drop(data: Data, field: str, prefix: str, notes: _Notes, reason: str) -> None:
    """Leave out a 2.3.0-only field, noting it when it held something."""
    value = data.pop(field, None)
    if value is not None and value != []:
        notes.add(_at(prefix, field), reason)


NOT_IN_221 = "is not a 2.2.1 value of this enum (2.3.0 added it, or it is an OpenEnum extension)"


# --- Price ----------------------------------------------------------------------------------
def _price_up(price: Data) -> Data:
    up: Data = {"before_taxes": price["excl_vat"]}
    if "incl_vat" in price:
        up["taxes"] = [{"name": VAT, "amount": price["incl_vat"] - price["excl_vat"]}]
    return up


def _price_down(price: Data, prefix: str, notes: _Notes) -> Data:
    down: Data = {"excl_vat": price["before_taxes"]}
    taxes: list[Data] = price.get("taxes") or []
    if taxes:
        down["incl_vat"] = price["before_taxes"] + sum((tax["amount"] for tax in taxes), Decimal(0))
        plain_vat = (
            len(taxes) == 1
            and taxes[0]["name"] == VAT
            and "percentage" not in taxes[0]
            and "account_number" not in taxes[0]
        )
        if not plain_vat:
            notes.add(
                _at(prefix, "taxes"),
                "2.2.1's Price has only incl_vat: the taxes' amounts are summed into it, their "
                "names, percentages and account numbers are lost",
            )
    return down


def price_to_v230(price: v221.Price) -> Translated[v230.Price]:
    """A 2.2.1 Price as a 2.3.0 Price: incl_vat - excl_vat becomes one tax named VAT."""
    return Translated(v230.Price.model_validate(_price_up(_dump(price))))


def price_to_v221(price: v230.Price) -> Translated[v221.Price]:
    """A 2.3.0 Price as a 2.2.1 Price: incl_vat is before_taxes plus all taxes."""
    notes = _Notes()
    down = _price_down(_dump(price), "", notes)
    return Translated(v221.Price.model_validate(down), tuple(notes.lost))


def _prices(data: Data, fields: Iterable[str], convert: Callable[[str, Data], Data]) -> None:
    for field in fields:
        if field in data:
            data[field] = convert(field, data[field])


# --- Locations --------------------------------------------------------------------------
def _image_ok(image: Data, path: str, notes: _Notes) -> bool:
    if _known(v221.ImageCategory, image["category"]):
        return True
    notes.add(path, f"image category {image['category']!s} {NOT_IN_221}; the image is left out")
    return False


def _images_down(data: Data, prefix: str, notes: _Notes) -> None:
    if "images" in data:
        data["images"] = [
            image
            for index, image in enumerate(data["images"])
            if _image_ok(image, _at(prefix, f"images.{index}"), notes)
        ]


def _business_down(data: Data, field: str, prefix: str, notes: _Notes) -> None:
    details = data.get(field)
    if (
        details
        and "logo" in details
        and not _image_ok(details["logo"], _at(prefix, f"{field}.logo"), notes)
    ):
        del details["logo"]


def _token_type_down(data: Data, path: str, notes: _Notes) -> None:
    value = data.get("type")
    if value is not None and not _known(v221.TokenType, value):
        data["type"] = v221.TokenType.OTHER
        notes.add(
            path,
            f'token type {value!s} {NOT_IN_221}; carried as OTHER ("Other type of token")',
        )


def _energy_mix_down(data: Data, field: str, prefix: str, notes: _Notes) -> None:
    mix = data.get(field)
    if mix:
        _keep_known(
            mix,
            "environ_impact",
            v221.EnvironmentalImpactCategory,
            _at(prefix, field),
            notes,
            f"{NOT_IN_221}; the impact is left out",
            key="category",
        )


def _connector_down(data: Data, prefix: str, notes: _Notes) -> bool:
    """Prune a 2.3.0 Connector for 2.2.1; False when it cannot be carried at all."""
    if "standard" in data and not _known(v221.ConnectorType, data["standard"]):
        notes.add(
            prefix,
            f"connector standard {data['standard']!s} {NOT_IN_221}; 2.2.1 has no 'other' "
            "standard, so the connector is left out",
        )
        return False
    _drop(data, "capabilities", prefix, notes, "Connector.capabilities is new in 2.3.0")
    return True


def _evse_down(data: Data, prefix: str, notes: _Notes) -> bool:
    """Prune a 2.3.0 EVSE for 2.2.1; False when none of its connectors can be carried."""
    _keep_known(data, "capabilities", v221.Capability, prefix, notes, f"{NOT_IN_221}; left out")
    _keep_known(
        data,
        "parking_restrictions",
        v221.ParkingRestriction,
        prefix,
        notes,
        f"{NOT_IN_221}; left out",
    )
    _drop(data, "parking", prefix, notes, "EVSE.parking (links to Parking objects) is new in 2.3.0")
    _drop(
        data,
        "accepted_service_providers",
        prefix,
        notes,
        "EVSE.accepted_service_providers is new in 2.3.0",
    )
    _images_down(data, prefix, notes)
    if "connectors" not in data:  # a PATCH without connectors
        return True
    data["connectors"] = [
        connector
        for index, connector in enumerate(data["connectors"])
        if _connector_down(connector, _at(prefix, f"connectors.{index}"), notes)
    ]
    if not data["connectors"]:
        notes.add(prefix, "no connector of this EVSE exists in 2.2.1; the EVSE is left out")
        return False
    return True


def location_to_v230(location: v221.Location) -> Translated[v230.Location]:
    """A 2.2.1 Location as 2.3.0: every 2.2.1 field and value exists in 2.3.0; nothing lost."""
    return Translated(v230.Location.model_validate(_dump(location)))


def _location_down(data: Data, notes: _Notes) -> None:
    """Prune a 2.3.0 Location, or a PATCH of one, for 2.2.1."""
    _drop(
        data,
        "parking_places",
        "",
        notes,
        "Location.parking_places (Parking objects, for AFIR reporting) is new in 2.3.0",
    )
    _drop(data, "help_phone", "", notes, "Location.help_phone is new in 2.3.0")
    parking_type = data.get("parking_type")
    if parking_type is not None and not _known(v221.ParkingType, parking_type):
        del data["parking_type"]
        notes.add("parking_type", f"{parking_type!s} {NOT_IN_221}; left out")
    _keep_known(data, "facilities", v221.Facility, "", notes, f"{NOT_IN_221}; left out")
    for index, publish in enumerate(data.get("publish_allowed_to") or ()):
        _token_type_down(publish, f"publish_allowed_to.{index}.type", notes)
    _images_down(data, "", notes)
    for field in ("operator", "suboperator", "owner"):
        _business_down(data, field, "", notes)
    _energy_mix_down(data, "energy_mix", "", notes)
    if "evses" in data:
        data["evses"] = [
            evse
            for index, evse in enumerate(data["evses"])
            if _evse_down(evse, f"evses.{index}", notes)
        ]


def location_to_v221(location: v230.Location) -> Translated[v221.Location]:
    """A 2.3.0 Location as 2.2.1: new fields and values 2.2.1 lacks are left out, noted."""
    notes = _Notes()
    data = _dump(location)
    _location_down(data, notes)
    return Translated(v221.Location.model_validate(data), tuple(notes.lost))


# --- Tariffs ----------------------------------------------------------------------------
def _limit_up(_field: str, price: Data) -> Data:
    limit: Data = {"before_taxes": price["excl_vat"]}
    if "incl_vat" in price:
        limit["after_taxes"] = price["incl_vat"]
    return limit


def _limit_down(_field: str, limit: Data) -> Data:
    price: Data = {"excl_vat": limit["before_taxes"]}
    if "after_taxes" in limit:
        price["incl_vat"] = limit["after_taxes"]
    return price


def _tariff_up(data: Data) -> Data:
    # 2.2.1 mod_tariffs PriceComponent.price is "Price per unit (excl. VAT)": always NO.
    _prices(data, ("min_price", "max_price"), _limit_up)
    data["tax_included"] = v230.TaxIncluded.NO
    return data


def _tariff_down(data: Data, prefix: str, notes: _Notes) -> Data:
    tax_included = data.pop("tax_included")
    if tax_included == v230.TaxIncluded.YES:
        raise Untranslatable(
            _at(prefix, "tax_included"),
            "the prices of this Tariff include taxes (tax_included YES); 2.2.1 prices are "
            "always excl. VAT (mod_tariffs PriceComponent.price), so carrying them would "
            "change what is charged",
        )
    if tax_included == v230.TaxIncluded.N_A:
        notes.add(
            _at(prefix, "tax_included"),
            "N/A (no taxes apply): 2.2.1 cannot say this for a whole Tariff; the prices are "
            "carried as excl. VAT, which they are",
        )
    _prices(data, ("min_price", "max_price"), _limit_down)
    _drop(
        data,
        "preauthorize_amount",
        prefix,
        notes,
        "Tariff.preauthorize_amount (for Payment Terminal Providers) is new in 2.3.0",
    )
    _energy_mix_down(data, "energy_mix", prefix, notes)
    return data


def tariff_to_v230(tariff: v221.Tariff) -> Translated[v230.Tariff]:
    """A 2.2.1 Tariff as 2.3.0: tax_included NO, min/max_price as PriceLimit; nothing lost."""
    return Translated(v230.Tariff.model_validate(_tariff_up(_dump(tariff))))


def tariff_to_v221(tariff: v230.Tariff) -> Translated[v221.Tariff]:
    """A 2.3.0 Tariff as 2.2.1; Untranslatable when its prices include taxes."""
    notes = _Notes()
    data = _tariff_down(_dump(tariff), "", notes)
    return Translated(v221.Tariff.model_validate(data), tuple(notes.lost))


# --- Tokens and commands ----------------------------------------------------------------
def token_to_v230(token: v221.Token) -> Translated[v230.Token]:
    """A 2.2.1 Token as 2.3.0: identical fields, TokenType grew; nothing lost."""
    return Translated(v230.Token.model_validate(_dump(token)))


def token_to_v221(token: v230.Token) -> Translated[v221.Token]:
    """A 2.3.0 Token as 2.2.1: a type 2.2.1 lacks (EMAID, extensions) becomes OTHER."""
    notes = _Notes()
    data = _dump(token)
    _token_type_down(data, "type", notes)
    return Translated(v221.Token.model_validate(data), tuple(notes.lost))


def authorization_info_to_v230(info: v221.AuthorizationInfo) -> Translated[v230.AuthorizationInfo]:
    return Translated(v230.AuthorizationInfo.model_validate(_dump(info)))


def authorization_info_to_v221(info: v230.AuthorizationInfo) -> Translated[v221.AuthorizationInfo]:
    notes = _Notes()
    data = _dump(info)
    _token_type_down(data["token"], "token.type", notes)
    return Translated(v221.AuthorizationInfo.model_validate(data), tuple(notes.lost))


def start_session_to_v230(command: v221.StartSession) -> Translated[v230.StartSession]:
    return Translated(v230.StartSession.model_validate(_dump(command)))


def start_session_to_v221(command: v230.StartSession) -> Translated[v221.StartSession]:
    notes = _Notes()
    data = _dump(command)
    _token_type_down(data["token"], "token.type", notes)
    return Translated(v221.StartSession.model_validate(data), tuple(notes.lost))


def reserve_now_to_v230(command: v221.ReserveNow) -> Translated[v230.ReserveNow]:
    return Translated(v230.ReserveNow.model_validate(_dump(command)))


def reserve_now_to_v221(command: v230.ReserveNow) -> Translated[v221.ReserveNow]:
    notes = _Notes()
    data = _dump(command)
    _token_type_down(data["token"], "token.type", notes)
    return Translated(v221.ReserveNow.model_validate(data), tuple(notes.lost))


# --- Sessions and CDRs --------------------------------------------------------------------
CDR_PRICES = (
    "total_cost",
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)


def session_to_v230(session: v221.Session) -> Translated[v230.Session]:
    """A 2.2.1 Session as 2.3.0: total_cost as a 2.3.0 Price; nothing lost."""
    data = _dump(session)
    _prices(data, ("total_cost",), lambda _field, price: _price_up(price))
    return Translated(v230.Session.model_validate(data))


def session_to_v221(session: v230.Session) -> Translated[v221.Session]:
    """A 2.3.0 Session as 2.2.1: taxes summed into incl_vat, token type as 2.2.1 knows it."""
    notes = _Notes()
    data = _dump(session)
    _prices(data, ("total_cost",), lambda field, price: _price_down(price, field, notes))
    _token_type_down(data["cdr_token"], "cdr_token.type", notes)
    return Translated(v221.Session.model_validate(data), tuple(notes.lost))


def cdr_to_v230(cdr: v221.CDR) -> Translated[v230.CDR]:
    """A 2.2.1 CDR as 2.3.0: costs as 2.3.0 Prices, tariffs as 2.3.0 Tariffs; nothing lost."""
    data = _dump(cdr)
    _prices(data, CDR_PRICES, lambda _field, price: _price_up(price))
    if "tariffs" in data:
        data["tariffs"] = [_tariff_up(tariff) for tariff in data["tariffs"]]
    return Translated(v230.CDR.model_validate(data))


def cdr_to_v221(cdr: v230.CDR) -> Translated[v221.CDR]:
    """A 2.3.0 CDR as 2.2.1.

    A tariff whose prices include taxes is left out (noted): the CDR's own costs still say
    what is charged, and refusing the CDR would leave the session unbilled. A connector
    standard 2.2.1 does not know is Untranslatable: cdr_location.connector_standard is required.
    """
    notes = _Notes()
    data = _dump(cdr)
    _prices(data, CDR_PRICES, lambda field, price: _price_down(price, field, notes))
    _token_type_down(data["cdr_token"], "cdr_token.type", notes)
    standard = data["cdr_location"]["connector_standard"]
    if not _known(v221.ConnectorType, standard):
        raise Untranslatable(
            "cdr_location.connector_standard",
            f"{standard!s} {NOT_IN_221}, and 2.2.1 requires a connector standard in a CDR",
        )
    if "tariffs" in data:
        tariffs = []
        for index, tariff in enumerate(data["tariffs"]):
            path = f"tariffs.{index}"
            try:
                tariffs.append(_tariff_down(tariff, path, notes))
            except Untranslatable as refused:
                notes.add(path, f"left out: {refused}")
        data["tariffs"] = tariffs
    return Translated(v221.CDR.model_validate(data), tuple(notes.lost))


# --- Credentials and hub client info ----------------------------------------------------
def _role_key(role: Data) -> tuple[str, str, str]:
    return (str(role["role"]), role["country_code"].upper(), role["party_id"].upper())


def credentials_to_v230(
    credentials: v221.Credentials, reachable: Sequence[v230.CredentialsRole] = ()
) -> Translated[v230.Credentials]:
    """2.2.1 Credentials as 2.3.0.

    A HUB role becomes `hub_party_id` (2.3.0 credentials: "A Platform that supports Hub
    functionality ... SHALL give the country code and party ID of the Hub in the hub_party_id
    field"), and `reachable` — the parties reachable through the hub, which 2.2.1 reports in
    HubClientInfo instead — are listed in `roles` ("Roaming Hubs' platforms are expected to
    include the parties that are reachable through the Roaming Hub in the list in roles").
    `reachable` is used only for a hub's credentials. Untranslatable: more than one HUB role
    (2.3.0 has one hub_party_id), or a hub with no role left to list.
    """
    notes = _Notes()
    data = _dump(credentials)
    hubs = [index for index, role in enumerate(data["roles"]) if role["role"] == v221.Role.HUB]
    if len(hubs) > 1:
        raise Untranslatable(
            "roles", "more than one HUB role; 2.3.0 names one hub party (hub_party_id)"
        )
    roles: list[Data] = [role for role in data["roles"] if role["role"] != v221.Role.HUB]
    if hubs:
        hub = data["roles"][hubs[0]]
        data["hub_party_id"] = hub["country_code"] + hub["party_id"]
        notes.add(
            f"roles.{hubs[0]}",
            "2.3.0 has no HUB role: the hub's country_code and party_id are carried as "
            "hub_party_id, its business_details are lost",
        )
        seen = {_role_key(role) for role in roles}
        for extra in reachable:
            entry = _dump(extra)
            if _role_key(entry) not in seen:
                seen.add(_role_key(entry))
                roles.append(entry)
        if not roles:
            raise Untranslatable(
                "roles",
                "a 2.3.0 hub lists the parties reachable through it in roles (credentials, "
                "NOTE under the Credentials object); none were given",
            )
    data["roles"] = roles
    return Translated(v230.Credentials.model_validate(data), tuple(notes.lost))


def credentials_to_v221(credentials: v230.Credentials) -> Translated[v221.Credentials]:
    """2.3.0 Credentials as 2.2.1: the roles are carried as the platform's roles.

    hub_party_id is lost: 2.2.1 would need a HUB role, with business details 2.3.0 does not
    give, and 2.2.1 forbids a hub to list other parties as its roles (credentials 2.2.1).
    """
    notes = _Notes()
    data = _dump(credentials)
    _drop(
        data,
        "hub_party_id",
        "",
        notes,
        "hub_party_id is new in 2.3.0; 2.2.1 would need a HUB role with business details "
        "that 2.3.0 does not give",
    )
    for index, role in enumerate(data["roles"]):
        _business_down(role, "business_details", f"roles.{index}", notes)
    return Translated(v221.Credentials.model_validate(data), tuple(notes.lost))


def client_info_to_v230(info: v221.ClientInfo) -> Translated[v230.ClientInfo]:
    """A 2.2.1 ClientInfo as 2.3.0; a HUB role is Untranslatable (2.3.0 has none)."""
    if info.role == v221.Role.HUB:
        raise Untranslatable(
            "role", "2.3.0 has no HUB role; another hub cannot be reported as a client"
        )
    return Translated(v230.ClientInfo.model_validate(_dump(info)))


def client_info_to_v221(info: v230.ClientInfo) -> Translated[v221.ClientInfo]:
    """A 2.3.0 ClientInfo as 2.2.1: every 2.3.0 role exists in 2.2.1; nothing lost."""
    return Translated(v221.ClientInfo.model_validate(_dump(info)))


# --- PATCH bodies -----------------------------------------------------------------------
# The same rules on the fields a PATCH carries. Left out of a PATCH, a field keeps its previous
# value at the receiver (not "absent"), so what cannot be carried and would leave a wrong value
# in place is Untranslatable: a connector standard 2.2.1 lacks, an EVSE's connectors none of
# which 2.2.1 has. A PATCH is stateless here: one addressed to a connector or EVSE left out of
# an earlier PUT reaches the 2.2.1 receiver as a PATCH of an object it does not know.
def _patch(patch: v221.OcpiModel) -> Data:
    return patch.model_dump(exclude_unset=True, exclude_none=True)


def location_patch_to_v230(patch: v221.OcpiModel) -> Translated[v221.OcpiModel]:
    """A 2.2.1 LocationPatch as a 2.3.0 LocationPatch; nothing lost."""
    return Translated(v230.LocationPatch.model_validate(_patch(patch)))


def location_patch_to_v221(patch: v221.OcpiModel) -> Translated[v221.OcpiModel]:
    """A 2.3.0 LocationPatch as 2.2.1, by the Location rules."""
    notes = _Notes()
    data = _patch(patch)
    _location_down(data, notes)
    return Translated(v221.LocationPatch.model_validate(data), tuple(notes.lost))


def evse_patch_to_v230(patch: v221.OcpiModel) -> Translated[v221.OcpiModel]:
    return Translated(v230.EVSEPatch.model_validate(_patch(patch)))


def evse_patch_to_v221(patch: v221.OcpiModel) -> Translated[v221.OcpiModel]:
    """A 2.3.0 EVSEPatch as 2.2.1; Untranslatable when it sets only connectors 2.2.1 lacks."""
    notes = _Notes()
    data = _patch(patch)
    if not _evse_down(data, "", notes):
        raise Untranslatable(
            "connectors",
            "none of these connectors has a standard 2.2.1 knows, and an EVSE cannot be "
            "patched to have no connector",
        )
    return Translated(v221.EVSEPatch.model_validate(data), tuple(notes.lost))


def connector_patch_to_v230(patch: v221.OcpiModel) -> Translated[v221.OcpiModel]:
    return Translated(v230.ConnectorPatch.model_validate(_patch(patch)))


def connector_patch_to_v221(patch: v221.OcpiModel) -> Translated[v221.OcpiModel]:
    """A 2.3.0 ConnectorPatch as 2.2.1; Untranslatable when it sets a standard 2.2.1 lacks."""
    notes = _Notes()
    data = _patch(patch)
    if not _connector_down(data, "", notes):
        raise Untranslatable(
            "standard",
            f"{data['standard']!s} {NOT_IN_221}; left out, the receiver would keep the old "
            "standard",
        )
    return Translated(v221.ConnectorPatch.model_validate(data), tuple(notes.lost))


def session_patch_to_v230(patch: v221.OcpiModel) -> Translated[v221.OcpiModel]:
    data = _patch(patch)
    _prices(data, ("total_cost",), lambda _field, price: _price_up(price))
    return Translated(v230.SessionPatch.model_validate(data))


def session_patch_to_v221(patch: v221.OcpiModel) -> Translated[v221.OcpiModel]:
    notes = _Notes()
    data = _patch(patch)
    _prices(data, ("total_cost",), lambda field, price: _price_down(price, field, notes))
    if "cdr_token" in data:
        _token_type_down(data["cdr_token"], "cdr_token.type", notes)
    return Translated(v221.SessionPatch.model_validate(data), tuple(notes.lost))


def token_patch_to_v230(patch: v221.OcpiModel) -> Translated[v221.OcpiModel]:
    return Translated(v230.TokenPatch.model_validate(_patch(patch)))


def token_patch_to_v221(patch: v221.OcpiModel) -> Translated[v221.OcpiModel]:
    notes = _Notes()
    data = _patch(patch)
    _token_type_down(data, "type", notes)
    return Translated(v221.TokenPatch.model_validate(data), tuple(notes.lost))
