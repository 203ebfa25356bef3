"""The job queue with a scripted fake engine: a handle per job, queue order, cancel (queued and
running), previews, errors carried with their kind, signals in order on the handle and the queue."""

from __future__ import annotations

import threading

import pytest
from PIL import Image
from PySide6.QtCore import QObject, Signal, Slot

from studio.engines.base import Runtime
from studio.errors import NotDownloaded, UnsafeModelFile
from studio.events import Notice, Output, Preview, Progress, Status, TextStats, Token, VoiceList
from studio.jobs import CANCELLED, FAILED, FINISHED, JobError, JobHandle, JobQueue
from studio.requests import ChatMessage, ImageRequest, TextRequest
from tests.fake_engine import FakeEngine, Script


class HandleLog(QObject):
    """Every signal of one JobHandle, in order, with its payload and thread."""

    def __init__(self, handle: JobHandle, shared: list | None = None) -> None:
        super().__init__()
        self.log: list[tuple[str, object]] = []
        self.shared = shared
        self.threads: set = set()
        for name in ("started", "progress", "status", "notice", "token", "preview", "voices", "output", "finished",
                     "cancelled", "failed"):
            getattr(handle, name).connect(getattr(self, "on_" + name))

    def _rec(self, name, payload=None):
        self.log.append((name, payload))
        self.threads.add(threading.current_thread())
        if self.shared is not None:
            self.shared.append("handle." + name)

    @Slot()
    def on_started(self): self._rec("started")
    @Slot(object)
    def on_progress(self, p): self._rec("progress", p)
    @Slot(str)
    def on_status(self, m): self._rec("status", m)
    @Slot(str)
    def on_notice(self, m): self._rec("notice", m)
    @Slot(object)
    def on_voices(self, v): self._rec("voices", v)
    @Slot(object)
    def on_token(self, t): self._rec("token", t)
    @Slot(object)
    def on_preview(self, p): self._rec("preview", p)
    @Slot(object)
    def on_output(self, o): self._rec("output", o)
    @Slot(object)
    def on_finished(self, r): self._rec("finished", r)
    @Slot(object)
    def on_cancelled(self, r): self._rec("cancelled", r)
    @Slot(object)
    def on_failed(self, e): self._rec("failed", e)

    def names(self):
        return [n for n, _ in self.log]

    def payload(self, name):
        return next(p for n, p in self.log if n == name)


class QueueLog(QObject):
    def __init__(self, jobs: JobQueue, shared: list) -> None:
        super().__init__()
        self.shared = shared
        jobs.job_started.connect(self.on_started)
        jobs.job_finished.connect(self.on_finished)
        jobs.job_failed.connect(self.on_failed)
        self.failed: list = []

    @Slot(str)
    def on_started(self, job_id): self.shared.append("queue.started")
    @Slot(str, object)
    def on_finished(self, job_id, result): self.shared.append("queue.finished")
    @Slot(str, object)
    def on_failed(self, job_id, error):
        self.shared.append("queue.failed")
        self.failed.append((job_id, error))


def text(model: str) -> TextRequest:
    return TextRequest(messages=(ChatMessage("user", "hi"),), model=model)


def image(model: str) -> ImageRequest:
    return ImageRequest(prompt="a fox", model=model, width=64, height=64)


@pytest.fixture
def fake():
    return FakeEngine()


@pytest.fixture
def jobs(qtbot, library, fake):
    queue = JobQueue(library, lambda: Runtime(device="cpu"), engine_factory=fake)
    yield queue
    assert queue.shutdown(10_000)


def test_handle_signals_in_order_before_the_queues(qtbot, jobs, fake, library):
    fake.scripts["chat"] = Script(
        [Status("Loading…"), Notice("on the CPU"), VoiceList("v", ("alice",)), Token("Hel", 1, 10.0, 5, 256),
         Progress(1, 2), Token("lo", 2, 10.0, 6, 256), Progress(2, 2), Output("text", "Hello", {"reply": "Hello"})],
        result=TextStats(tokens=2),
    )
    order: list[str] = []
    queue_log = QueueLog(jobs, order)
    handle = jobs.submit(text("chat"))
    log = HandleLog(handle, order)
    assert isinstance(handle, JobHandle) and handle.request.model == "chat" and handle.id.startswith("job-")
    with qtbot.waitSignal(handle.finished, timeout=10_000) as done:
        pass
    assert log.names() == ["started", "status", "notice", "voices", "token", "progress", "token", "progress",
                           "output", "finished"]
    assert log.payload("voices").speakers == ("alice",)
    assert [t.text for n, t in log.log if n == "token"] == ["Hel", "lo"]
    assert log.payload("notice") == "on the CPU"
    saved = log.payload("output")
    assert saved.path.exists() and library.items("text")[0].path == saved.path
    assert done.args[0].stats == TextStats(tokens=2) and done.args[0].items == [saved]
    assert log.threads == {threading.main_thread()}
    # for each event the handle's signal comes first, then the queue's
    ends = [o for o in order if o.endswith(("started", "finished"))]
    assert ends == ["handle.started", "queue.started", "handle.finished", "queue.finished"]
    assert handle.state == FINISHED and jobs.handle(handle.id) is handle
    assert queue_log.failed == []


def test_jobs_run_one_at_a_time_in_submit_order(qtbot, jobs, fake):
    fake.default = Script([(0.02, Progress(1, 1))])
    handles = [jobs.submit(text(f"m{i}")) for i in range(4)]
    with qtbot.waitSignal(handles[-1].finished, timeout=10_000):
        pass
    assert fake.ran == ["m0", "m1", "m2", "m3"]
    assert [h.state for h in handles] == [FINISHED] * 4
    assert len(fake.threads) == 1 and threading.main_thread().name not in fake.threads


