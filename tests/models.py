"""Paths to the real embedded models for integration tests."""

from __future__ import annotations

from pathlib import Path

from os1.profiles import PROFILES, target_path

TINY = target_path(PROFILES["tiny"], Path("/nonexistent"))  # single file: used in place
