"""Helpers shared by commands: the common options, config loading, progress lines."""

from __future__ import annotations

import argparse
import sys

from os1.config import Config, load_config


def add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--user", help="whose OS to talk to (default: your login name)")
    p.add_argument("--model", help="a profile (default, fast, tiny) or a path to a GGUF file")
    p.add_argument("--backend", metavar="URL", help="an OpenAI-compatible server to use instead")
    p.add_argument("--backend-model", metavar="NAME", help="the model name on that server")


def config_from(args: argparse.Namespace) -> Config:
    return load_config(
        model=getattr(args, "model", None),
        backend_url=getattr(args, "backend", None),
        backend_model=getattr(args, "backend_model", None),
    )


def status(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class ProgressBar:
    """A one-line progress indicator on stderr, for long steps."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._last = -1

    def __call__(self, done: int, total: int) -> None:
        pct = int(done * 100 / total) if total else 100
        if pct != self._last:
            self._last = pct
            end = "\n" if done >= total else ""
            mb = f"{done / 1e6:,.0f}/{total / 1e6:,.0f} MB"
            print(f"\r{self.label}: {pct:3d}% ({mb})", end=end, file=sys.stderr, flush=True)
