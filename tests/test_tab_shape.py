"""Every registered tab has the same shape: one shared fixture drives each tab of ``TABS`` on a real
MainWindow with the scripted fake engine, through the same steps — submit, follow, cancel, a refused
request, and the failure actions ("Download…", "Load anyway…", the out-of-memory advice).

A new tab passes these by following the template in docs/design.md ("A new tab copies this"); its
line in ``DRIVERS`` says how a person fills its form and starts a job.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from collections.abc import Callable

import pytest
from PySide6.QtCore import QPoint, QSettings
from PySide6.QtWidgets import QMessageBox

from studio.errors import NotDownloaded, UnsafeModelFile
from studio.events import Progress, Status
from studio.jobs.downloads import DownloadManager
from studio.models.catalog import Catalog
from studio.ui.job_runner import JobRunner
from studio.ui.settings import Settings
from studio.ui.tab_widgets import SeedField, StatusLine
from studio.ui.tabs import TABS
from tests.fake_engine import FakeEngine, Script


@dataclass(frozen=True)
class Driver:
    """How a person starts a job in a tab: ``fill`` the form validly, then ``go`` (returns the handle
    or None); ``spoil`` makes the form's request one the tab must refuse."""

    fill: Callable
    go: Callable
    spoil: Callable


def _text_go(tab):
    tab.send()
    return tab.job


def _canvas_fill(tab):
    tab.form.extend["right"].setValue(16)  # outpaint: no mask to paint


def _canvas_spoil(tab):
    tab.form.extend["right"].setValue(0)


def _story_fill(tab):
    tab.outline.outline.setPlainText("A fox wakes up.\n\nIt runs to the river.")
    tab.make_scenes()


DRIVERS = {
    "text": Driver(lambda tab: tab.input.setPlainText("hello"), _text_go, lambda tab: tab.input.setPlainText("")),
    "image": Driver(lambda tab: tab.prompt.setPlainText("a red fox"), lambda tab: tab.generate(),
                    lambda tab: tab.prompt.setPlainText("")),
    "speech": Driver(lambda tab: tab.text.setPlainText("Hello there."), lambda tab: tab.speak(),
                     lambda tab: tab.text.setPlainText("")),
    "music": Driver(lambda tab: tab.prompt.setPlainText("piano"), lambda tab: tab.generate(),
                    lambda tab: tab.prompt.setPlainText("")),
    "canvas": Driver(_canvas_fill, lambda tab: tab.outpaint(), _canvas_spoil),
    "story": Driver(_story_fill, lambda tab: tab.make_missing(), lambda tab: tab.new_story()),
}


@pytest.fixture
def fake():
    return FakeEngine()


@pytest.fixture(params=[spec.key for spec in TABS])
def shaped(request, qtbot, tmp_path, library, fake):
    """(window, tab, driver) for each registered tab, the tab in front and its form filled."""
    from studio.ui.main_window import MainWindow

    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    settings.device = "cpu"
    win = MainWindow(settings, library, Catalog(tmp_path / "user_models.json"), engine_factory=fake)
    qtbot.addWidget(win)
    win.resize(1280, 820)
    win.show()
    key = request.param
    tab = win.tab(key)
    win.show_tab(key)
    driver = DRIVERS[key]
    driver.fill(tab)
    yield win, tab, driver
    tab.cancel()
    win.close()


@pytest.fixture
def started_downloads(monkeypatch):
    """DownloadManager.start records the entry instead of downloading (no network in tests)."""
    started = []

    def start(self, entry):
        started.append(entry.id)
        return True

    monkeypatch.setattr(DownloadManager, "start", start)
    return started


def test_every_registered_tab_has_a_driver():
    assert sorted(DRIVERS) == sorted(spec.key for spec in TABS)


def test_the_same_names_and_the_form_on_the_right(shaped, qtbot):
    win, tab, _ = shaped
    assert isinstance(tab.runner, JobRunner) and isinstance(tab.status_line, StatusLine)
    assert tab.job is None and callable(tab.cancel)
    assert tab.status_line.isVisibleTo(tab)
    seed = tab.findChild(SeedField)  # every tab's form has the one seed field, on the right
    assert seed is not None and seed.value() is None  # None = a new random seed
    qtbot.waitUntil(lambda: seed.isVisible(), timeout=5_000)
    assert seed.mapTo(tab, QPoint(0, 0)).x() > tab.width() // 2


