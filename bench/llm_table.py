"""Print the Markdown table for docs/benchmarks.md from bench/results/llm.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path

path = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results/llm.json")
data = json.loads(path.read_text())
print(
    "| profile | TTFT first turn | TTFT later turns (median) | tokens/s (os1 / raw) "
    "| overhead ratio (os1/raw time) | identical replies | peak RSS |"
)
print("|---|---|---|---|---|---|---|")
for name, r in data["profiles"].items():
    print(
        f"| {name} | {r['ttft_ms_first_turn']:.0f} ms (raw {r['raw_ttft_ms_first_turn']:.0f}) "
        f"| {r['ttft_ms_later_turn']:.0f} ms (raw {r['raw_ttft_ms_later_turn']:.0f}) "
        f"| {r['tokens_per_s']:.1f} / {r['raw_tokens_per_s']:.1f} | {r['overhead_ratio']:.3f} "
        f"| {r['identical_replies']}/{r['turns']} | {r['peak_rss_mb']:,.0f} MB |"
    )
