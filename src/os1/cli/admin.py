"""`os1 identity | history | users | models | doctor`: look at and look after an installation."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from os1.cli.common import ProgressBar, config_from
from os1.config import load_config
from os1.doctor import diagnose
from os1.errors import ModelFileError
from os1.profiles import PROFILES, assemble, installed, is_assembled, target_path
from os1.storage.accounts import Accounts


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("identity", help="who your OS is, and how it has changed")
    p.add_argument("--user")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=identity)

    p = sub.add_parser("history", help="the conversation so far")
    p.add_argument("--user")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(handler=history)

    p = sub.add_parser("users", help="list, add or erase users")
    p.add_argument("action", nargs="?", choices=("list", "add", "erase"), default="list")
    p.add_argument("name", nargs="?")
    p.add_argument("--yes", action="store_true", help="confirm erasing")
    p.set_defaults(handler=users)

    p = sub.add_parser("models", help="embedded model profiles; `models assemble` prepares them")
    p.add_argument("action", nargs="?", choices=("list", "assemble"), default="list")
    p.add_argument("profiles", nargs="*", help="profiles to assemble (default: all installed)")
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.set_defaults(handler=models)

    p = sub.add_parser("doctor", help="check the install, the models and the data directory")
    p.set_defaults(handler=doctor)


def _store(args: argparse.Namespace) -> tuple[Accounts, Any]:
    config = load_config()
    accounts = Accounts.open(config)
    name = args.user or config.default_user
    if name is None:
        import getpass

        name = getpass.getuser()
    user = accounts.get_user(name)
    return accounts, accounts.open_store(user)


def identity(args: argparse.Namespace) -> int:
    accounts, store = _store(args)
    try:
        ident = store.get_identity()
        changes = store.identity_history()
    finally:
        accounts.close()
    data = {
        "os_name": ident.os_name,
        "voice": ident.voice,
        "user_name": ident.user_name,
        "onboarded": ident.onboarded,
        "first_meeting": ident.answers,
        "history": changes,
    }
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    if not ident.onboarded:
        print("Your OS has not finished its first meeting yet; run `os1` to meet it.")
        return 0
    print(f"Name:  {ident.os_name}\nVoice: {ident.voice}\nKnows you as: {ident.user_name}")
    for c in changes:
        print(
            f"  {c['changed_at'][:19]}  {c['field']}: {c['old_value']} → {c['new_value']}"
            + (f"  ({c['reason']})" if c["reason"] else "")
        )
    return 0


def history(args: argparse.Namespace) -> int:
    accounts, store = _store(args)
    try:
        messages = store.messages(limit=max(1, args.limit))
        os_name = store.get_identity().os_name or "os1"
    finally:
        accounts.close()
    if args.json:
        rows = [
            {
                "id": m.id,
                "session_id": m.session_id,
                "role": m.role,
                "content": m.content,
                "status": m.status,
                "created_at": m.created_at.isoformat(),
            }
            for m in messages
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    for m in messages:
        who = "you" if m.role == "user" else os_name
        mark = "" if m.status == "complete" else f" [{m.status}]"
        print(f"{m.created_at:%Y-%m-%d %H:%M}  {who}: {m.content}{mark}")
    return 0


def users(args: argparse.Namespace) -> int:
    config = load_config()
    accounts = Accounts.open(config)
    try:
        if args.action == "add":
            if not args.name:
                print("os1: Name the user to add, e.g. `os1 users add alice`.", file=sys.stderr)
                return 1
            print(f"Added {accounts.create_user(args.name).name}.")
        elif args.action == "erase":
            if not args.name:
                print("os1: Name the user to erase.", file=sys.stderr)
                return 1
            user = accounts.get_user(args.name)
            if not args.yes:
                print(
                    f"os1: This erases everything of {user.name}'s; repeat with --yes to confirm.",
                    file=sys.stderr,
                )
                return 1
            accounts.erase_user(user)
            print(f"Erased {user.name} and all their data.")
        else:
            for u in accounts.list_users():
                print(f"{u.name}\t(since {u.created_at[:10]})")
    finally:
        accounts.close()
    return 0


def models(args: argparse.Namespace) -> int:
    config = config_from(args)
    if args.action == "assemble":
        names = args.profiles or [n for n, p in PROFILES.items() if installed(p)]
        for name in names:
            profile = PROFILES.get(name)
            if profile is None:
                raise ModelFileError(f"There is no model profile called {name!r}.")
            assemble(profile, config.models_dir, ProgressBar(f"preparing the {name} model"))
            print(f"{name}: ready ({target_path(profile, config.models_dir)})", file=sys.stderr)
        return 0
    print(f"{'profile':8} {'model':38} {'size':>9}  {'installed':9} {'assembled':9} active")
    for name, p in PROFILES.items():
        active = "*" if (config.model == name and not config.backend_url) else ""
        print(
            f"{name:8} {p.model:38} {p.size / 1e6:>6,.0f} MB  "
            f"{'yes' if installed(p) else 'no':9} "
            f"{'yes' if is_assembled(p, config.models_dir) else 'no':9} {active}"
        )
    if config.backend_url:
        print(f"active: the server at {config.backend_url}")
    elif config.model not in PROFILES:
        print(f"active: {config.model}")
    return 0


def doctor(args: argparse.Namespace) -> int:
    problems = 0
    for ok, sentence in diagnose(load_config()):
        problems += not ok
        print(("ok       " if ok else "PROBLEM  ") + sentence)
    return 1 if problems else 0
