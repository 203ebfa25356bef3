"""Driving an engine generator by hand (tests, benchmarks)."""

from __future__ import annotations


def collect(gen, on_event=None):
    """Run an engine generator to its end: (every event it yielded, the stats it returned)."""
    events = []
    while True:
        try:
            ev = next(gen)
        except StopIteration as stop:
            return events, stop.value
        events.append(ev)
        if on_event:
            on_event(ev)
