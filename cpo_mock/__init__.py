"""The mock charge point operator: create_app(settings) in cpo_mock.app (docs/cpo_mock.md)."""
