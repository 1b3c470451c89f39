"""Handlers that misbehave on purpose, for checking the sandbox's limits (``test_sandbox.py``)."""

from __future__ import annotations

import time
from typing import Any


def allocate(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Touch ``event["mib"]`` MiB of memory, then answer."""
    held = bytearray(int(event["mib"]) * 1024 * 1024)
    for offset in range(0, len(held), 4096):  # every page resident, not merely reserved
        held[offset] = 1
    return {"mib": len(held) // (1024 * 1024)}


def compute(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Spin for ``event["seconds"]`` of CPU time, then answer."""
    end = time.process_time() + float(event["seconds"])
    while time.process_time() < end:
        pass
    return {"done": True}


def wait(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Sleep ``event["seconds"]`` (no CPU: a call that never answers), then answer."""
    time.sleep(float(event["seconds"]))
    return {"done": True}


def fail(_event: dict[str, Any], _context: Any) -> dict[str, Any]:
    raise LookupError("no such thing")


def remaining(_event: dict[str, Any], context: Any) -> dict[str, Any]:
    """What the context tells the function about its limits."""
    return {"memory": context.memory_limit_in_mb, "remainingMs": context.get_remaining_time_in_millis()}
