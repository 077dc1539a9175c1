"""`os1 chat`: talk in the terminal. Ctrl-C stops a reply (not the program); Ctrl-D leaves."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from os1.cli.common import add_model_options, config_from, status
from os1.cli.render import TerminalRenderer
from os1.conversation import prewarm, run_turn
from os1.runtime import Runtime
from os1.typing_ahead import TypingAhead


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("chat", help="talk with your OS in the terminal (the default)")
    add_model_options(p)
    p.set_defaults(handler=chat)


def _prepare_stdin() -> None:
    with contextlib.suppress(AttributeError, ValueError):
        sys.stdin.reconfigure(errors="surrogateescape")  # type: ignore[union-attr]
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and history for input())


def chat(args: argparse.Namespace) -> int:
    config = config_from(args)
    runtime = Runtime(config, say=status)
    try:
        user = runtime.user(args.user)
        ctx = runtime.context(user)
        identity = ctx.store.get_identity()
        renderer = TerminalRenderer(identity.os_name)
        _prepare_stdin()
        with asyncio.Runner() as runner:
            if identity.onboarded:
                runner.run(prewarm(ctx))
                status(f"{identity.os_name} is here. (Ctrl-C stops a reply; Ctrl-D leaves.)")
            else:
                runner.run(renderer.render(run_turn(ctx, None)))
            ahead = TypingAhead(ctx)  # the next turn's notes, while the user types
            while True:
                if ctx.store.get_identity().onboarded:
                    ahead.start()
                try:
                    line = input("you › ")
                except EOFError:
                    print()
                    break
                except KeyboardInterrupt:
                    print()
                    continue
                try:
                    notes = runner.run(ahead.finish(line))
                    runner.run(renderer.render(run_turn(ctx, line, notes=notes)))
                except KeyboardInterrupt:
                    print("\n(stopped)\n", flush=True)
    finally:
        runtime.close()
    return 0
