"""Start the GUI: QApplication, the one configuration, the library, the services, the main window.

:func:`compose` builds the services the window and its tabs share (the job queue with its runtime
factory, the download manager, the catalog) from one :class:`~studio.config.Config`; the worker
thread starts lazily, with the first job.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .config import Config

if TYPE_CHECKING:  # the GUI's modules are imported when the GUI starts
    from .jobs import JobQueue
    from .jobs.downloads import DownloadManager
    from .jobs.runtime import RuntimeFactory
    from .engines.remote.keys import KeyStore
    from .models.catalog import Catalog
    from .models.servers import ServerList

#: What Qt's xcb platform plugin (libqxcb.so, libQt6XcbQpa) loads beyond the X client library itself:
#: (shared library, Debian/Ubuntu package). packaging/system-deps.sh installs the same packages
#: (a test keeps the two in step).
XCB_LIBRARIES: tuple[tuple[str, str], ...] = (
    ("libxcb-cursor.so.0", "libxcb-cursor0"),
    ("libxcb-icccm.so.4", "libxcb-icccm4"),
    ("libxcb-image.so.0", "libxcb-image0"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
    ("libxcb-randr.so.0", "libxcb-randr0"),
    ("libxcb-render.so.0", "libxcb-render0"),
    ("libxcb-render-util.so.0", "libxcb-render-util0"),
    ("libxcb-shape.so.0", "libxcb-shape0"),
    ("libxcb-shm.so.0", "libxcb-shm0"),
    ("libxcb-sync.so.1", "libxcb-sync1"),
    ("libxcb-util.so.1", "libxcb-util1"),
    ("libxcb-xfixes.so.0", "libxcb-xfixes0"),
    ("libxcb-xkb.so.1", "libxcb-xkb1"),
    ("libX11-xcb.so.1", "libx11-xcb1"),
    ("libxkbcommon.so.0", "libxkbcommon0"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
    ("libEGL.so.1", "libegl1"),
    ("libGL.so.1", "libgl1"),
    ("libfontconfig.so.1", "libfontconfig1"),
    ("libdbus-1.so.3", "libdbus-1-3"),
)


def loadable(library: str) -> bool:
    """Whether the dynamic loader finds ``library`` (as Qt will when it loads the plugin)."""
    try:
        ctypes.CDLL(library)
    except OSError:
        return False
    return True


def uses_xcb(env: Mapping[str, str], platform: str = sys.platform) -> bool:
    """Whether Qt will pick its xcb (X11) plugin: on Linux with a DISPLAY, when QT_QPA_PLATFORM asks
    for xcb, or names nothing and no Wayland session is there for Qt to prefer."""
    if not platform.startswith("linux") or not env.get("DISPLAY"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if chosen:
        return chosen == "xcb"
    return not env.get("WAYLAND_DISPLAY")


def missing_xcb_packages(find: Callable[[str], bool] | None = None) -> list[str]:
    """The packages of the xcb libraries ``find`` (default :func:`loadable`) cannot find, in
    :data:`XCB_LIBRARIES` order."""
    find = find or loadable
    return [package for library, package in XCB_LIBRARIES if not find(library)]


def check_desktop_libraries(env: Mapping[str, str] | None = None, find: Callable[[str], bool] | None = None) -> str:
    """"" when the GUI can start; else what to print: the missing packages and the one line that
    installs them (instead of Qt's abort "could not load the Qt platform plugin")."""
    env = os.environ if env is None else env
    if not uses_xcb(env):
        return ""
    missing = missing_xcb_packages(find)
    if not missing:
        return ""
    return (
        "Studio cannot open its window: Qt's X11 (xcb) support needs system libraries that are missing. "
        "Install them with:\n"
        f"  sudo apt-get install {' '.join(missing)}"
    )


def _key_store():
    from .engines.remote.keys import KeyStore

    return KeyStore()


def _server_list():
    from .models.servers import ServerList

    return ServerList()


@dataclass
class Services:
    """What the window and its tabs share, composed once from the configuration."""

    config: Config
    catalog: Catalog
    factory: RuntimeFactory  # builds the worker's runtime from ``config``
    jobs: JobQueue
    downloads: DownloadManager
    keys: KeyStore = field(default_factory=_key_store)  # API keys: the OS keyring, else this session
    servers: ServerList = field(default_factory=_server_list)  # the servers the person added

    def offline_now(self) -> bool:
        """The download manager asks this before each download (the switch may change meanwhile)."""
        return self.config.offline

    def reconfigure(self, config: Config) -> None:
        """A preference changed: ``config`` is the one in force now; when it changes what the worker's
        runtime uses (device, precision, memory budget, offline) it reaches the runtime (on its thread)."""
        before, self.config = self.config, config
        self.factory.config = config
        if runtime_part(before) != runtime_part(config):
            self.jobs.run_in_worker(self.factory.apply)


def runtime_part(config: Config) -> tuple:
    """What of a configuration the worker's runtime uses (:meth:`RuntimeFactory.apply`)."""
    return config.device, config.dtype, config.memory_budget_gb, config.offline


def compose(config: Config, library, catalog: Catalog | None = None, *, engine_factory=None, queue_file=None,
            parent=None) -> Services:
    """The services for ``config``: the catalog, the runtime factory, the job queue, the downloads.
    ``engine_factory`` (request kind → engine) replaces the real engines, e.g. a scripted fake in tests;
    ``queue_file``: where the job queue is written down and restored from (the app: ``paths.queue_file()``)."""
    from .jobs import JobQueue
    from .jobs.downloads import DownloadManager
    from .jobs.runtime import RuntimeFactory
    from .models.catalog import Catalog

    catalog = catalog or Catalog()
    keys = _key_store()
    factory = RuntimeFactory(catalog, config, api_key=keys.get)
    jobs = JobQueue(library, factory, engine_factory=engine_factory, state_file=queue_file, parent=parent)
    services = Services(config, catalog, factory, jobs, DownloadManager(parent=parent), keys, _server_list())
    services.downloads.set_offline(services.offline_now)
    return services


def run_gui(argv: list[str] | None = None) -> int:
    problem = check_desktop_libraries()
    if problem:
        print(problem, file=sys.stderr)
        return 1

    from PySide6.QtWidgets import QApplication

    from . import paths
    from .library.store import Library
    from .ui.icons import app_icon
    from .ui.main_window import MainWindow
    from .ui.settings import Settings
    from .ui.stop_signals import StopSignals

    logging.basicConfig(level=os.environ.get("STUDIO_LOG", "WARNING"))
    app = QApplication.instance() or QApplication([sys.argv[0], *(argv or [])])
    app.setApplicationName("Studio")
    app.setOrganizationName("Studio")
    app.setWindowIcon(app_icon())
    app.setDesktopFileName("studio-creative")  # studio.desktop.APP_ID: the menu entry's icon on Wayland
    settings = Settings()
    config = settings.config().with_environment()  # built once; HF_HUB_OFFLINE=1 at launch means offline
    try:
        library = Library(config.library_folder)
    except OSError as exc:  # e.g. an output folder on a removed drive: fall back to the default
        logging.warning("output folder unusable (%s); using the default", exc)
        library = Library(paths.library_dir())
    window = MainWindow(settings, library, services=compose(config, library, queue_file=paths.queue_file()))
    stop = StopSignals(app)  # SIGINT / SIGTERM / SIGHUP close the window like a person quitting
    stop.received.connect(window.quit_for_signal)
    window.show()
    logging.info("window shown")
    if not os.environ.get("STUDIO_EXIT_AFTER_SHOW"):
        window.welcome_first_run()  # once: where things live, the GPU, what works offline
    if os.environ.get("STUDIO_EXIT_AFTER_SHOW"):  # used by the launch-time benchmark
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, window.close)
    code = app.exec()
    stop.uninstall()
    if stop.signum:
        code = 128 + stop.signum
    if not getattr(window, "worker_stopped", True):
        # a model load or step that cannot be interrupted is still running; everything finished is
        # already on disk, so leave without waiting for it (Qt would abort on a running QThread)
        logging.warning("worker still busy at exit; leaving without waiting")
        os._exit(code)
    return code
