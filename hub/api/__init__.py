"""The hub's HTTP endpoints, one router per OCPI module."""
