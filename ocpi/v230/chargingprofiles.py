"""OCPI 2.3.0 ChargingProfiles module objects (spec mod_charging_profiles): 2.2.1's, unchanged.

2.3.0 only shortened the description of ChargingRateUnit W (the numberPhases sentences, which
named a field OCPI does not have, are gone); no field or value changed.
"""

from __future__ import annotations

from ocpi.v221.chargingprofiles import (
    ActiveChargingProfile,
    ActiveChargingProfileResult,
    ChargingProfile,
    ChargingProfilePeriod,
    ChargingProfileResponse,
    ChargingProfileResponseType,
    ChargingProfileResult,
    ChargingProfileResultType,
    ChargingRateUnit,
    ClearProfileResult,
    SetChargingProfile,
)

__all__ = [
    "ActiveChargingProfile",
    "ActiveChargingProfileResult",
    "ChargingProfile",
    "ChargingProfilePeriod",
    "ChargingProfileResponse",
    "ChargingProfileResponseType",
    "ChargingProfileResult",
    "ChargingProfileResultType",
    "ChargingRateUnit",
    "ClearProfileResult",
    "SetChargingProfile",
]
