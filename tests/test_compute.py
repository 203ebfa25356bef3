"""The compute thread's streaming hand-off: order, return value, errors, cancel, early close, re-entrancy."""

from __future__ import annotations

import threading
import time

import pytest

from studio.cancel import CancelToken
from studio.engines.compute import ComputeThread
from studio.errors import Cancelled, InvalidRequest


def run_to_end(gen):
    """Drive a generator: (items, return value)."""
    items = []
    while True:
        try:
            items.append(next(gen))
        except StopIteration as stop:
            return items, stop.value


def test_items_arrive_in_order_on_the_callers_thread_and_the_value_is_returned():
    compute = ComputeThread("test-compute")
    seen_on = []

    def work(emit):
        seen_on.append(threading.current_thread().name)
        for i in range(50):
            emit(i)
        return "done"

    items, value = run_to_end(compute.stream(work))
    assert items == list(range(50)) and value == "done"
    assert seen_on == ["test-compute"]


def test_items_are_yielded_while_work_still_runs():
    compute = ComputeThread()
    release = threading.Event()

    def work(emit):
        emit("first")
        assert release.wait(5)  # blocks until the consumer has seen the first item
        emit("second")
        return 2

    gen = compute.stream(work)
    assert next(gen) == "first"
    release.set()
    assert run_to_end(gen) == (["second"], 2)


def test_works_exception_is_raised_on_the_callers_thread_with_its_type():
    compute = ComputeThread()

    def work(emit):
        emit(1)
        raise InvalidRequest("bad value")

    gen = compute.stream(work)
    assert next(gen) == 1
    with pytest.raises(InvalidRequest, match="bad value"):
        next(gen)
    assert compute.call(lambda: 5) == 5  # the compute thread goes on


def test_cancel_stops_yielding_waits_for_work_and_raises_cancelled():
    compute = ComputeThread()
    cancel = CancelToken()
    ended = threading.Event()
    emitted = []

    def work(emit):  # stops cooperatively, like a StoppingCriteria or pipe._interrupt
        for i in range(1000):
            if cancel.cancelled:
                break
            emitted.append(i)
            emit(i)
            time.sleep(0.001)
        ended.set()
        return "partial"

    gen = compute.stream(work, cancel)
    got = [next(gen), next(gen)]
    cancel.cancel()
    with pytest.raises(Cancelled):
        next(gen)
    assert ended.is_set()  # stream returned only after work ended
    assert got == [0, 1] and len(emitted) < 1000


def test_cancel_keeps_works_own_error():
    compute = ComputeThread()
    cancel = CancelToken()

    def work(emit):
        emit(1)
        cancel.cancel()
        raise MemoryError("out of memory")

    with pytest.raises(MemoryError):
        run_to_end(compute.stream(work, cancel))


def test_cancel_after_work_returned_still_raises_cancelled():
    compute = ComputeThread()
    cancel = CancelToken()

    def work(emit):
        cancel.cancel()  # asked during the last step: work ends normally
        return [1, 2]

    with pytest.raises(Cancelled):
        run_to_end(compute.stream(work, cancel))


def test_closing_the_generator_early_cancels_and_waits_for_work():
    compute = ComputeThread()
    cancel = CancelToken()
    ended = threading.Event()

    def work(emit):
        while not cancel.cancelled:
            emit("tick")
            time.sleep(0.001)
        ended.set()

    gen = compute.stream(work, cancel)
    assert next(gen) == "tick"
    gen.close()
    assert cancel.cancelled and ended.is_set()


def test_reentrant_stream_on_the_compute_thread_does_not_deadlock():
    compute = ComputeThread()

    def inner(emit):
        emit("a")
        emit("b")
        return "inner"

    def outer(emit):
        items, value = run_to_end(compute.stream(inner))  # runs here, on the compute thread
        for item in items:
            emit(item)
        return value

    assert run_to_end(compute.stream(outer)) == (["a", "b"], "inner")


def test_streams_from_two_threads_never_run_at_the_same_time():
    compute = ComputeThread()
    log = []

    def work(name):
        def run(emit):
            log.append(("start", name))
            time.sleep(0.02)
            emit(name)
            log.append(("end", name))
            return name

        return run

    results = {}

    def consume(name):
        results[name] = run_to_end(compute.stream(work(name)))

    threads = [threading.Thread(target=consume, args=(n,)) for n in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert results == {"one": (["one"], "one"), "two": (["two"], "two")}
    assert [kind for kind, _ in log] == ["start", "end", "start", "end"]  # one team of threads, no overlap
