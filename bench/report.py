"""One JSON line per benchmark figure, the format `make bench` prints and the README table copies."""

import json
import platform
import statistics
import time
from collections.abc import Callable


def machine() -> str:
    import os

    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def emit(name: str, value: float, unit: str, goal: str, baseline: float | None, met: bool, **extra) -> dict:
    """Print the figure; `ratio` is value / baseline (how far ours is from the bare version)."""
    line = {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "goal": goal,
        "baseline": None if baseline is None else round(baseline, 3),
        "ratio": None if not baseline else round(value / baseline, 3),
        "met": bool(met),
        "machine": machine(),
        **extra,
    }
    print(json.dumps(line, ensure_ascii=False), flush=True)
    return line


def per_second(work: Callable[[], object], *, seconds: float = 3.0, warmup: int = 3) -> float:
    """Calls per second of `work`, median of five equal slices after a warm-up."""
    for _ in range(warmup):
        work()
    rates = []
    for _ in range(5):
        done, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds / 5:
            work()
            done += 1
        rates.append(done / elapsed)
    return statistics.median(rates)


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]
