"""A simple electric vehicle: battery, state of charge and how much power it accepts.

AC charging is limited by the on-board charger (`max_ac_kw`) and tapers only in the last
percent; DC charging follows the car's taper curve, a list of (state of charge, fraction of
`max_dc_kw`) points joined by straight lines. The car stops drawing power at `target_soc`
(it then idles: parking time if the session goes on). Pure code, floats: the meter rounds
what it reports to watt-hours.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ocpi.v221.locations import PowerType

TaperPoint = tuple[float, float]

DC_TAPER: tuple[TaperPoint, ...] = (
    (0.0, 0.8),
    (0.1, 1.0),
    (0.5, 1.0),
    (0.8, 0.45),
    (0.9, 0.25),
    (1.0, 0.05),
)
"""A typical 400 V car: full power from 10 % to 50 %, then down to a trickle."""
AC_TAPER: tuple[TaperPoint, ...] = ((0.0, 1.0), (0.97, 1.0), (1.0, 0.3))


class Vehicle(BaseModel):
    """The car plugged into an EVSE (control API `plug`: a preset name or these fields)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "car"
    battery_kwh: Annotated[float, Field(gt=0, le=300)] = 60.0
    soc: Annotated[float, Field(ge=0, le=1)] = 0.2
    """State of charge when plugged in, 0..1."""
    target_soc: Annotated[float, Field(gt=0, le=1)] = 1.0
    """The car stops drawing power here (drivers of DC sessions often set 0.8)."""
    max_ac_kw: Annotated[float, Field(gt=0, le=43)] = 11.0
    max_dc_kw: Annotated[float, Field(gt=0, le=500)] = 150.0
    dc_voltage: Annotated[float, Field(gt=0, le=1000)] = 400.0
    dc_taper: tuple[TaperPoint, ...] = DC_TAPER

    @model_validator(mode="after")
    def _taper_is_a_curve(self) -> Vehicle:
        points = self.dc_taper
        if not points or points[0][0] != 0.0 or points[-1][0] != 1.0:
            raise ValueError("dc_taper must start at state of charge 0 and end at 1")
        if any(b[0] <= a[0] for a, b in itertools.pairwise(points)):
            raise ValueError("dc_taper points must be in increasing state of charge")
        if any(not 0 <= fraction <= 1 for _, fraction in points):
            raise ValueError("dc_taper fractions must be between 0 and 1")
        return self

    def accepted_kw(self, soc: float, power_type: PowerType) -> float:
        """kW the car draws at this state of charge (0 once it reached target_soc)."""
        if soc >= self.target_soc:
            return 0.0
        if power_type is PowerType.DC:
            return self.max_dc_kw * interpolate(self.dc_taper, soc)
        return self.max_ac_kw * interpolate(AC_TAPER, soc)


def interpolate(points: Sequence[TaperPoint], x: float) -> float:
    """Piecewise-linear value of `points` at x (clamped to the ends)."""
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


PRESETS: dict[str, dict[str, Any]] = {
    "city": {"battery_kwh": 42.0, "max_ac_kw": 11.0, "max_dc_kw": 50.0},
    "compact": {"battery_kwh": 58.0, "max_ac_kw": 11.0, "max_dc_kw": 120.0},
    "sedan": {"battery_kwh": 77.0, "max_ac_kw": 11.0, "max_dc_kw": 175.0},
    "suv": {"battery_kwh": 95.0, "max_ac_kw": 22.0, "max_dc_kw": 150.0},
    "hpc800": {"battery_kwh": 84.0, "max_ac_kw": 11.0, "max_dc_kw": 260.0, "dc_voltage": 800.0},
}
"""Typical cars, so that a scenario can say `"preset": "sedan"` (any field may be overridden)."""


def vehicle_from(data: dict[str, Any] | None) -> Vehicle:
    """A Vehicle from control-API JSON: `{"preset": "sedan", "soc": 0.1}` or plain fields."""
    values = dict(data or {})
    preset = values.pop("preset", None)
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown vehicle preset {preset!r} (known: {', '.join(PRESETS)})")
        values = {"name": preset, **PRESETS[preset], **values}
    return Vehicle.model_validate(values)
