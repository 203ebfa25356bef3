"""Start the GUI: QApplication, settings, library, the main window. The worker starts lazily."""

from __future__ import annotations

import logging
import os
import sys


def run_gui(argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    from .library.store import Library
    from .ui.icons import app_icon
    from .ui.main_window import MainWindow
    from .ui.settings import Settings

    logging.basicConfig(level=os.environ.get("STUDIO_LOG", "WARNING"))
    app = QApplication.instance() or QApplication([sys.argv[0], *(argv or [])])
    app.setApplicationName("Studio")
    app.setOrganizationName("Studio")
    app.setWindowIcon(app_icon())
    settings = Settings()
    try:
        library = Library(settings.output_folder)
    except OSError as exc:  # e.g. an output folder on a removed drive: fall back to the default
        from . import paths

        logging.warning("output folder unusable (%s); using the default", exc)
        library = Library(paths.library_dir())
    window = MainWindow(settings, library)
    window.show()
    if os.environ.get("STUDIO_EXIT_AFTER_SHOW"):  # used by the launch-time benchmark
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, window.close)
    code = app.exec()
    if not getattr(window, "worker_stopped", True):
        # a model load or step that cannot be interrupted is still running; everything finished is
        # already on disk, so leave without waiting for it (Qt would abort on a running QThread)
        logging.warning("worker still busy at exit; leaving without waiting")
        os._exit(code)
    return code
