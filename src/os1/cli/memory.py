"""`os1 memory list|search|show|forget|export|erase`: see and control what your OS remembers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from os1.config import load_config
from os1.errors import InputError
from os1.memory import MemoryControl, MemoryRecord
from os1.runtime import Runtime


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("memory", help="what your OS remembers: list, search, show, forget, export")
    p.add_argument("--user", help="whose memories (default: your login name)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = actions.add_parser("list", help="facts, summaries and reflections (--all: turns too)")
    a.add_argument("--all", action="store_true", help="include every conversation turn")
    a.add_argument("--history", action="store_true", help="include corrected facts")
    a = actions.add_parser("search", help="search memories by meaning, words and time")
    a.add_argument("query", nargs="+")
    a.add_argument("-k", type=int, default=10)
    a = actions.add_parser("show", help="one memory, its sources and its history")
    a.add_argument("id", type=int)
    a = actions.add_parser("forget", help="forget a memory (by id) or everything --about X")
    a.add_argument("id", type=int, nargs="?")
    a.add_argument("--about", metavar="TEXT")
    a = actions.add_parser("export", help="everything remembered, as JSON Lines")
    a.add_argument("--out", type=Path, metavar="FILE")
    a = actions.add_parser("erase", help="erase every message and memory")
    a.add_argument("--yes", action="store_true", help="confirm")
    p.set_defaults(handler=run)


def _line(r: MemoryRecord) -> str:
    old = f" (corrected by #{r.superseded_by})" if r.superseded_by else ""
    return f"#{r.id:<6} {r.day.isoformat()}  {r.kind:<10} {r.text}{old}"


def run(args: argparse.Namespace) -> int:
    runtime = Runtime(load_config(), memory_factory=None)
    try:
        store = runtime.accounts.open_store(
            runtime.accounts.get_user(args.user or runtime.default_user_name())
        )
        control = MemoryControl(store)
        return _act(control, args)
    finally:
        runtime.close()


def _act(control: MemoryControl, args: argparse.Namespace) -> int:
    if args.action == "list":
        kind = None if args.all else "fact"
        records = control.list(kind, include_superseded=args.history)
        if not args.all:
            records += control.list("summary") + control.list("reflection")
        for r in records:
            print(_line(r))
        if not records:
            print("Nothing remembered yet.")
    elif args.action == "search":
        for hit in control.search(" ".join(args.query), k=max(1, args.k)):
            print(_line(hit.memory))
    elif args.action == "show":
        view = control.show(args.id)
        print(_line(view.record))
        print(f"  origin: {view.record.origin}; derived: {'yes' if view.record.derived else 'no'}")
        for m in view.sources:
            print(f"  from message #{m.id} ({m.created_at:%Y-%m-%d %H:%M}, {m.role}): {m.content}")
        if len(view.history) > 1:
            print("  history:")
            for r in view.history:
                print("  " + _line(r))
    elif args.action == "forget":
        if args.about:
            n = control.forget_about(args.about)
            print(f"Forgot {n} memories about {args.about!r}, and the messages they came from.")
        elif args.id is not None:
            n = control.forget(args.id)
            print(f"Forgot memory #{args.id} and {n - 1} derived from the same messages.")
        else:
            raise InputError('Name a memory id, or use --about "TEXT".')
    elif args.action == "export":
        try:
            out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
        except OSError as e:
            raise InputError(f"Cannot write {args.out} ({e.strerror}).") from None
        try:
            for line in control.export():
                out.write(line + "\n")
        finally:
            if args.out:
                out.close()
    elif args.action == "erase":
        if not args.yes:
            raise InputError("This erases every message and memory; repeat with --yes.")
        control.erase_everything()
        print("Erased every message and memory.")
    return 0
