"""`roam scenario run` (docs/scenarios.md): the YAML format (format.py, pure), the runner
(runner.py) over roam.federation, its shared state, actions, checks and timeline."""
