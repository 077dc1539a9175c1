"""A process that chats forever on the tiny model and prints `ACK <text>` for each user message
the moment os1 acknowledges it (MessageStored). tests/test_durability.py kills it at random."""

from __future__ import annotations

import asyncio
import sys
import uuid

from os1.config import load_config
from os1.conversation import run_turn
from os1.events import MessageStored
from os1.persona.identity import ONBOARDED, Identity
from os1.runtime import Runtime


async def main() -> None:
    runtime = Runtime(
        load_config(model="tiny", n_ctx=1024, max_reply_tokens=64), memory_factory=None
    )
    user = runtime.user("dura")
    ctx = runtime.context(user)
    if not ctx.store.get_identity().onboarded:
        ctx.store.save_identity(Identity("Iris", "joe", "Dura", ONBOARDED))
    print("READY", flush=True)
    while True:
        text = f"note {uuid.uuid4().hex}"
        async for event in run_turn(ctx, text):
            if isinstance(event, MessageStored):
                sys.stdout.write(f"ACK {text}\n")
                sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
