"""`python -m roam.bench member|hub …`: one server process of `roam hub bench` (internal)."""

from roam.bench.hub import child_main

child_main()
