"""The mock eMSP: a member's driver app back end (docs/emsp_mock.md)."""