def test_submit_and_follow_a_job_to_its_end(shaped, qtbot, fake):
    win, tab, driver = shaped
    held = threading.Event()  # the job stays after its first event until the status line has shown it
    fake.default = Script([Status("Loading the fake model…"), (held, Progress(1, 2))])
    handle = driver.go(tab)
    assert handle is not None and tab.job is handle and tab.runner.busy
    assert win.jobs.jobs()[-1].id == handle.id
    qtbot.waitUntil(lambda: "Loading the fake model" in tab.status_line.text(), timeout=10_000)
    assert tab.job is handle and tab.runner.busy
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        held.set()
    assert tab.job is None and not tab.runner.busy and not tab.status_line.action.isVisible()
    assert fake.requests[-1] == handle.request


def test_cancel_stops_the_tabs_job(shaped, qtbot, fake):
    win, tab, driver = shaped
    fake.default = Script(wait_s=30.0)
    handle = driver.go(tab)
    with qtbot.waitSignal(handle.started, timeout=10_000):
        pass
    with qtbot.waitSignal(handle.cancelled, timeout=10_000):
        tab.cancel()
    assert handle.state == "cancelled" and tab.job is None and not tab.runner.busy


def test_a_refused_request_is_a_warning_and_nothing_is_queued(shaped):
    win, tab, driver = shaped
    driver.spoil(tab)
    assert driver.go(tab) is None
    assert tab.status_line.text().startswith("⚠") and win.jobs.jobs() == [] and tab.job is None


def test_a_model_not_downloaded_offers_download(shaped, qtbot, fake, started_downloads):
    win, tab, driver = shaped
    fake.default = Script(error=NotDownloaded("'SD-Turbo' is not downloaded yet.", "sd-turbo"))
    handle = driver.go(tab)
    with qtbot.waitSignal(handle.failed, timeout=10_000):
        pass
    action = tab.status_line.action
    assert "not downloaded" in tab.status_line.text() and tab.status_line.text().startswith("⚠")
    assert action.isVisible() and action.text() == "Download…" and not tab.runner.busy
    action.click()
    assert started_downloads == ["sd-turbo"] and not action.isVisible()
    assert win.models_window is not None and win.models_window.selected_id() == "sd-turbo"
    win.models_window.close()


def test_a_pickled_file_offers_load_anyway_where_the_request_can_allow_it(shaped, qtbot, fake, tmp_path,
                                                                           monkeypatch):
    win, tab, driver = shaped
    pickled = tmp_path / "weights.ckpt"
    pickled.write_bytes(b"never opened by the fake")

    def script(request):  # refused without permission, as the resolver does
        if not request.needs_permission() and (hasattr(request, "allow_pickle") or hasattr(request, "generation")):
            return Script()
        return Script(error=UnsafeModelFile(f"'{pickled.name}' is pickled.", pickled.resolve(), allowable=True))

    fake.default = script
    monkeypatch.delenv("STUDIO_NO_CONFIRM", raising=False)
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: QMessageBox.StandardButton.Yes)
    handle = driver.go(tab)
    with qtbot.waitSignal(handle.failed, timeout=10_000):
        pass
    action = tab.status_line.action
    assert "pickled" in tab.status_line.text()
    if not handle.request.needs_permission():  # Text and Music load no pickles: the message is all
        assert not action.isVisible()
        return
    assert action.isVisible() and action.text() == "Load anyway…"
    action.click()  # Yes: the same request again, with permission
    qtbot.waitUntil(lambda: len(fake.requests) == 2 and not tab.runner.busy, timeout=10_000)
    again = fake.requests[1]
    assert not again.needs_permission() and again.model == handle.request.model
    assert not action.isVisible()


def test_out_of_memory_is_advice_and_the_next_memory_plan(shaped, qtbot, fake):
    win, tab, driver = shaped
    fake.default = Script(error=RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    handle = driver.go(tab)
    with qtbot.waitSignal(handle.failed, timeout=10_000) as failed:
        pass
    assert failed.args[0].kind == "out_of_memory"
    assert tab.status_line.text() == f"⚠ {failed.args[0].message}"
    if hasattr(handle.request, "with_memory_plan"):  # a picture's memory plan: the next one down is one click away
        assert tab.status_line.action.isVisible() and tab.status_line.action.text().startswith("Retry with ")
    else:
        assert not tab.status_line.action.isVisible()


def test_a_failure_stays_in_its_own_tab(shaped, qtbot, fake):
    """The failed tab says it; switching tabs leaves no stale failure in the window's status bar."""
    win, tab, driver = shaped
    fake.default = Script(error=RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    handle = driver.go(tab)
    with qtbot.waitSignal(handle.failed, timeout=10_000):
        pass
    other = next(spec.key for spec in TABS if win.tab(spec.key) is not tab)
    win.show_tab(other)
    assert "out of memory" not in win.statusBar().currentMessage().lower()
    assert "⚠" not in win.tab(other).status_line.text()
    win.show_tab(next(spec.key for spec in TABS if win.tab(spec.key) is tab))
    assert tab.status_line.text().startswith("⚠")  # still there when the person comes back
