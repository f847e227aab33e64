"""Races on purpose: the same work on several threads released at the same instant."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def all_at_once(count: int, work: Callable[[], T]) -> list[T]:
    """`work()` on `count` threads that a barrier releases together; what each returned (an
    exception in any thread is raised here)."""
    barrier = threading.Barrier(count)

    def run(_: int) -> T:
        barrier.wait(timeout=30)
        return work()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))
