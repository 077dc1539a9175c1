"""os1 — a private AI companion that lives on your computer.

The library surface: build a `Runtime` from a `Config`, get a `TurnContext` for one user, and
iterate `run_turn(ctx, text)` for the events of one turn.

    runtime = Runtime(load_config())
    ctx = runtime.context(runtime.user("theodore"))
    async for event in run_turn(ctx, "Good morning"):
        ...
"""

from os1.config import Config, load_config
from os1.context import Memory, TurnContext
from os1.conversation import prewarm, run_turn
from os1.errors import Os1Error, UserError
from os1.events import (
    ErrorEvent,
    Event,
    IdentityChanged,
    MessageStored,
    TextDelta,
    TurnEnded,
    TurnStarted,
)
from os1.runtime import Runtime

__version__ = "0.1.0"

__all__ = [
    "Config",
    "ErrorEvent",
    "Event",
    "IdentityChanged",
    "Memory",
    "MessageStored",
    "Os1Error",
    "Runtime",
    "TextDelta",
    "TurnContext",
    "TurnEnded",
    "TurnStarted",
    "UserError",
    "__version__",
    "load_config",
    "prewarm",
    "run_turn",
]
