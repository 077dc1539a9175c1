"""Prompts are package data (Markdown with $placeholders), loaded by name."""

from __future__ import annotations

from functools import cache
from importlib import resources
from string import Template


@cache
def _template(name: str) -> Template:
    return Template(resources.files(__name__).joinpath(f"{name}.md").read_text("utf-8").strip())


def render(name: str, **values: str) -> str:
    """Fill prompt `name` with `values`; unknown placeholders are an error (a bug)."""
    return _template(name).substitute(values)


__all__ = ["render"]
