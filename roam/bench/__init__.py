"""The benchmark commands: `roam hub bench` (hub.py; its server processes run as
`python -m roam.bench member|hub …`), `roam cpo bench` (cpo.py), `roam emsp bench` (emsp.py).

Imported only when a bench runs: hub.py loads uvloop and aiohttp's load generator.
"""
