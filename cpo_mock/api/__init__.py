"""Thin HTTP endpoints of the mock CPO: OCPI modules (ocpi.py) and the control API (control.py)."""
