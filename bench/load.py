"""Load benchmark: many concurrent WebSocket sessions on one os1 server, and many users on one
embedded model.

    .venv/bin/python bench/load.py --sessions 10000 --json bench/results/load.json

Part 1, per engine (SQLite files, then a throwaway PostgreSQL on loopback from tests/pg.py):
N users are created with bearer tokens and a finished first meeting; the server (os1's
`create_app` under uvicorn, scripted backend, memory off) runs in its own process and the
client in another. The client holds N WebSocket sessions; each sends a message every
`--interval` s (random phase) for `--duration` s. Reported:
  * server_added_ms p50/p95/p99: send → `idle` (the turn is over), with a backend that takes
    no time, so all of it is os1 (storage, events, framing) plus loopback and client queueing;
    server_side_ms has the server's own share, timed inside the server from the moment it
    handled the `say` (ack = `message_stored`, `idle`, and `open` = opening a session);
    client_lag_ms p50/p95 is the client's own event-loop lag (how late a 50 ms sleep wakes),
    the part of those numbers that is the client's, not the server's; first_turn_ms_p95 is
    the same for each session's first turn alone (it also opens the session), later_turns_ms
    p50/p95 for the others (the steady state); server_cpu_ms
    and client_cpu_ms per turn are CPU time (user+system, all server processes) per turn;
  * lost: sent but missing from the database afterwards (a reply later than 30 s is counted
    as timed_out, an unanswered send as unacknowledged);
    duplicated: acknowledged twice, or stored more than once (counted in the database);
  * rss_mb_per_session: server RSS growth per idle connected session.
Part 2 (`--model`): the embedded model behind the fair queue with 1, 4 and 16 concurrent users,
serial and batched engines side by side (bench/load_model.py, run as a child): aggregate
tokens/s and p95 time to first token, as ratios to 1 user.

Bounded: at most 20,000 sessions, loopback only, every phase has a deadline; it stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

MAX_SESSIONS = 20_000
REPLY = "Hello there."


def raise_fd_limit(want: int) -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for target in ((max(want, hard), max(want, hard)), (min(want, hard), hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, target)
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- setup: users, tokens, a finished first meeting ---------------------------------------------


def make_users(n: int, env: dict[str, str], work: Path) -> list[tuple[str, str]]:
    """Create n signed-up, onboarded users (setup, not measured: batched transactions, and on
    SQLite each user's file is a copy of one freshly migrated database)."""
    import shutil

    from os1.config import load_config
    from os1.persona.identity import ONBOARDED
    from os1.server.auth_store import AuthStore
    from os1.storage import Accounts
    from os1.storage.database import SqliteDatabase, utcnow

    accounts = Accounts.open(load_config(env))
    auth = AuthStore(accounts.db)
    template = work / "template.db"
    if accounts.pool is None:
        SqliteDatabase(template, "user").close()
    identity = (
        "INSERT INTO identity (user_id, os_name, voice, user_name, onboarding_step, onboarding,"
        " created_at, updated_at) VALUES (?, 'Samantha', 'joe', ?, ?, '{}', ?, ?)"
    )
    out = []
    for start in range(0, n, 500):
        with accounts.db.transaction():
            batch = [
                accounts.create_user(f"user{i:05d}") for i in range(start, min(n, start + 500))
            ]
            out += [(u.id, auth.create_token(u.id, "load", 1.0)[1]) for u in batch]
        for user in batch:
            now = utcnow()
            if accounts.pool is None:
                path = accounts.user_dir(user) / "os1.db"
                path.parent.mkdir(parents=True)
                shutil.copyfile(template, path)
                with sqlite3.connect(path) as conn:
                    conn.execute(identity, (user.id, user.name, ONBOARDED, now, now))
                conn.close()
            else:
                accounts.open_store(user).db.execute(
                    identity, (user.id, user.name, ONBOARDED, now, now)
                )
    accounts.close()
    return out


# --- the server process ------------------------------------------------------------------------


def log_phases(path: str) -> None:
    """Server-side timings of every turn, appended to `path` as `frame first_turn ms` lines:
    when each frame left, from the moment its `say` was handled (first_turn 1: the turn also
    opened the session), and `open 1 ms` for opening a session's context."""
    import os1.server.state as state
    import os1.server.websocket as socket_module

    log = open(path, "a")  # noqa: SIM115 - open for the server's lifetime
    conv = socket_module.Conversation
    handle, send, open_context = conv.handle, conv.send, state.Server.open_context
    began: dict[int, tuple[float, int]] = {}

    async def timed_handle(self: Any, frame: Any) -> None:
        began[id(self)] = time.perf_counter(), int(self.ctx is None)
        await handle(self, frame)

    async def timed_send(self: Any, frame: dict[str, Any]) -> None:
        if id(self) in began:
            t0, first = began[id(self)]
            log.write(f"{frame['type']} {first} {1000 * (time.perf_counter() - t0):.2f}\n")
        await send(self, frame)

    async def timed_open(self: Any, user: Any, channel: str) -> Any:
        t0 = time.perf_counter()
        try:
            return await open_context(self, user, channel)
        finally:
            log.write(f"open 1 {1000 * (time.perf_counter() - t0):.2f}\n")

    conv.handle, conv.send = timed_handle, timed_send  # type: ignore[method-assign]
    state.Server.open_context = timed_open  # type: ignore[method-assign]


def serve(port: int) -> None:
    raise_fd_limit(200_000)
    import uvicorn

    import os1.runtime
    from os1.config import load_config
    from os1.server import create_app
    from os1.server.settings import ServerSettings
    from os1.testing import ScriptedBackend

    os1.runtime.default_memory_factory = lambda: None  # the conversation path only
    settings = ServerSettings(
        messages_per_minute=600, message_burst=100, requests_per_minute=6000, request_burst=1000
    )
    app = create_app(
        load_config(), backend=ScriptedBackend([REPLY], repeat_last=True), settings=settings
    )
    if os.environ.get("OS1_BENCH_DEFAULT_GC") is None:  # as `os1 serve` runs
        from os1.server.collector import tune_for_server

        tune_for_server()
    gc_log = os.environ.get("OS1_BENCH_GC")  # a path: log each full collection's pause there
    if gc_log:
        import gc

        began: list[float] = []

        def watch(phase: str, info: dict[str, int]) -> None:
            if info["generation"] != 2:
                return
            if phase == "start":
                began[:] = [time.perf_counter()]
            elif began:
                with open(f"{gc_log}.{port}", "a") as log:
                    pause = 1000 * (time.perf_counter() - began[0])
                    log.write(f"{time.time():.3f} {pause:.1f} {len(gc.get_objects())}\n")

        gc.callbacks.append(watch)
    phases = os.environ.get("OS1_BENCH_PHASES")  # a path: log when each frame of a turn left
    if phases:
        log_phases(f"{phases}.{port}")
    profile = os.environ.get("OS1_BENCH_PROFILE")  # a path: write cProfile stats there
    if profile:
        import cProfile
        import signal

        profiler = cProfile.Profile()

        def dump(*_: object) -> None:  # uvicorn re-raises SIGTERM after its graceful shutdown
            profiler.disable()
            profiler.dump_stats(f"{profile}.{port}")
            os._exit(0)

        signal.signal(signal.SIGTERM, dump)
        profiler.enable()
    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio",
        ws_ping_interval=None, backlog=8192, timeout_keep_alive=60,
        ws_per_message_deflate=False,  # as `os1 serve` runs it
    )  # fmt: skip


