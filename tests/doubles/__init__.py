"""Test doubles: independent OCPI 2.2.1 member platforms for the hub's integration tests.

`Member` (the package tests/doubles/member/) plays one CPO or one eMSP written only against
`ocpi/`; `factories` returns valid wire objects. Nothing here imports hub, cpo_mock, emsp_mock
or roam.
"""
