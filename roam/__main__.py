"""`python -m roam` runs the `roam` command."""

from roam.cli import main

main()
