"""Subcommands of the ``face-anything`` CLI, one module each (see cli.py)."""
