"""The `os1` command line: thin adapters over the library, one module per command family.

Each module in COMMANDS exposes `register(subparsers)`; a command is a few lines that call
library functions and render. User errors print as one sentence (`os1: …`) with exit code 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from os1.errors import UserError

COMMANDS = ("chat", "admin", "memory", "serve", "talk")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="os1", description="A private AI companion that lives on your computer."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"os1.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not args_list or (args_list[0].startswith("-") and args_list[0] not in ("-h", "--help")):
        args_list = ["chat", *args_list]  # `os1` alone (or with chat flags) means `os1 chat`
    args = parser.parse_args(args_list)
    try:
        return int(args.handler(args) or 0)
    except UserError as e:
        print(f"os1: {e.sentence}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


__all__ = ["build_parser", "main"]