# --- the client process ------------------------------------------------------------------------


async def client(args: argparse.Namespace) -> dict[str, Any]:
    import psutil
    import websockets

    raise_fd_limit(200_000)
    tokens = json.loads(Path(args.tokens).read_text())
    servers = [psutil.Process(int(pid)) for pid in args.server_pids.split(",")]
    urls = [f"ws://127.0.0.1:{port}/api/conversation" for port in args.ports.split(",")]

    def server_rss() -> int:
        return sum(p.memory_info().rss for p in servers)

    rss_before = server_rss()
    sockets: list[Any] = [None] * len(tokens)
    failed_connect = 0
    gate = asyncio.Semaphore(200)

    async def connect(i: int, token: str) -> None:
        nonlocal failed_connect
        async with gate:
            for _attempt in range(5):
                try:
                    ws = await websockets.connect(
                        urls[i % len(urls)],
                        additional_headers={"Authorization": f"Bearer {token}"},
                        ping_interval=None, open_timeout=60, max_queue=None,
                    )  # fmt: skip
                    ready = json.loads(await asyncio.wait_for(ws.recv(), 60))
                    assert ready["type"] == "ready", ready
                    sockets[i] = ws
                    return
                except (OSError, TimeoutError, websockets.WebSocketException):
                    await asyncio.sleep(0.5)
            failed_connect += 1

    t0 = time.monotonic()
    await asyncio.gather(*(connect(i, tok) for i, (_, tok) in enumerate(tokens)))
    connect_s = time.monotonic() - t0
    await asyncio.sleep(3)
    rss_idle = server_rss()
    held = sum(1 for s in sockets if s is not None)

    latencies: list[float] = []
    first_turns: list[float] = []  # a session's first turn also opens its context (a commit)
    later_turns: list[float] = []  # the steady state
    acks: list[float] = []
    sent: dict[str, int] = {}  # client_id -> user index
    acked: dict[str, int] = {}
    timed_out = duplicated = errors = 0
    deadline = time.monotonic() + args.duration

    async def session(i: int) -> None:
        nonlocal timed_out, duplicated, errors
        ws = sockets[i]
        if ws is None:
            return
        await asyncio.sleep(random.uniform(0, args.interval))
        k = 0
        while time.monotonic() < deadline:
            cid = f"{i}-{k}"
            k += 1
            start = time.monotonic()
            sent[cid] = i
            await ws.send(json.dumps({"type": "say", "text": f"load {cid}", "client_id": cid}))
            try:
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    kind = frame["type"]
                    if kind == "message_stored":
                        if cid in acked or frame.get("duplicate"):
                            duplicated += 1
                        acked[cid] = frame["message_id"]
                        acks.append((time.monotonic() - start) * 1000)
                    elif kind == "error":
                        errors += 1
                    elif kind == "idle":
                        latencies.append((time.monotonic() - start) * 1000)
                        (first_turns if k == 1 else later_turns).append(latencies[-1])
                        break
            except (TimeoutError, websockets.WebSocketException):
                timed_out += 1
                return
            await asyncio.sleep(max(0.0, args.interval - (time.monotonic() - start)))

    lags: list[float] = []

    async def watch_lag() -> None:  # this client's own event-loop lag, part of every latency
        while True:
            tick = time.monotonic()
            await asyncio.sleep(0.05)
            lags.append((time.monotonic() - tick - 0.05) * 1000)

    def cpu_seconds(processes: list[Any]) -> float:
        return sum(sum(p.cpu_times()[:2]) for p in processes)

    me = psutil.Process()
    cpu_before = cpu_seconds(servers), cpu_seconds([me])
    watcher = asyncio.create_task(watch_lag())
    await asyncio.gather(*(session(i) for i in range(len(tokens))))
    watcher.cancel()
    server_cpu = cpu_seconds(servers) - cpu_before[0]
    client_cpu = cpu_seconds([me]) - cpu_before[1]
    unacked = sum(1 for cid in sent if cid not in acked)
    await asyncio.gather(*(s.close() for s in sockets if s is not None), return_exceptions=True)
    Path(args.sent).write_text(json.dumps(sorted(sent)))
    return {
        "sessions_requested": len(tokens),
        "sessions": held,
        "failed_connect": failed_connect,
        "connect_seconds": round(connect_s, 1),
        "messages_sent": len(sent),
        "messages_acked": len(acked),
        "turn_errors": errors,
        "server_added_ms_p50": round(pct(latencies, 0.50), 2),
        "server_added_ms_p95": round(pct(latencies, 0.95), 2),
        "server_added_ms_p99": round(pct(latencies, 0.99), 2),
        "ack_ms_p95": round(pct(acks, 0.95), 2),
        "first_turn_ms_p95": round(pct(first_turns, 0.95), 2),
        "later_turns_ms_p50": round(pct(later_turns, 0.5), 2),
        "later_turns_ms_p95": round(pct(later_turns, 0.95), 2),
        "server_cpu_ms_per_turn": round(server_cpu * 1000 / max(1, len(latencies)), 2),
        "client_cpu_ms_per_turn": round(client_cpu * 1000 / max(1, len(latencies)), 2),
        "client_lag_ms_p50": round(pct(lags, 0.50), 2),
        "client_lag_ms_p95": round(pct(lags, 0.95), 2),
        "timed_out": timed_out,
        "unacknowledged": unacked,
        "duplicated_acks": duplicated,
        "rss_mb_per_session": round((rss_idle - rss_before) / max(1, held) / 2**20, 4),
        "server_rss_mb_idle": round(rss_idle / 2**20, 1),
    }


