"""A queue that survives: written down at every change, back after a restart or a crash (SIGKILL in a
child process), paused after a crash with the running job marked interrupted; pause/resume, reorder,
retry; a damaged queue file set aside with a message."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Slot

from studio.engines.base import Runtime
from studio.jobs import FAILED, FINISHED, QUEUED, RUNNING, JobQueue
from studio.jobs.persist import QueueFile, decode_request, encode_request
from studio.requests import ChatMessage, ImageRequest, InpaintRequest, LoraSpec, MusicRequest, SpeechRequest, TextRequest
from tests.fake_engine import FakeEngine, Script

ROOT = Path(__file__).resolve().parent.parent


def text(model: str) -> TextRequest:
    return TextRequest(messages=(ChatMessage("user", "hi"),), model=model)


@pytest.fixture
def fake():
    return FakeEngine()


def make_queue(library, fake, state_file):
    return JobQueue(library, lambda: Runtime(device="cpu"), engine_factory=fake, state_file=state_file)


@pytest.fixture
def queue_file(tmp_path):
    return tmp_path / "queue.json"


class Ends(QObject):
    def __init__(self, jobs) -> None:
        super().__init__()
        self.ended: list[str] = []
        jobs.job_finished.connect(self.on_end)
        jobs.job_failed.connect(self.on_end)

    @Slot(str, object)
    def on_end(self, job_id, payload):
        self.ended.append(job_id)


def test_every_request_kind_is_written_and_read_back():
    requests = [
        TextRequest(messages=(ChatMessage("system", "s"), ChatMessage("user", "hé \u2603")), model="m", seed=5,
                    temperature=0.3, conversation_id="c1"),
        ImageRequest(prompt="a fox", model="sd", width=64, height=64, seed=None,
                     loras=(LoraSpec("/x/a.safetensors", 0.5),)),
        InpaintRequest(image="/p.png", mask="/m.png", generation=ImageRequest(prompt="", model="sd", seed=3)),
        SpeechRequest(text="hello", speed=1.5),
        MusicRequest(prompt="jazz", duration_s=4.0, seed=2),
    ]
    for request in requests:
        back = decode_request(json.loads(json.dumps(encode_request(request))))
        assert back == request and type(back) is type(request)


def test_pause_resume_and_reorder(qtbot, library, fake, queue_file):
    fake.default = Script(wait_s=0.05)
    jobs = make_queue(library, fake, queue_file)
    try:
        jobs.pause()
        handles = [jobs.submit(text(f"m{i}")) for i in range(4)]
        qtbot.wait(200)
        assert fake.ran == [] and [h.state for h in handles] == [QUEUED] * 4  # paused: nothing starts
        assert jobs.move(handles[3].id, -3) and not jobs.move(handles[3].id, -1)  # to the front; no further
        assert jobs.move(handles[0].id, 1)
        assert jobs.queued_ids() == [handles[3].id, handles[1].id, handles[0].id, handles[2].id]
        saved = json.loads(queue_file.read_text())
        assert saved["paused"] is True
        assert [j["id"] for j in saved["jobs"]] == jobs.queued_ids()  # the order is written down too
        jobs.resume()
        with qtbot.waitSignal(handles[2].finished, timeout=10_000):
            pass
        assert fake.ran == ["m3", "m1", "m0", "m2"]
        assert json.loads(queue_file.read_text())["jobs"] == []  # done jobs are not kept
    finally:
        assert jobs.shutdown(10_000)


def test_pause_lets_the_running_job_finish(qtbot, library, fake, queue_file):
    fake.default = Script(wait_s=0.3)
    jobs = make_queue(library, fake, queue_file)
    try:
        first, second = jobs.submit(text("a")), jobs.submit(text("b"))
        qtbot.waitUntil(lambda: first.state == RUNNING, timeout=10_000)
        jobs.pause()
        with qtbot.waitSignal(first.finished, timeout=10_000):
            pass
        qtbot.wait(300)
        assert second.state == QUEUED and fake.ran == ["a"]
        jobs.resume()
        with qtbot.waitSignal(second.finished, timeout=10_000):
            pass
    finally:
        assert jobs.shutdown(10_000)


def test_retry_a_failed_job(qtbot, library, fake, queue_file):
    fake.scripts["broken"] = Script(error=RuntimeError("the GPU fell over"))
    jobs = make_queue(library, fake, queue_file)
    try:
        handle = jobs.submit(text("broken"))
        with qtbot.waitSignal(handle.failed, timeout=10_000):
            pass
        assert [j["state"] for j in json.loads(queue_file.read_text())["jobs"]] == [FAILED]  # kept to retry
        fake.scripts["broken"] = Script()  # fixed
        again = jobs.retry(handle.id)
        assert again is not None and again.id != handle.id and jobs.job(handle.id) is None
        with qtbot.waitSignal(again.finished, timeout=10_000):
            pass
        assert jobs.retry(again.id) is None  # a finished job is not retried
    finally:
        assert jobs.shutdown(10_000)


def test_a_clean_exit_brings_queued_and_running_jobs_back(qtbot, library, fake, queue_file):
    fake.default = Script(wait_s=30)  # the first job is still running when the app closes
    jobs = make_queue(library, fake, queue_file)
    first, second = jobs.submit(text("a")), jobs.submit(text("b"))
    qtbot.waitUntil(lambda: first.state == RUNNING, timeout=10_000)
    assert jobs.shutdown(10_000)
    saved = json.loads(queue_file.read_text())
    assert saved["clean_exit"] is True
    assert [(j["id"], j["state"]) for j in saved["jobs"]] == [(first.id, QUEUED), (second.id, QUEUED)]

    fake2 = FakeEngine(default=Script())
    again = make_queue(library, fake2, queue_file)
    try:
        assert not again.paused and again.restore_message == ""
        with qtbot.waitSignal(again.job_finished, timeout=10_000, check_params_cb=lambda j, r: j == second.id):
            pass
        assert fake2.ran == ["a", "b"]
        new = again.submit(text("c"))
        assert new.id not in (first.id, second.id)  # ids go on after the restored ones
        with qtbot.waitSignal(new.finished, timeout=10_000):
            pass
    finally:
        assert again.shutdown(10_000)


CHILD = r"""
import sys, time
from PySide6.QtCore import QCoreApplication, QTimer
from studio.engines.base import Runtime
from studio.jobs import JobQueue
from studio.library.store import Library
from studio.requests import ChatMessage, TextRequest
from tests.fake_engine import FakeEngine, Script

