"""`os1 serve`: the web app and API under uvicorn; `os1 account`: sign-in for the server.

os1 serve [--host 127.0.0.1] [--port 8421] [--open-signup] [--parallel N]
os1 account add NAME [--password-stdin]       an admin creates a user who can sign in
os1 account password NAME [--password-stdin]  set a user's password
"""

from __future__ import annotations

import argparse
import getpass
import sys

from os1.cli.common import add_model_options, config_from, status
from os1.errors import InputError

PARALLEL = 4  # a server's embedded model batches this many users' replies by default


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="serve the web app and API (127.0.0.1 by default)")
    add_model_options(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8421)
    p.add_argument("--open-signup", action="store_true", help="let anyone who reaches it sign up")
    p.add_argument(
        "--parallel",
        type=int,
        metavar="N",
        help=f"replies the embedded model generates at once (default OS1_PARALLEL or {PARALLEL})",
    )
    p.set_defaults(handler=serve)

    p = sub.add_parser("account", help="create server users and set their passwords")
    p.add_argument("action", choices=("add", "password"))
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.set_defaults(handler=account)


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise InputError("The two passwords differ; nothing was changed.")
    return first


def account(args: argparse.Namespace) -> int:
    from os1.server.passwords import check_password
    from os1.server.settings import ServerSettings
    from os1.server.state import Server

    server = Server(config_from(args), ServerSettings())
    try:
        password = _read_password(args)
        check_password(password)
        password_hash = server.passwords.hash(password)
        if args.action == "add":
            user = server.accounts.create_user(args.name)
        else:
            user = server.accounts.get_user(args.name)
        server.auth.set_password_hash(user.id, password_hash)
    finally:
        server.close()
    print(f"{user.name} can sign in now." if args.action == "add" else "Password set.")
    return 0


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from os1.server import ServerSettings, create_app
    from os1.server.app import api_of
    from os1.server.collector import tune_for_server

    config = config_from(args)
    if args.parallel is not None and not 1 <= args.parallel <= 64:
        raise InputError("--parallel must be from 1 to 64.")
    config = config.with_overrides(parallel=args.parallel or config.parallel or PARALLEL)
    settings = ServerSettings(open_signup=args.open_signup)
    app = create_app(config, settings=settings)
    api_of(app).state.os1.runtime.backend()  # load the model now, not at the first message
    tune_for_server()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        status(f"os1: listening on {args.host}; put a TLS reverse proxy in front (docs/deploy.md).")
    status(
        f"os1 is at http://{args.host}:{args.port}/"
        + (" (open sign-up)" if args.open_signup else "")
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        ws_max_size=settings.max_frame_bytes,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        ws_per_message_deflate=False,  # frames are short JSON: compression buys nothing and
        # costs CPU per frame and a zlib state (~200 KB) per socket
        timeout_keep_alive=10,
        log_level="warning",
        server_header=False,
    )
    return 0


__all__ = ["register"]
