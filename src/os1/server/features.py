"""Optional parts the server wires in when their library APIs are present (memory, voice).

A part counts as present when its package imports and offers what the routes call; a package
still being built (a directory without its public API) counts as absent.
"""

from __future__ import annotations

import importlib


def _offers(module: str, *names: str) -> bool:
    try:
        loaded = importlib.import_module(module)
    except ImportError:
        return False
    return all(hasattr(loaded, name) for name in names)


def has_memory() -> bool:
    return _offers("os1.memory", "open_memory") and _offers("os1.server.routes.memory", "router")


def has_voice() -> bool:
    return _offers("os1.voice", "VoiceSession") and _offers("os1.server.voice_socket", "router")


__all__ = ["has_memory", "has_voice"]