def test_cancel_a_queued_job_it_never_starts(qtbot, jobs, fake):
    fake.scripts["slow"] = Script(wait_s=0.3)
    first = jobs.submit(text("slow"))
    second = jobs.submit(text("never"))
    log = HandleLog(second)
    with qtbot.waitSignal(second.cancelled, timeout=1000):
        second.cancel()
    assert second.state == CANCELLED
    with qtbot.waitSignal(first.finished, timeout=10_000):
        pass
    assert log.names() == ["cancelled"] and "never" not in fake.ran
    second.cancel()  # a second cancel of an ended job does nothing
    assert log.names() == ["cancelled"]


def test_cancel_a_running_job_keeps_what_finished(qtbot, jobs, fake, library):
    picture = Image.new("RGB", (8, 8), "red")
    fake.scripts["batches"] = Script(
        [Progress(1, 3), Output("image", picture, {"prompt": "a fox"}), (0.05, Progress(2, 3)), (10.0, Progress(3, 3))]
    )
    handle = jobs.submit(image("batches"))
    log = HandleLog(handle)
    qtbot.waitUntil(lambda: log.names().count("progress") == 2, timeout=10_000)
    with qtbot.waitSignal(handle.cancelled, timeout=2000) as done:
        handle.cancel()
    assert handle.state == CANCELLED
    assert log.names() == ["started", "progress", "output", "progress", "status", "cancelled"]
    assert log.log[4] == ("status", "Cancelling…")
    assert len(done.args[0].items) == 1 and len(library.items("image")) == 1


def test_previews_reach_the_handle(qtbot, jobs, fake):
    frames = [Preview(image=Image.new("RGB", (4, 4), c), step=i + 1) for i, c in enumerate(("red", "green"))]
    fake.scripts["previews"] = Script([(0.01, frames[0]), (0.01, frames[1])])
    handle = jobs.submit(image("previews"))
    log = HandleLog(handle)
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    assert [p.step for n, p in log.log if n == "preview"] == [1, 2]


@pytest.mark.parametrize(
    ("error", "kind", "field", "value"),
    [
        (NotDownloaded("'Big Model' is not downloaded yet.", "big-model"), "not_downloaded", "model", "big-model"),
        (UnsafeModelFile("'x.ckpt' is pickled.", "/models/x.ckpt", allowable=True), "unsafe_file", "path",
         "/models/x.ckpt"),
        (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), "out_of_memory", "modality", "image"),
        (KeyError("boom"), "internal", "error_type", "KeyError"),
    ],
)
def test_errors_reach_the_handle_with_their_kind(qtbot, jobs, fake, error, kind, field, value):
    fake.scripts["broken"] = Script([Status("Loading…")], error=error)
    order: list[str] = []
    queue_log = QueueLog(jobs, order)
    handle = jobs.submit(image("broken"))
    with qtbot.waitSignal(handle.failed, timeout=10_000) as failed:
        pass
    job_error = failed.args[0]
    assert isinstance(job_error, JobError) and job_error.kind == kind and getattr(job_error, field) == value
    assert job_error.modality == "image" and "Traceback" not in job_error.message
    assert handle.state == FAILED and jobs.job(handle.id).error == job_error.message
    assert queue_log.failed == [(handle.id, job_error)] and order[-2:] == ["queue.started", "queue.failed"]
    if kind == "out_of_memory":  # advice that names settings the Image tab really has
        assert "set Memory plan to 'model'" in job_error.message and "Lower Width, Height or Batch size" in job_error.message
    if kind == "unsafe_file":
        assert job_error.allowable is True
    # the worker goes on with the next job
    fake.scripts["fine"] = Script()
    with qtbot.waitSignal(jobs.submit(image("fine")).finished, timeout=10_000):
        pass


def test_a_broken_runtime_fails_the_job_with_its_kind(qtbot, library, fake):
    def no_runtime():
        raise NotDownloaded("The runtime needs a model that is not here.", "m")

    queue = JobQueue(library, no_runtime, engine_factory=fake)
    try:
        handle = queue.submit(text("x"))
        with qtbot.waitSignal(handle.failed, timeout=10_000) as failed:
            pass
        assert failed.args[0].kind == "not_downloaded" and failed.args[0].model == "m"
    finally:
        assert queue.shutdown(10_000)


def test_preflight_refuses_a_bad_input_at_submit_before_any_engine_runs(qtbot, jobs, fake, tmp_path):
    """An input file that cannot be used fails the job at once with the preflight's message: the
    worker (and so any model) never sees it, and the next job runs as usual."""
    import os

    from studio.requests import SpeechRequest

    os.mkfifo(tmp_path / "clip.wav")
    handle = jobs.submit(SpeechRequest(text="Hello there.", model="fine", speaker_wav=str(tmp_path / "clip.wav")))
    log = HandleLog(handle)
    with qtbot.waitSignal(handle.failed, timeout=10_000) as failed:
        pass
    error = failed.args[0]
    assert error.kind == "invalid" and "not a regular file (a pipe (FIFO))" in error.message
    assert "Error" not in error.message and "Traceback" not in error.message
    assert handle.state == FAILED and log.names() == ["failed"] and fake.ran == []
    with qtbot.waitSignal(jobs.submit(image("fine")).finished, timeout=10_000):
        pass
    assert fake.ran == ["fine"]


def test_a_request_with_invalid_values_is_still_refused_by_submit_itself(jobs):
    from studio.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match="width"):
        jobs.submit(ImageRequest(prompt="a fox", model="m", width=-64, height=64))
