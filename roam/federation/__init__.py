"""The federation `roam demo` and `roam scenario run` share: the federation file (spec.py,
federation.yaml, the default alliance) and the hub and members served in one process
(runtime.py)."""