app = QCoreApplication([])
fake = FakeEngine({"crash-me": Script(wait_s=120)}, default=Script())
jobs = JobQueue(Library(sys.argv[1]), lambda: Runtime(device="cpu"), engine_factory=fake, state_file=sys.argv[2])
for model in ("crash-me", "next-1", "next-2"):
    jobs.submit(TextRequest(messages=(ChatMessage("user", "hi " + model),), model=model))
app.exec()
"""


def test_sigkill_mid_job_comes_back_paused_with_the_job_interrupted(qtbot, library, fake, queue_file):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(library.root), str(queue_file)], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                states = [j["state"] for j in json.loads(queue_file.read_text())["jobs"]]
            except (OSError, ValueError, KeyError):
                states = []
            if states[:1] == [RUNNING]:
                break
            assert child.poll() is None, child.stderr.read().decode()
            time.sleep(0.05)
        else:
            pytest.fail("the child never started its job")
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL

    jobs = make_queue(library, fake, queue_file)
    try:
        assert jobs.paused  # a job that crashed Studio must not run again by itself
        assert "interrupted" in jobs.restore_message and "paused" in jobs.restore_message
        restored = jobs.jobs()
        assert [(j.request.model, j.state) for j in restored] == [
            ("crash-me", "interrupted"), ("next-1", QUEUED), ("next-2", QUEUED)]
        assert restored[0].error and restored[0].request.messages[0].content == "hi crash-me"
        qtbot.wait(300)
        assert fake.ran == []  # paused: nothing started
        ends = Ends(jobs)
        jobs.resume()
        qtbot.waitUntil(lambda: len(ends.ended) == 2, timeout=10_000)
        assert fake.ran == ["next-1", "next-2"]
        retried = jobs.retry(restored[0].id)
        with qtbot.waitSignal(retried.finished, timeout=10_000):
            pass
        assert fake.ran[-1] == "crash-me" and retried.state == FINISHED
    finally:
        assert jobs.shutdown(10_000)


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00garbage", b"[1, 2, 3]", b""])
def test_a_damaged_queue_file_is_set_aside_with_a_message(qtbot, library, fake, queue_file, content):
    queue_file.write_bytes(content)
    jobs = make_queue(library, fake, queue_file)
    try:
        assert jobs.jobs() == [] and jobs.paused
        assert "set aside" in jobs.restore_message
        aside = list(queue_file.parent.glob("queue.json.broken-*"))
        assert len(aside) == 1 and aside[0].read_bytes() == content
        assert json.loads(queue_file.read_text())["jobs"] == []  # a fresh, readable file
        jobs.resume()
        handle = jobs.submit(text("ok"))
        with qtbot.waitSignal(handle.finished, timeout=10_000):
            pass
    finally:
        assert jobs.shutdown(10_000)


def test_unreadable_jobs_are_dropped_and_the_rest_kept(qtbot, library, fake, queue_file):
    good = {"id": "job-7", "state": "queued", "label": "text: hi", "created": 1.0, "error": "",
            "request": encode_request(text("fine"))}
    bad = [{"id": "job-8", "state": "queued", "request": {"kind": "video", "fields": {}}},
           {"id": "job-9", "state": "queued", "request": {"kind": "text", "fields": {"messages": "nope"}}},
           {"id": "job-10", "state": "queued", "request": {"kind": "text", "fields": {"messages": []}}}]
    # job-10 can be rebuilt but is not a valid request any more: it comes back failed, with the reason
    QueueFile(queue_file).save([good, *bad], paused=True)
    jobs = make_queue(library, fake, queue_file)
    try:
        assert [(j.id, j.state) for j in jobs.jobs()] == [("job-7", QUEUED), ("job-10", FAILED)]
        assert "2 saved job(s) could not be read back" in jobs.restore_message
    finally:
        assert jobs.shutdown(10_000)


def test_queue_panel_pause_reorder_retry(qtbot, library, fake, queue_file):
    from PySide6.QtCore import Qt

    from studio.ui.queue_panel import QueuePanel

    fake.scripts["broken"] = Script(error=RuntimeError("out of luck"))
    jobs = make_queue(library, fake, queue_file)
    panel = QueuePanel(jobs)
    qtbot.addWidget(panel)
    panel.show()
    try:
        failed = jobs.submit(text("broken"))
        with qtbot.waitSignal(failed.failed, timeout=10_000):
            pass
        qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
        assert jobs.paused and panel.pause_button.text() == "Resume" and panel.paused_label.isVisible()
        a, b, c = (jobs.submit(text(m)) for m in ("a", "b", "c"))
        assert panel.order() == [a.id, b.id, c.id, failed.id]  # queued in run order, then the rest
        panel.select(c.id)
        assert panel.up_button.isEnabled() and not panel.retry_button.isEnabled()
        qtbot.mouseClick(panel.up_button, Qt.MouseButton.LeftButton)
        qtbot.mouseClick(panel.up_button, Qt.MouseButton.LeftButton)
        assert jobs.queued_ids() == [c.id, a.id, b.id] and panel.order()[:3] == [c.id, a.id, b.id]
        panel.select(failed.id)
        assert panel.retry_button.isEnabled() and panel.state_of(failed.id) == "Failed"
        fake.scripts["broken"] = Script()
        qtbot.mouseClick(panel.retry_button, Qt.MouseButton.LeftButton)
        assert panel.state_of(failed.id) == ""  # replaced by the new job, queued last
        assert len(jobs.queued_ids()) == 4 and jobs.job(jobs.queued_ids()[-1]).request.model == "broken"
        qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)  # resume
        assert not jobs.paused and not panel.paused_label.isVisible()
        qtbot.waitUntil(lambda: len(fake.ran) == 5 and all(j.state == FINISHED for j in jobs.jobs()), timeout=10_000)
        assert fake.ran == ["broken", "c", "a", "b", "broken"]
    finally:
        assert jobs.shutdown(10_000)


def test_a_second_studio_does_not_take_over_the_queue(qtbot, library, fake, queue_file):
    fake.default = Script(wait_s=30)
    first = make_queue(library, fake, queue_file)
    second = None
    try:
        running = first.submit(text("long"))
        qtbot.waitUntil(lambda: running.state == RUNNING, timeout=10_000)
        second = make_queue(library, FakeEngine(), queue_file)  # a second window while the first runs
        assert first.persistent and not second.persistent
        assert "Another Studio" in second.restore_message
        assert second.jobs() == [] and not second.paused  # the running job is not taken for a crash
        second.shutdown(10_000)
        assert [j["state"] for j in json.loads(queue_file.read_text())["jobs"]] == [RUNNING]  # untouched
    finally:
        assert first.shutdown(10_000)
    third = make_queue(library, fake, queue_file)  # the first closed: the lock is free again
    try:
        assert third.persistent and [j.state for j in third.jobs()] == [QUEUED]
        third.pause()
    finally:
        assert third.shutdown(10_000)
