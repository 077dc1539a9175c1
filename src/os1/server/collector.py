"""The garbage collector of a long-running server process.

A worker holds thousands of long-lived sockets, and CPython's full (generation 2) collection
walks every tracked object while the event loop waits: with 2,500 sockets in one worker that is
~600,000 objects and a pause of 200-600 ms (bench/load.py logs them with OS1_BENCH_GC), which
lands on every turn in flight. Reference counting frees nearly all that a turn allocates; the
cyclic collector is only needed for cycles, and those can wait. So a server process:
  * freezes what exists once the app is built (modules, routes, schemas, the model): it lives as
    long as the process, and no full collection needs to walk it again;
  * runs a full collection after FULL_AFTER collections of the middle generation instead of
    CPython's 10, so pauses come rarely; cyclic garbage lives a little longer.
Young collections are unchanged (they are short: only new objects).

Only for server processes (`os1 serve`); tests and the terminal keep CPython's defaults.
"""

from __future__ import annotations

import gc

FULL_AFTER = 100


def tune_for_server() -> None:
    """Freeze the objects built so far and space out full collections (see above)."""
    gc.collect()  # what is garbage now is not frozen
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_AFTER)


__all__ = ["FULL_AFTER", "tune_for_server"]