# --- counting what was stored ------------------------------------------------------------------


def stored_user_messages(
    engine: str, home: Path, admin_url: str | None, db: str | None
) -> list[str]:
    if engine == "postgres":
        import psycopg

        assert admin_url and db
        url = admin_url.rsplit("/", 1)[0] + "/" + db
        with psycopg.connect(url) as conn:  # the superuser bypasses row-level security
            return [r[0] for r in conn.execute("SELECT content FROM messages WHERE role='user'")]
    out: list[str] = []
    for path in (home / "users").glob("*/os1.db"):
        with sqlite3.connect(path) as conn:
            out += [r[0] for r in conn.execute("SELECT content FROM messages WHERE role='user'")]
    return out


def phase_summary(prefix: str) -> dict[str, float]:
    """p50/p95/p99 of the server-side times logged by `log_phases` (all workers): when the
    acknowledgement and the `idle` frame left, from the moment the `say` was handled."""
    times: dict[str, list[float]] = {"message_stored": [], "idle": [], "open": []}
    for path in Path(prefix).parent.glob(Path(prefix).name + ".*"):
        if not path.suffix[1:].isdigit():  # one file per server process: PREFIX.PORT
            continue
        for line in path.read_text().splitlines():
            frame, _, ms = line.split()
            if frame in times:
                times[frame].append(float(ms))
    return {
        f"{name}_ms_p{q}": round(pct(values, q / 100), 2)
        for name, values in times.items()
        if values
        for q in (50, 95, 99)
    }


