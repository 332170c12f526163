"""``python -m ehx`` runs the ``ehx`` command."""

from ehx.cli import main

main()
