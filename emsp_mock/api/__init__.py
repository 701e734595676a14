"""Thin HTTP endpoints of the mock eMSP: OCPI modules and the driver app API."""
