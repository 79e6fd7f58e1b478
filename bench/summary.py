"""`make bench`: the event-path benchmarks, one after the other, and ONE table of what they measured.

Runs bench/consumer.py, bench/events.py and bench/latency.py (each starts its own embedded PostgreSQL and broker),
then prints each figure with its goal (issue 16) and its ratio to the baseline measured in the same run: raw aiokafka
for throughput, the idle figure for the latency during a burst. The machine is shared: the load average is printed
with the table. Usage: .venv/bin/python bench/summary.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(script: str, out: Path, *args: str) -> dict:
    print(f"--- {script} {' '.join(args)}", flush=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, str(HERE / script), "--json", str(out), *args], check=True,
                   stderr=subprocess.DEVNULL)
    print(f"    ({time.perf_counter() - started:.0f} s)", flush=True)
    return json.loads(out.read_text())


def main() -> None:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-summary-") as tmp:
        consumer = run("consumer.py", Path(tmp) / "consumer.json")
        events = run("events.py", Path(tmp) / "events.json")
        latency = run("latency.py", Path(tmp) / "latency.json")
    rate = latency["burst_events"] / latency["burst_drained_s"]
    idle, burst = latency["idle_p99_ms"], latency["burst_p99_ms"]
    rows = [
        ("subsidy inbox consumer (events/s)", f"{consumer['inbox_per_s']:,.0f}", ">= 10,000",
         f"raw consume + parse {consumer['raw_per_s']:,.0f}", f"{consumer['inbox_per_s'] / consumer['raw_per_s']:.2f}"),
        (f"outbox -> relay -> broker -> inbox, {events['writers']} writers (events/s)",
         f"{events['ours']['e2e_per_s']:,.0f}", ">= 0.25 of raw",
         f"raw produce + consume {events['raw']['e2e_per_s']:,.0f}",
         f"{events['ours']['e2e_per_s'] / events['raw']['e2e_per_s']:.2f}"),
        ("certificate -> eligibility at idle, p99 (ms)", f"{idle:,.0f}", "<= 250", "-", "-"),
        (f"... during a {latency['burst_events']:,}-event burst, p99 (ms)", f"{burst:,.0f}", "<= 2,000",
         f"idle p99 {idle:,.0f}", f"{burst / idle:.1f}"),
        ("100,000 service months drained, at the burst's rate (s)", f"{100_000 / rate:,.0f}", "<= 20",
         f"{rate:,.0f} events/s written, relayed, applied", "-"),
    ]
    table = [("figure", "measured", "goal", "baseline (same run)", "ratio"), *rows]
    widths = [max(len(r[i]) for r in table) for i in range(5)]
    print()
    for i, row in enumerate(table):
        cells = [c.ljust(w) if j in (0, 3) else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths, strict=True))]
        print("  ".join(cells))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    after = os.getloadavg()[0]
    print(f"\nload average (1 min) before: {load_before:.1f}, after: {after:.1f}, on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