def run_engine(engine: str, args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"os1-load-{engine}-"))
    env = {**os.environ, "OS1_HOME": str(work / "home"), "PYTHONPATH": f"{ROOT}/src:{ROOT}"}
    env.setdefault("OS1_BENCH_PHASES", str(work / "phases"))
    for key in ("OS1_BACKEND_URL", "OS1_DATABASE_URL", "OS1_DATABASE_OWNER_URL"):
        env.pop(key, None)
    pg = None
    db_name = None
    if engine == "postgres":
        from tests.pg import PostgresServer

        pg = PostgresServer.start(max_connections=100, durable=True)
        urls = pg.new_database()
        db_name = urls.name
        env["OS1_DATABASE_URL"] = urls.app_url
        env["OS1_DATABASE_OWNER_URL"] = urls.owner_url
    try:
        t0 = time.monotonic()
        users = make_users(args.sessions, env, work)
        setup_s = time.monotonic() - t0
        (work / "tokens.json").write_text(json.dumps(users))
        ports = [free_port() for _ in range(args.workers)]
        servers = [
            subprocess.Popen(
                [sys.executable, __file__, "--serve-child", "--port", str(port)], env=env
            )
            for port in ports
        ]
        try:
            for port in ports:
                for _ in range(300):
                    try:
                        socket.create_connection(("127.0.0.1", port), 0.2).close()
                        break
                    except OSError:
                        time.sleep(0.2)
            out = work / "client.json"
            cmd = [
                sys.executable, __file__, "--client-child",
                "--ports", ",".join(map(str, ports)),
                "--server-pids", ",".join(str(s.pid) for s in servers),
                "--tokens", str(work / "tokens.json"),
                "--interval", str(args.interval), "--duration", str(args.duration),
                "--out", str(out), "--sent", str(work / "sent.json"),
            ]  # fmt: skip
            budget = args.duration + args.interval + 600
            subprocess.run(cmd, env=env, check=True, timeout=budget)
            result: dict[str, Any] = json.loads(out.read_text())
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                try:
                    server.wait(60)
                except subprocess.TimeoutExpired:  # a slow graceful close of thousands of sockets
                    server.kill()
                    server.wait(10)
        sent = {f"load {cid}" for cid in json.loads((work / "sent.json").read_text())}
        stored = stored_user_messages(engine, work / "home", pg.admin_url if pg else None, db_name)
        counts: dict[str, int] = {}
        for text in stored:
            counts[text] = counts.get(text, 0) + 1
        result["stored_duplicates"] = sum(c - 1 for c in counts.values() if c > 1)
        result["missing_from_db"] = len(sent - counts.keys())
        # Lost: sent but not stored. A reply later than 30 s counts as timed out, not lost.
        result["lost"] = result["missing_from_db"]
        result["duplicated"] = result["duplicated_acks"] + result["stored_duplicates"]
        result["server_side_ms"] = phase_summary(env["OS1_BENCH_PHASES"])
        result["engine"] = engine
        result["workers"] = args.workers
        result["setup_seconds"] = round(setup_s, 1)
        return result
    finally:
        if pg is not None:
            pg.stop()
        subprocess.run(["rm", "-rf", str(work)], check=False)


