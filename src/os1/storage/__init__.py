"""Durable state: the accounts registry and one store per user.

Isolation by construction (see docs/architecture.md): on SQLite every user has their own
database file, reached only through `Accounts.open_store(user)`, which returns a `UserStore`
bound to that user; there is no API that takes a user id per query. Tenant tables still carry
`user_id` so the same SQL runs on a shared PostgreSQL database guarded by row-level security.
"""

from os1.storage.accounts import Accounts, User
from os1.storage.database import Database, SqliteDatabase
from os1.storage.user_store import UserStore

__all__ = ["Accounts", "Database", "SqliteDatabase", "User", "UserStore"]
