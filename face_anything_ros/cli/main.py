"""The ``face-anything`` command: one entry point, one subcommand per job.

Each subcommand lives in ``face_anything_ros/cli/commands/<name>.py`` and exposes
``add_parser(subparsers)`` (which registers its arguments and sets ``func``).
Command modules import their heavy dependencies inside ``func`` so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import logging
import sys

from face_anything_ros.cli.commands import bench, demo, evaluate, replay, run, stress, synth, train

# Order of the subcommands in ``--help``.
COMMAND_MODULES = (demo, synth, train, evaluate, bench, run, replay, stress)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="face-anything",
        description="4D face reconstruction: depth and canonical facial coordinates from any image sequence.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
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
