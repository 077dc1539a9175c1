"""Password hashing with Argon2id (argon2-cffi), the one place passwords are touched.

Hashing is slow on purpose, so callers run it in a worker thread. `verify` also spends the
same effort for unknown users (against a dummy hash), so timing does not reveal who exists.
"""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from os1.errors import InputError

MIN_LENGTH = 8
MAX_LENGTH = 1024


class Passwords:
    def __init__(self, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self._dummy = self._hasher.hash("os1 dummy password for unknown users")

    def hash(self, password: str) -> str:
        check_password(password)
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        if len(password) > MAX_LENGTH:
            return False
        try:
            return self._hasher.verify(stored_hash or self._dummy, password) and bool(stored_hash)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)


def check_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise InputError(f"A password needs at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise InputError(f"A password can be at most {MAX_LENGTH} characters long.")


__all__ = ["MAX_LENGTH", "MIN_LENGTH", "Passwords", "check_password"]
