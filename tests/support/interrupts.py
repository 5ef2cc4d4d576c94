"""Interrupting a real kernel at the moment an output shows (tests and benchmarks)."""

from __future__ import annotations

import threading
import time


class Interrupter:
    """Interrupts the kernel once, when the first output matching ``trigger`` arrives."""

    def __init__(self, km, trigger) -> None:
        self.km = km
        self.trigger = trigger
        self.sent_at: float | None = None
        self._lock = threading.Lock()

    def __call__(self, output) -> None:
        with self._lock:
            if self.sent_at is None and self.trigger(output):
                self.sent_at = time.monotonic()
                threading.Thread(target=self.km.interrupt_kernel, daemon=True).start()
