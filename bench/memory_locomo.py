"""LoCoMo evidence recall for os1's long-term memory (a benchmark, not a test).

    python bench/memory_locomo.py --data ../shared/data/locomo/locomo_dev.json \
        --json bench/results/memory_locomo.json

Each conversation is ingested into a fresh OS1_HOME through the live-chat pipeline: messages
are stored in sessions dated as in the data and `LongTermMemory.observe` sees them in pairs,
as run_turn would (both speakers are people here, so both are stored as `user` messages with
the speaker's name). Model-based extraction is OFF for this benchmark (one embedded-model call
per message would take hours on 2 shared cores); deterministic extraction, summaries and
reflections run. For each question with evidence, the memory's recall (the same path as
`notes_for`) is mapped to turns (a fact counts as the turn it came from; summaries and
reflections count only at session level) and evidence recall@k is reported per category,
next to plain BM25-over-turns baselines computed in the same run over the same "Speaker: text
[shares a photo: caption]" turns: `bm25_*` (Okapi as rank_bm25 computes it, k1 = 1.5, b = 0.75,
over a standard English analyser: lower-cased words, English stop words out, Snowball stems)
and `bm25_words_*` (the same over every lower-cased word: question words such as "what did"
then match every turn). `retrieval_ms_*` times `notes_for` (what a chat turn waits for: recall
of its RECALL_K notes, as in bench/memory_scale.py); recall@k is scored on a deeper `recall`
with the same ranking. The data is read in place.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from os1.memory import LongTermMemory
from os1.memory.embedder import shared_embedder
from os1.memory.lexical import ENGLISH_STOPWORDS, stem
from os1.persona.identity import ONBOARDED, Identity
from os1.storage.accounts import Accounts

TURN_KS = (1, 5, 10, 20)
TUNED = range(3)  # retrieval weights were tuned on conversations 0-2; 3-5 are held out
SESSION_KS = (1, 3, 5, 10)
_WORD = re.compile(r"\w+")


def turn_text(turn: dict[str, Any]) -> str:
    text = str(turn["text"])
    if turn.get("blip_caption"):
        text += f" [shares a photo: {turn['blip_caption']}]"
    return text


def session_of(dia_id: str) -> str:
    return dia_id.split(":")[0]


class BM25:
    """Okapi BM25 as rank_bm25's BM25Okapi computes it (k1 = 1.5, b = 0.75; idf
    log((N - n + 0.5) / (n + 0.5)), with negative idf floored at 0.25 × the mean idf), over the
    documents' and the query's tokens (`analyse`)."""

    def __init__(self, docs: list[str], analyse: Callable[[str], list[str]]) -> None:
        self.analyse = analyse
        self.tokens = [analyse(d) for d in docs]
        self.k1, self.b = 1.5, 0.75
        self.avg = sum(map(len, self.tokens)) / max(1, len(self.tokens))
        df: Counter[str] = Counter()
        for toks in self.tokens:
            df.update(set(toks))
        n = len(docs)
        raw = {t: math.log(n - f + 0.5) - math.log(f + 0.5) for t, f in df.items()}
        floor = 0.25 * sum(raw.values()) / max(1, len(raw))
        self.idf = {t: v if v >= 0 else floor for t, v in raw.items()}
        self.tf = [Counter(t) for t in self.tokens]

    def rank(self, query: str) -> list[int]:
        q = self.analyse(query)
        scores = []
        for i, tf in enumerate(self.tf):
            norm = self.k1 * (1 - self.b + self.b * len(self.tokens[i]) / self.avg)
            s = sum(
                self.idf.get(t, 0) * tf[t] * (self.k1 + 1) / (tf[t] + norm) for t in q if t in tf
            )
            scores.append(s)
        return sorted(range(len(scores)), key=lambda i: -scores[i])


def words(text: str) -> list[str]:
    """Lower-cased word tokens, nothing removed."""
    return _WORD.findall(text.lower())


def english(text: str) -> list[str]:
    """Lower-cased word tokens less English stop words, Snowball-stemmed (a standard English
    analyser, as in Lucene's or Pyserini's BM25 baselines)."""
    return [stem(w) for w in words(text) if w not in ENGLISH_STOPWORDS]


def sessions(conv: dict[str, Any]) -> list[tuple[datetime, list[dict[str, Any]]]]:
    out = []
    n = 1
    while f"session_{n}" in conv:
        when = datetime.strptime(conv[f"session_{n}_date_time"], "%I:%M %p on %d %B, %Y")
        out.append((when.replace(tzinfo=UTC), conv[f"session_{n}"]))
        n += 1
    return out


def recall(found: list[str], gold: set[str], k: int) -> float:
    return len(gold & set(found[:k])) / len(gold)


async def run_conversation(sample: dict[str, Any], out: dict[str, Any], number: int) -> None:
    conv = sample["conversation"]
    with tempfile.TemporaryDirectory() as home:
        accounts = Accounts(Path(home))
        user = accounts.create_user(conv["speaker_a"])
        store = accounts.open_store(user)
        store.save_identity(
            Identity(
                os_name=conv["speaker_b"],
                voice="joe",
                user_name=conv["speaker_a"],
                onboarding_step=ONBOARDED,
            )
        )
        memory = LongTermMemory(store, shared_embedder(), None, model_extraction="off")
        dia_of: dict[int, str] = {}
        texts: list[str] = []
        dia_ids: list[str] = []
        started = time.perf_counter()
        last = datetime.now(UTC)
        for when, turns in sessions(conv):
            sid = store.start_session(started_at=when.isoformat())
            pending = []
            for i, turn in enumerate(turns):
                created = (when + timedelta(seconds=30 * i)).isoformat()
                m = store.add_message(
                    sid,
                    "user",
                    turn_text(turn),
                    meta={"speaker": turn["speaker"]},
                    created_at=created,
                )
                dia_of[m.id] = turn["dia_id"]
                texts.append(f"{turn['speaker']}: {turn_text(turn)}")
                dia_ids.append(turn["dia_id"])
                pending.append(m)
                if len(pending) == 2:
                    await memory.observe(pending)
                    pending = []
            if pending:
                await memory.observe(pending)
            last = when
        out["ingest_s"] += time.perf_counter() - started
        out["turns"] += len(texts)
        baselines = {"bm25": BM25(texts, english), "bm25_words": BM25(texts, words)}
        now = last + timedelta(days=1)
        for qa in sample["qa"]:
            gold = {e.strip() for e in qa.get("evidence", []) if re.match(r"D\d+:\d+$", e.strip())}
            if not gold:
                continue
            t0 = time.perf_counter()
            await memory.notes_for(str(qa["question"]), now)  # timed: the live-chat path
            out["latency_ms"].append((time.perf_counter() - t0) * 1000)
            hits = memory.recall(str(qa["question"]), now, k=40)  # scored: its ranking, deeper
            turns_found: list[str] = []
            sessions_found: list[str] = []
            for hit in hits:
                dias = [dia_of[s] for s in hit.memory.sources if s in dia_of]
                for d in dias:
                    if session_of(d) not in sessions_found:
                        sessions_found.append(session_of(d))
                if hit.memory.kind in ("turn", "fact"):
                    turns_found.extend(d for d in dias if d not in turns_found)
            gold_sessions = {session_of(g) for g in gold}
            row = {"category": int(qa["category"]), "conversation": number}
            for k in TURN_KS:
                row[f"turn_recall@{k}"] = recall(turns_found, gold, k)
            for k in SESSION_KS:
                row[f"session_recall@{k}"] = recall(sessions_found, gold_sessions, k)
            for name, bm25 in baselines.items():
                base = [dia_ids[i] for i in bm25.rank(str(qa["question"]))[:40]]
                base_sessions = list(dict.fromkeys(session_of(d) for d in base))
                for k in TURN_KS:
                    row[f"{name}_turn_recall@{k}"] = recall(base, gold, k)
                for k in SESSION_KS:
                    row[f"{name}_session_recall@{k}"] = recall(base_sessions, gold_sessions, k)
            out["rows"].append(row)
        memory.close()
        accounts.close()


def summarise(out: dict[str, Any]) -> dict[str, Any]:
    rows = out["rows"]
    keys = [k for k in rows[0] if k not in ("category", "conversation")]
    result: dict[str, Any] = {
        "questions": len(rows),
        "conversations": out["conversations"],
        "turns": out["turns"],
        "model_extraction": "off (deterministic extractors, summaries and reflections only)",
        "embedder": "all-MiniLM-L6-v2 int8 ONNX",
    }
    for key in keys:
        result[key] = round(statistics.mean(r[key] for r in rows), 4)
        by_cat: dict[int, list[float]] = defaultdict(list)
        for r in rows:
            by_cat[r["category"]].append(r[key])
        result[f"{key}_by_category"] = {
            str(c): round(statistics.mean(v), 4) for c, v in sorted(by_cat.items())
        }
    for part, numbers in (("tuned", TUNED), ("heldout", range(len(TUNED), 99))):
        subset = [r for r in rows if r["conversation"] in numbers]
        if not subset:
            continue
        result[f"questions_{part}"] = len(subset)
        keys = (
            "turn_recall@10",
            "session_recall@5",
            "bm25_turn_recall@10",
            "bm25_session_recall@5",
        )
        for key in keys:
            result[f"{key}_{part}"] = round(statistics.mean(r[key] for r in subset), 4)
        result[f"turn_recall@10_by_category_{part}"] = {
            str(c): round(
                statistics.mean(r["turn_recall@10"] for r in subset if r["category"] == c), 4
            )
            for c in sorted({r["category"] for r in subset})
        }
    result["questions_by_category"] = dict(
        sorted(Counter(str(r["category"]) for r in rows).items())
    )
    lat = sorted(out["latency_ms"])
    result["ingest_ms_per_turn"] = round(out["ingest_s"] * 1000 / out["turns"], 2)
    result["retrieval_ms_p50"] = round(statistics.median(lat), 2)
    result["retrieval_ms_p95"] = round(lat[int(0.95 * (len(lat) - 1))], 2)
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--limit", type=int, default=0, help="only the first N conversations")
    args = parser.parse_args()
    data = json.loads(args.data.read_text())
    if args.limit:
        data = data[: args.limit]
    out: dict[str, Any] = {
        "rows": [],
        "latency_ms": [],
        "ingest_s": 0.0,
        "turns": 0,
        "conversations": len(data),
    }
    shared_embedder().embed(["warm up"])
    for number, sample in enumerate(data):
        await run_conversation(sample, out, number)
    result = summarise(out)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    asyncio.run(main())
