"""One error tree, translated at the boundaries by audience.

    Os1Error
    ├── UserError              one clear sentence for the user; rendered in one place
    │   ├── InputError         empty, too long, unreadable input
    │   ├── ConfigError        a bad config file or option
    │   ├── ModelFileError     a missing, wrong or corrupt model file
    │   ├── BackendUnavailable the model server cannot be reached or refused us
    │   ├── StorageError       the data directory is unwritable or the disk is full
    │   └── NotFound           no such user / message / profile
    └── ModelOutputError       the model produced something unusable; callers retry or fall back

Anything else is a bug and propagates with its traceback.
"""

from __future__ import annotations


class Os1Error(Exception):
    """Base of every error os1 raises on purpose."""


class UserError(Os1Error):
    """An error whose message is one sentence meant for the user."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence

    def __str__(self) -> str:
        return self.sentence


class InputError(UserError):
    """The user's input cannot be used as it is."""


class ConfigError(UserError):
    """Configuration is invalid."""


class ModelFileError(UserError):
    """A model file is missing, wrong or corrupt."""


class BackendUnavailable(UserError):
    """The model backend cannot serve the request."""


class StorageError(UserError):
    """The data directory cannot be written."""


class NotFound(UserError):
    """The thing asked for does not exist (for this user)."""


class ModelOutputError(Os1Error):
    """The model's output was unusable (bad JSON, invalid value); retry or fall back."""


__all__ = [
    "BackendUnavailable",
    "ConfigError",
    "InputError",
    "ModelFileError",
    "ModelOutputError",
    "NotFound",
    "Os1Error",
    "StorageError",
    "UserError",
]
