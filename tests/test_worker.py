"""The job queue and model worker: signal order, failures, cancel (queued and running), shutdown."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QObject, Slot

from studio.engines.base import Runtime
from studio.jobs import CANCELLED, FAILED, FINISHED, JobQueue
from studio.requests import ChatMessage, TextRequest


class Recorder(QObject):
    """Records every public signal of a JobQueue, and on which thread it arrived."""

    def __init__(self, jobs: JobQueue) -> None:
        super().__init__()
        self.log: list[tuple[str, str]] = []
        self.threads: set = set()
        self.payloads: dict[str, list] = {}
        for name in ("job_added", "job_started", "job_progress", "job_token", "job_output", "job_finished",
                     "job_cancelled", "job_failed", "job_status"):
            getattr(jobs, name).connect(getattr(self, "on_" + name))

    def _rec(self, name, job_id, payload=None):
        self.log.append((name, job_id))
        self.threads.add(threading.current_thread())
        self.payloads.setdefault(name, []).append((job_id, payload))

    @Slot(str)
    def on_job_added(self, j): self._rec("added", j)
    @Slot(str)
    def on_job_started(self, j): self._rec("started", j)
    @Slot(str, object)
    def on_job_progress(self, j, p): self._rec("progress", j, p)
    @Slot(str, object)
    def on_job_token(self, j, t): self._rec("token", j, t)
    @Slot(str, object)
    def on_job_output(self, j, o): self._rec("output", j, o)
    @Slot(str, object)
    def on_job_finished(self, j, r): self._rec("finished", j, r)
    @Slot(str, object)
    def on_job_cancelled(self, j, r): self._rec("cancelled", j, r)
    @Slot(str, object)
    def on_job_failed(self, j, e): self._rec("failed", j, e)
    @Slot(str, str)
    def on_job_status(self, j, m): self._rec("status", j, m)

    def names(self, job_id):
        return [n for n, j in self.log if j == job_id and n != "status"]


def text(model, content="hello world", **kw):
    kw.setdefault("max_new_tokens", 6)
    kw.setdefault("seed", 1)
    return TextRequest(messages=(ChatMessage("user", content),), model=model, **kw)


@pytest.fixture
def jobs(qtbot, library):
    queue = JobQueue(library, lambda: Runtime(device="cpu"))
    yield queue
    assert queue.shutdown(10_000)


def test_signals_arrive_in_order_on_the_main_thread(qtbot, jobs, tiny_llm, library):
    rec = Recorder(jobs)
    with qtbot.waitSignal(jobs.job_finished, timeout=60_000):
        job_id = jobs.submit(text(tiny_llm)).id
    names = rec.names(job_id)
    assert names[0] == "added" and names[1] == "started"
    assert names[-2:] == ["output", "finished"]
    middle = names[2:-2]
    assert middle.count("token") >= 6 and middle.count("progress") >= 1  # a token each; progress ≤ 10 Hz
    assert rec.threads == {threading.main_thread()}
    assert jobs.job(job_id).state == FINISHED
    saved = library.items("text")
    assert len(saved) == 1 and saved[0].job_id == job_id and saved[0].path.exists()


def test_bad_model_fails_with_clear_message_and_next_job_runs(qtbot, jobs, tiny_llm, tmp_path):
    rec = Recorder(jobs)
    bad = jobs.submit(text(str(tmp_path / "missing-model.gguf"))).id
    with qtbot.waitSignal(jobs.job_finished, timeout=60_000):
        good = jobs.submit(text(tiny_llm)).id
    assert jobs.job(bad).state == FAILED
    error = dict(rec.payloads["failed"])[bad]
    assert error.kind == "not_found" and error.modality == "text" and error.error_type == "ModelNotFound"
    assert "No model file or folder" in error.message and "Traceback" not in error.message
    assert jobs.job(good).state == FINISHED


def test_cancelling_a_queued_job_never_starts_it(qtbot, jobs, tiny_llm):
    rec = Recorder(jobs)
    first = jobs.submit(text(tiny_llm, max_new_tokens=40)).id
    second = jobs.submit(text(tiny_llm)).id
    jobs.cancel(second)
    assert jobs.job(second).state == CANCELLED
    third = jobs.submit(text(tiny_llm)).id
    with qtbot.waitSignal(jobs.job_finished, check_params_cb=lambda j, r: j == third, timeout=60_000):
        pass
    assert "started" not in rec.names(second)
    assert rec.names(second) == ["added", "cancelled"]
    assert jobs.job(first).state == FINISHED


def test_cancel_running_job_keeps_partial_reply(qtbot, jobs, tiny_llm, library):
    rec = Recorder(jobs)
    job_id = jobs.submit(text(tiny_llm, max_new_tokens=5000)).id
    qtbot.waitUntil(lambda: "token" in rec.names(job_id), timeout=60_000)
    with qtbot.waitSignal(jobs.job_cancelled, timeout=30_000):
        jobs.cancel(job_id)
    assert jobs.job(job_id).state == CANCELLED
    tokens = [p for j, p in rec.payloads["token"] if j == job_id]
    assert tokens[-1].count < 5000
    saved = library.items("text")
    assert saved and saved[0].params["stats"]["stopped"] is True


def test_invalid_request_is_rejected_at_submit(jobs):
    from studio.errors import InvalidRequest

    with pytest.raises(InvalidRequest):
        jobs.submit(TextRequest(messages=(ChatMessage("user", ""),)))
    assert jobs.jobs() == []


def test_unload_frees_the_cache(qtbot, jobs, tiny_llm):
    with qtbot.waitSignal(jobs.job_finished, timeout=60_000):
        jobs.submit(text(tiny_llm))
    assert len(jobs.worker.runtime.cache) == 1
    jobs.unload_models()
    qtbot.waitUntil(lambda: len(jobs.worker.runtime.cache) == 0, timeout=10_000)


def test_nothing_starts_after_shutdown(qtbot, library, tiny_llm):
    from studio.errors import StudioError

    queue = JobQueue(library, lambda: Runtime(device="cpu"))
    assert queue.shutdown(1000)
    queue.run_in_worker(lambda rt: None)  # e.g. a late timer after the window closed
    assert not queue.worker.isRunning()
    with pytest.raises(StudioError, match="shutting down"):
        queue.submit(text(tiny_llm))


def test_a_dropped_queue_stops_its_worker(qtbot, library):
    """A JobQueue garbage-collected with a running worker must not abort the process."""
    import gc
    import weakref

    from studio.jobs.worker import ModelWorker

    queue = JobQueue(library, lambda: Runtime(device="cpu"))
    queue.run_in_worker(lambda rt: None)
    qtbot.waitUntil(queue.worker.isRunning)
    worker = weakref.ref(queue.worker)
    del queue
    gc.collect()
    assert worker() is None or not worker().isRunning()
    assert not [w for w in gc.get_objects() if type(w) is ModelWorker and w.isRunning()]
