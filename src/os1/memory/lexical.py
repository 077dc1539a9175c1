"""Words for full-text recall: tokens (lower-cased, stop words out, Snowball-stemmed) and BM25.

`tokens("She adopted two kids")` → ["adopt", "two", "kid"]. Stemming lets "painted" find
"painting"; stop words keep "what did you" from matching every turn. Stems are cached (a
conversation reuses a few thousand words), so tokenising is a regex, a set lookup and a dict
hit per word. The BM25 weights here are the classic ones (k1 = 1.2, b = 0.75).
"""

from __future__ import annotations

import importlib
import math
import re
from functools import lru_cache
from typing import Any

K1 = 1.2
B = 0.75
_WORD = re.compile(r"\w+", re.UNICODE)
_STEMMER: Any = importlib.import_module("snowballstemmer").stemmer("english")  # untyped

_STOP = (
    "a about above after again all am an and any are as at be been before being below "
    "between both but by can could did do does doing down during each few for from further "
    "had has have having he her here hers herself him himself his how i if in into is it its "
    "itself just me more most my myself no nor not now of off on once only or other our ours "
    "ourselves out over own same she should so some such than that the their theirs them "
    "themselves then there these they this those through to too under until up very was we "
    "were what when where which while who whom why will with would you your yours yourself "
    "yourselves s t don ll ve re m d "
)
ENGLISH_STOPWORDS = frozenset(_STOP.split())  # the usual English list (NLTK's core)
STOPWORDS = ENGLISH_STOPWORDS | {"tell", "know", "remember", "thing", "things"}  # + chat words


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


def tokens(text: str) -> list[str]:
    """The stemmed content words of `text`, in order (repeats kept: they are term frequency)."""
    return [
        stem(w) if w.isalpha() else w  # numbers and codes are not stemmed (nor cached)
        for w in _WORD.findall(text.lower())
        if w not in STOPWORDS
    ]


def idf(docs: int, containing: int) -> float:
    """BM25 inverse document frequency (the non-negative Lucene form)."""
    return math.log(1.0 + (docs - containing + 0.5) / (containing + 0.5))


__all__ = ["ENGLISH_STOPWORDS", "K1", "STOPWORDS", "B", "idf", "stem", "tokens"]
