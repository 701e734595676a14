"""Plain functions returning valid OCPI 2.2.1 wire objects, for the double and the hub's tests.

Defaults follow the digest's end-to-end cast (§5): CPO DE/CPB with Location LOC1, EVSE 3256,
connector 1 and tariff 12; eMSP NL/EMA with the app token app-7f3a. Every argument can be
overridden; timestamps are fixed so that objects compare equal across calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ocpi.headers import PartyRef
from ocpi.v221 import (
    CDR,
    EVSE,
    AuthMethod,
    BusinessDetails,
    Capability,
    CdrDimension,
    CdrDimensionType,
    CdrLocation,
    CdrToken,
    ChargingPeriod,
    ClientInfo,
    ConnectionStatus,
    Connector,
    ConnectorFormat,
    ConnectorType,
    GeoLocation,
    Location,
    PowerType,
    Price,
    PriceComponent,
    Role,
    Session,
    SessionStatus,
    Status,
    Tariff,
    TariffDimensionType,
    TariffElement,
    Token,
    TokenType,
    WhitelistType,
)

CPO = PartyRef("DE", "CPB")
EMSP = PartyRef("NL", "EMA")
HUB = PartyRef("NL", "HUB")

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
"""The fixed 'last_updated' of every factory object unless one is passed."""


def connector(
    id: str = "1",
    *,
    tariff_ids: Sequence[str] = ("12",),
    last_updated: datetime = T0,
) -> Connector:
    return Connector(
        id=id,
        standard=ConnectorType.IEC_62196_T2,
        format=ConnectorFormat.SOCKET,
        power_type=PowerType.AC_3_PHASE,
        max_voltage=230,
        max_amperage=32,
        max_electric_power=22000,
        tariff_ids=list(tariff_ids),
        last_updated=last_updated,
    )


def evse(
    uid: str = "3256",
    *,
    party: PartyRef = CPO,
    status: Status = Status.AVAILABLE,
    connector_id: str = "1",
    tariff_ids: Sequence[str] = ("12",),
    last_updated: datetime = T0,
) -> EVSE:
    return EVSE(
        uid=uid,
        evse_id=f"{party.country_code}*{party.party_id}*E{uid}",
        status=status,
        capabilities=[Capability.REMOTE_START_STOP_CAPABLE, Capability.RFID_READER],
        connectors=[connector(connector_id, tariff_ids=tariff_ids, last_updated=last_updated)],
        last_updated=last_updated,
    )


def location(
    id: str = "LOC1",
    *,
    party: PartyRef = CPO,
    evse_uid: str = "3256",
    connector_id: str = "1",
    tariff_ids: Sequence[str] = ("12",),
    status: Status = Status.AVAILABLE,
    last_updated: datetime = T0,
) -> Location:
    """A published Location with one EVSE holding one connector priced by `tariff_ids`."""
    return Location(
        country_code=party.country_code,
        party_id=party.party_id,
        id=id,
        publish=True,
        name=f"Charging park {id}",
        address="Hauptstrasse 1",
        city="Berlin",
        postal_code="10115",
        country="DEU",
        coordinates=GeoLocation(latitude="52.520008", longitude="13.404954"),
        evses=[
            evse(
                evse_uid,
                party=party,
                status=status,
                connector_id=connector_id,
                tariff_ids=tariff_ids,
                last_updated=last_updated,
            )
        ],
        operator=BusinessDetails(name=f"Operator {party}"),
        time_zone="Europe/Berlin",
        last_updated=last_updated,
    )


def tariff(
    id: str = "12",
    *,
    party: PartyRef = CPO,
    energy_price: Decimal = Decimal("0.25"),
    vat: Decimal | None = Decimal("10"),
    currency: str = "EUR",
    last_updated: datetime = T0,
) -> Tariff:
    """A one-element tariff: `energy_price` per kWh, step 1 Wh."""
    return Tariff(
        country_code=party.country_code,
        party_id=party.party_id,
        id=id,
        currency=currency,
        elements=[
            TariffElement(
                price_components=[
                    PriceComponent(
                        type=TariffDimensionType.ENERGY, price=energy_price, vat=vat, step_size=1
                    )
                ]
            )
        ],
        last_updated=last_updated,
    )


def token(
    uid: str = "app-7f3a",
    *,
    party: PartyRef = EMSP,
    type: TokenType = TokenType.APP_USER,
    valid: bool = True,
    whitelist: WhitelistType = WhitelistType.NEVER,
    contract_id: str | None = None,
    last_updated: datetime = T0,
) -> Token:
    return Token(
        country_code=party.country_code,
        party_id=party.party_id,
        uid=uid,
        type=type,
        contract_id=contract_id or f"{party.country_code}-{party.party_id}-C{uid}"[:36],
        issuer=f"eMSP {party.party_id}",
        valid=valid,
        whitelist=whitelist,
        last_updated=last_updated,
    )


def cdr_token(of: Token | None = None) -> CdrToken:
    """The CdrToken (Session/CDR) view of a Token."""
    source = of or token()
    return CdrToken(
        country_code=source.country_code,
        party_id=source.party_id,
        uid=source.uid,
        type=source.type,
        contract_id=source.contract_id,
    )


def session(
    id: str = "S-1001",
    *,
    party: PartyRef = CPO,
    of_token: Token | None = None,
    location_id: str = "LOC1",
    evse_uid: str = "3256",
    connector_id: str = "1",
    status: SessionStatus = SessionStatus.ACTIVE,
    kwh: Decimal = Decimal("0"),
    authorization_reference: str | None = None,
    start: datetime = T0,
    last_updated: datetime = T0,
) -> Session:
    """A Session started by command with `of_token` (default: the eMSP's app token)."""
    return Session(
        country_code=party.country_code,
        party_id=party.party_id,
        id=id,
        start_date_time=start,
        kwh=kwh,
        cdr_token=cdr_token(of_token),
        auth_method=AuthMethod.COMMAND,
        authorization_reference=authorization_reference,
        location_id=location_id,
        evse_uid=evse_uid,
        connector_id=connector_id,
        currency="EUR",
        status=status,
        last_updated=last_updated,
    )


def charging_period(
    start: datetime = T0, *, kwh: Decimal = Decimal("10"), tariff_id: str | None = "12"
) -> ChargingPeriod:
    return ChargingPeriod(
        start_date_time=start,
        dimensions=[CdrDimension(type=CdrDimensionType.ENERGY, volume=kwh)],
        tariff_id=tariff_id,
    )


def cdr(
    id: str = "CDR-1001",
    *,
    party: PartyRef = CPO,
    of_token: Token | None = None,
    session_id: str | None = "S-1001",
    of_location: Location | None = None,
    of_tariff: Tariff | None = None,
    kwh: Decimal = Decimal("20"),
    start: datetime = T0,
    last_updated: datetime | None = None,
) -> CDR:
    """A CDR for `kwh` of charging in one hour at the first EVSE/connector of `of_location`.

    `total_cost` is `kwh` x the tariff's first price component (excl. and incl. VAT), which
    matches the default tariff (0.25/kWh, 10 % VAT: 20 kWh -> 5.00 / 5.50).
    """
    where = of_location or location(party=party)
    priced = of_tariff or tariff(party=party)
    first_evse = (where.evses or [evse(party=party)])[0]
    first_connector = first_evse.connectors[0]
    evse_id = first_evse.evse_id or f"{party.country_code}*{party.party_id}*E{first_evse.uid}"
    component = priced.elements[0].price_components[0]
    excl = kwh * component.price
    incl = excl * (1 + component.vat / 100) if component.vat is not None else None
    end = start + timedelta(hours=1)
    return CDR(
        country_code=party.country_code,
        party_id=party.party_id,
        id=id,
        start_date_time=start,
        end_date_time=end,
        session_id=session_id,
        cdr_token=cdr_token(of_token),
        auth_method=AuthMethod.COMMAND,
        cdr_location=CdrLocation(
            id=where.id,
            name=where.name,
            address=where.address,
            city=where.city,
            postal_code=where.postal_code,
            country=where.country,
            coordinates=where.coordinates,
            evse_uid=first_evse.uid,
            evse_id=evse_id,
            connector_id=first_connector.id,
            connector_standard=first_connector.standard,
            connector_format=first_connector.format,
            connector_power_type=first_connector.power_type,
        ),
        currency=priced.currency,
        tariffs=[priced],
        charging_periods=[charging_period(start, kwh=kwh, tariff_id=priced.id)],
        total_cost=Price(excl_vat=excl, incl_vat=incl),
        total_energy=kwh,
        total_time=Decimal("1"),
        last_updated=last_updated or end,
    )


def client_info(
    party: PartyRef = CPO,
    *,
    role: Role = Role.CPO,
    status: ConnectionStatus = ConnectionStatus.CONNECTED,
    last_updated: datetime = T0,
) -> ClientInfo:
    return ClientInfo(
        country_code=party.country_code,
        party_id=party.party_id,
        role=role,
        status=status,
        last_updated=last_updated,
    )
