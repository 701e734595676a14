"""`roam demo` (docs/demo.md): the run (run.py) and the roaming story with its checks
(story.py), over the federation of roam.federation."""
