"""Run a coroutine to completion from a synchronous test, whatever else holds the main thread's loop.

The browser tests' session-wide Playwright keeps an event loop running in the main thread until the
session ends, so a plain `asyncio.run` in a later test fails; a short-lived thread has no loop.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Coroutine, TypeVar

T = TypeVar("T")


def run_to_completion(coroutine: Coroutine[Any, Any, T]) -> T:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
