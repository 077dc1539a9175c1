"""Recent client message ids per user, so a resent message is acknowledged, not stored twice.

Bounded (the last `per_user` ids of each user) and held in this process: it covers a client
that resends after a reconnect to the same worker, which is what the web app does.
"""

from __future__ import annotations

from collections import OrderedDict


class SeenMessages:
    """Recent client_ids per user → stored message id, so a resend is acknowledged, not stored."""

    def __init__(self, per_user: int = 256) -> None:
        self.per_user = per_user
        self._seen: dict[str, OrderedDict[str, int]] = {}

    def get(self, user_id: str, client_id: str) -> int | None:
        return self._seen.get(user_id, OrderedDict()).get(client_id)

    def add(self, user_id: str, client_id: str, message_id: int) -> None:
        seen = self._seen.setdefault(user_id, OrderedDict())
        seen[client_id] = message_id
        while len(seen) > self.per_user:
            seen.popitem(last=False)


__all__ = ["SeenMessages"]