# --- part 2: the embedded model behind the fair queue ------------------------------------------


def model_part(profile: str, users: str, max_tokens: int, repeats: int) -> dict[str, Any]:
    """bench/load_model.py's serial and batched engines, side by side, in a child process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model.json"
        command = [sys.executable, str(ROOT / "bench" / "load_model.py"), "--model", profile]
        command += ["--users", users, "--tokens", str(max_tokens), "--repeats", str(repeats)]
        subprocess.run([*command, "--json", str(out)], check=True)
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sessions", type=int, default=1000)
    p.add_argument("--engine", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument(
        "--interval", type=float, default=30.0, help="seconds between a session's messages"
    )
    p.add_argument("--duration", type=float, default=60.0, help="seconds of sending")
    p.add_argument("--workers", type=int, default=1, help="server processes (sessions spread)")
    p.add_argument("--model", default=None, help="also measure this embedded profile (e.g. tiny)")
    p.add_argument("--model-users", default="1,4,16")
    p.add_argument("--model-tokens", type=int, default=48)
    p.add_argument("--model-repeats", type=int, default=1)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--serve-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--client-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--ports", help=argparse.SUPPRESS)
    p.add_argument("--server-pids", help=argparse.SUPPRESS)
    p.add_argument("--tokens", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--sent", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve_child:
        serve(args.port)
        return 0
    if args.client_child:
        Path(args.out).write_text(json.dumps(asyncio.run(client(args))))
        return 0
    if not 1 <= args.sessions <= MAX_SESSIONS:
        p.error(f"--sessions must be between 1 and {MAX_SESSIONS}")
    if not (1 <= args.interval <= 300 and 1 <= args.duration <= 1800 and 1 <= args.workers <= 8):
        p.error("--interval must be 1..300 s, --duration 1..1800 s, --workers 1..8")
    limit = raise_fd_limit(200_000)
    summary: dict[str, Any] = {
        "sessions": args.sessions,
        "interval_s": args.interval,
        "duration_s": args.duration,
        "cpus": os.cpu_count(),
        "fd_limit": limit,
        "runs": [],
    }
    engines = ["sqlite", "postgres"] if args.engine == "both" else [args.engine]
    for engine in engines:
        print(f"==> {engine}: {args.sessions} sessions", flush=True)
        run = run_engine(engine, args)
        print(json.dumps(run, indent=1), flush=True)
        summary["runs"].append(run)
    first = summary["runs"][0]
    for key in ("server_added_ms_p50", "server_added_ms_p95", "server_added_ms_p99", "lost",
                "duplicated", "rss_mb_per_session", "engine"):  # fmt: skip
        summary[key] = first[key]  # top-level keys: the first engine; all engines under runs
    summary["sessions_held"] = first["sessions"]
    if args.model:
        summary["model"] = model_part(
            args.model, args.model_users, args.model_tokens, args.model_repeats
        )
        print(json.dumps(summary["model"], indent=1), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
