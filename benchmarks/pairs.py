"""Interleaved pairs: Studio's path against the raw library call, robust enough to decide a 3 % gap.

A shared machine drifts by ±30 % within minutes, so one long run of each tells nothing. Here each
*pair* runs the raw call and Studio's path once, back to back on the same short input (the order
alternates, so neither always gets the warmer cache), and the per-pair ratio raw ÷ Studio is kept:
drift that is slower than one pair cancels out. Each run starts after :data:`GAP_S` of quiet, so a
pool still spinning from the run before (the raw call's, in the same process) does not slow it.
Printed: the median ratio, its 95 % confidence interval (which decides the goal) and the interquartile
range of single pairs (the spread), for wall seconds and for CPU seconds of this process (all its
threads: a pool that spins while it waits shows up there, not in wall time).

``--busy`` conditions run the same pairs while a child process keeps one core busy (a spinning
loop), as another program on the person's machine would.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass
class PairResults:
    """Seconds of each run, pair by pair."""

    raw_wall: list[float] = field(default_factory=list)
    raw_cpu: list[float] = field(default_factory=list)
    studio_wall: list[float] = field(default_factory=list)
    studio_cpu: list[float] = field(default_factory=list)

    def ratios(self, which: str) -> list[float]:
        """raw ÷ Studio per pair (above 1: Studio was faster), for 'wall' or 'cpu' seconds."""
        raw, ours = getattr(self, f"raw_{which}"), getattr(self, f"studio_{which}")
        return [r / s for r, s in zip(raw, ours, strict=True) if s > 0]


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


#: seconds of quiet before each timed run: a library's thread pool that spins after a run ends
#: (onnxruntime's intra-op workers spin 2**20 pauses, tens of milliseconds, before they sleep) must
#: not tax the other side's run that follows it in the same process
GAP_S = 0.1


def run_pairs(raw: Callable[[], object], studio: Callable[[], object], pairs: int, gap_s: float = GAP_S,
              place: Callable[[str, int], None] | None = None) -> PairResults:
    """``pairs`` interleaved pairs. ``place(side, pair)``, if given, runs before each run's quiet gap
    (untimed), with side "raw" or "studio": e.g. :func:`pin_both_sides` puts the heavy work of both
    runs of a pair on the same core."""
    results = PairResults()

    def quiet_then(side: str, fn: Callable[[], object], pair: int) -> tuple[float, float]:
        if place is not None:
            place(side, pair)
        time.sleep(gap_s)
        return timed(fn)

    for i in range(pairs):
        if i % 2 == 0:
            rw, rc = quiet_then("raw", raw, i)
            sw, sc = quiet_then("studio", studio, i)
        else:
            sw, sc = quiet_then("studio", studio, i)
            rw, rc = quiet_then("raw", raw, i)
        results.raw_wall.append(rw)
        results.raw_cpu.append(rc)
        results.studio_wall.append(sw)
        results.studio_cpu.append(sc)
    return results


@contextlib.contextmanager
def pin_both_sides(compute, core: int | None = None) -> Iterator[Callable[[str, int], None] | None]:
    """A ``place`` for :func:`run_pairs` when Studio runs the library call on its compute thread
    (``compute``, a :class:`~studio.engines.compute.ComputeThread`) and the raw side on this thread:
    both runs of pair *i* run on core *i* mod the cores allowed (or always on ``core``), the raw call's
    thread there, and both of Studio's threads (the engine's, which only waits and relays events, and
    the compute thread): the same core for the same work. Threads a library starts itself (a pool)
    are left alone. Everything is free to run anywhere again afterwards.

    Why: the cores of a virtual machine differ in speed (by 5–7 % measured here, and which one is
    faster changes within minutes), and a thread keeps the core it last ran on. Unpinned, this thread
    and the compute thread settled on different cores (37 pairs of 50 one way round), and the ratio
    carried the cores' difference: 0.975 one way, 0.990 the other, in the same process; and with one
    core busy, Studio's engine thread shared a core with the busy program while the raw call had one
    to itself. Yields None where threads cannot be pinned (not Linux)."""
    if not hasattr(os, "sched_setaffinity"):
        yield None
        return
    cores = sorted(os.sched_getaffinity(0))

    def place(side: str, pair: int) -> None:
        here = {core if core is not None else cores[pair % len(cores)]}
        os.sched_setaffinity(0, here)  # 0: the calling thread (Linux pins threads one by one)
        if side == "studio":
            compute.call(os.sched_setaffinity, 0, here)

    try:
        yield place
    finally:
        os.sched_setaffinity(0, set(cores))
        compute.call(os.sched_setaffinity, 0, set(cores))


def spread(values: list[float]) -> tuple[float, float, float]:
    """(median, first quartile, third quartile)."""
    if len(values) < 4:
        m = statistics.median(values)
        return m, min(values), max(values)
    q1, m, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return m, q1, q3


def median_interval(values: list[float], alpha: float = 0.05) -> tuple[float, float]:
    """A distribution-free 95 % confidence interval of the median: the order statistics x(r) and
    x(n+1-r), with r the largest rank whose binomial tail P(Bin(n, ½) < r) stays within α/2
    (e.g. the 10th and 21st of 30 pairs). Fewer than 6 pairs: the whole range."""
    ordered = sorted(values)
    n = len(ordered)
    r, tail = 0, 0.0
    while r < n // 2:
        tail += math.comb(n, r) / 2**n  # P(Bin(n, ½) = r), added up: P(Bin < r + 1)
        if tail > alpha / 2:
            break
        r += 1
    r = max(r, 1)
    return ordered[r - 1], ordered[n - r]


def verdict(values: list[float], goal: float) -> str:
    """Whether the typical ratio is at least ``goal``: "meets" when the whole confidence interval of
    the median is at or above it, "misses" when it is all below, "cannot tell" otherwise. (The
    interquartile range says how much single pairs scatter; it is not the uncertainty of the median.)"""
    low, high = median_interval(values)
    return "meets" if low >= goal else ("misses" if high < goal else "cannot tell")


def report(name: str, condition: str, results: PairResults, goal: float = 0.97) -> None:
    n = len(results.raw_wall)
    print(f"{name} · {condition} · {n} pairs")
    for which, what in (("wall", "wall s"), ("cpu", "CPU s ")):
        ratios = results.ratios(which)
        m, q1, q3 = spread(ratios)
        low, high = median_interval(ratios)
        raw_m = statistics.median(getattr(results, f"raw_{which}"))
        ours_m = statistics.median(getattr(results, f"studio_{which}"))
        print(f"  {what}: Studio speed {m:.3f}× raw (95 % CI of the median {low:.3f}–{high:.3f}; "
              f"IQR {q1:.3f}–{q3:.3f}; goal ≥ {goal}: {verdict(ratios, goal)})"
              f"   median run: raw {raw_m * 1000:.1f} ms, Studio {ours_m * 1000:.1f} ms")


def _spin(stop) -> None:  # pragma: no cover - runs in the child
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


@contextlib.contextmanager
def one_core_busy() -> Iterator[None]:
    """A child process spinning on one core for the duration of the block."""
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    child = ctx.Process(target=_spin, args=(stop,), daemon=True)
    child.start()
    time.sleep(0.3)  # let it reach its loop
    try:
        yield
    finally:
        stop.set()
        child.join(5)
        if child.is_alive():
            child.kill()


def conditions(names: str) -> Iterator[tuple[str, contextlib.AbstractContextManager]]:
    """``'idle,busy'`` → ('idle', a no-op) and ('one core busy', :func:`one_core_busy`)."""
    for name in (n.strip() for n in names.split(",") if n.strip()):
        if name == "idle":
            yield "idle", contextlib.nullcontext()
        elif name == "busy":
            yield "one core busy", one_core_busy()
        else:
            raise SystemExit(f"unknown condition {name!r}: use idle, busy or idle,busy")
