"""The ``face-anything`` command: one entry point, one subcommand per job.

Each subcommand lives in ``face_anything_ros/commands/<name>.py`` and exposes
``add_parser(subparsers)`` (which registers its arguments and sets ``func``).
Command modules import their heavy dependencies inside ``func`` so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

COMMAND_MODULES = ("demo", "synth", "train", "evaluate", "bench", "run", "replay", "stress")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="face-anything",
        description="4D face reconstruction: depth and canonical facial coordinates from any image sequence.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"face_anything_ros.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"face_anything_ros.commands.{name}":
                continue  # subcommand not built yet
            raise
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
