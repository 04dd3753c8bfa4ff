"""``python -m stillwatch`` is the ``stillwatch`` command."""

from stillwatch.cli.app import main

main()
