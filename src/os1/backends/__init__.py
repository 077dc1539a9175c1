"""Model backends: interchangeable implementations of one small contract (`base.Backend`)."""

from os1.backends.base import Backend, GenerationOptions, collect_text
from os1.backends.structured import generate_json

__all__ = ["Backend", "GenerationOptions", "collect_text", "generate_json"]
