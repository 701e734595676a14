"""Factories for the 2.1.1 translation tests: plain functions returning valid wire objects."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ocpi import v211, v221
from ocpi.translate import v211 as translate

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def connector221(**changes: Any) -> v221.Connector:
    fields: dict[str, Any] = {
        "id": "1",
        "standard": v221.ConnectorType.IEC_62196_T2,
        "format": v221.ConnectorFormat.SOCKET,
        "power_type": v221.PowerType.AC_3_PHASE,
        "max_voltage": 230,
        "max_amperage": 16,
        "tariff_ids": ["T1"],
        "last_updated": NOW,
    }
    return v221.Connector(**(fields | changes))


def evse221(**changes: Any) -> v221.EVSE:
    fields: dict[str, Any] = {
        "uid": "3256",
        "evse_id": "BE*BEC*E041503001",
        "status": v221.Status.AVAILABLE,
        "connectors": [connector221()],
        "last_updated": NOW,
    }
    return v221.EVSE(**(fields | changes))


def location221(**changes: Any) -> v221.Location:
    fields: dict[str, Any] = {
        "country_code": "BE",
        "party_id": "BEC",
        "id": "LOC1",
        "publish": True,
        "address": "F.Rooseveltlaan 3A",
        "city": "Gent",
        "postal_code": "9000",
        "country": "BEL",
        "coordinates": v221.GeoLocation(latitude="51.047599", longitude="3.729944"),
        "evses": [evse221()],
        "time_zone": "Europe/Brussels",
        "last_updated": NOW,
    }
    return v221.Location(**(fields | changes))


def tariff221(tariff_id: str, kind: v221.TariffType | None = None, **changes: Any) -> v221.Tariff:
    fields: dict[str, Any] = {
        "country_code": "BE",
        "party_id": "BEC",
        "id": tariff_id,
        "currency": "EUR",
        "type": kind,
        "elements": [
            v221.TariffElement(
                price_components=[
                    v221.PriceComponent(
                        type=v221.TariffDimensionType.ENERGY, price=Decimal("0.25"), step_size=1
                    )
                ]
            )
        ],
        "last_updated": NOW,
    }
    return v221.Tariff(**(fields | changes))


def cdr_token() -> v221.CdrToken:
    return v221.CdrToken(
        country_code="DE",
        party_id="TNM",
        uid="012345678",
        type=v221.TokenType.RFID,
        contract_id="DE8ACC12E46L89",
    )


def session221(**changes: Any) -> v221.Session:
    fields: dict[str, Any] = {
        "country_code": "BE",
        "party_id": "BEC",
        "id": "101",
        "start_date_time": NOW,
        "kwh": Decimal("4.5"),
        "cdr_token": cdr_token(),
        "auth_method": v221.AuthMethod.WHITELIST,
        "location_id": "LOC1",
        "evse_uid": "3256",
        "connector_id": "1",
        "currency": "EUR",
        "status": v221.SessionStatus.ACTIVE,
        "last_updated": NOW,
    }
    return v221.Session(**(fields | changes))


def cdr221(**changes: Any) -> v221.CDR:
    fields: dict[str, Any] = {
        "country_code": "BE",
        "party_id": "BEC",
        "id": "CDR1",
        "start_date_time": NOW,
        "end_date_time": NOW,
        "cdr_token": cdr_token(),
        "auth_method": v221.AuthMethod.WHITELIST,
        "cdr_location": v221.CdrLocation(
            id="LOC1",
            address="F.Rooseveltlaan 3A",
            city="Gent",
            country="BEL",
            coordinates=v221.GeoLocation(latitude="51.047599", longitude="3.729944"),
            evse_uid="3256",
            evse_id="BE*BEC*E041503001",
            connector_id="1",
            connector_standard=v221.ConnectorType.IEC_62196_T2,
            connector_format=v221.ConnectorFormat.SOCKET,
            connector_power_type=v221.PowerType.AC_3_PHASE,
        ),
        "currency": "EUR",
        "charging_periods": [
            v221.ChargingPeriod(
                start_date_time=NOW,
                dimensions=[
                    v221.CdrDimension(type=v221.CdrDimensionType.ENERGY, volume=Decimal(4))
                ],
            )
        ],
        "total_cost": v221.Price(excl_vat=Decimal("1.00")),
        "total_energy": Decimal(4),
        "total_time": Decimal("0.5"),
        "last_updated": NOW,
    }
    return v221.CDR(**(fields | changes))


def location211(**changes: Any) -> v211.Location:
    return translate.location_to_v211(location221()).value.model_copy(update=changes)


def token221(**changes: Any) -> v221.Token:
    fields: dict[str, Any] = {
        "country_code": "DE",
        "party_id": "TNM",
        "uid": "012345678",
        "type": v221.TokenType.RFID,
        "contract_id": "DE8ACC12E46L89",
        "issuer": "TheNewMotion",
        "valid": True,
        "whitelist": v221.WhitelistType.ALLOWED,
        "last_updated": NOW,
    }
    return v221.Token(**(fields | changes))


def paths(lost: tuple[Any, ...]) -> list[str]:
    return [loss.path for loss in lost]
