"""Running the API: uvicorn on its own thread, the job queue on the Qt main thread.

:class:`ServeServer` is what the GUI starts and stops from Settings (over the window's own job queue)
and what ``studio serve`` runs (over a queue of its own, in a QCoreApplication without a window).
Loopback by default; any other address needs a key (:func:`check_host`).
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import sys
import threading
import time

from PySide6.QtCore import QObject, Slot

from ..errors import InvalidRequest, StudioError

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str, api_key: str | None) -> None:
    """Only this machine may reach a server without a key."""
    if not host.strip():
        raise InvalidRequest("--host is empty: give an address such as 127.0.0.1.")
    if not is_loopback(host) and not api_key:
        raise InvalidRequest(
            f"Refusing to listen on {host} without an API key: anyone on the network could use this machine's "
            "models. Set one (export STUDIO_API_KEY=… or --api-key-env VAR), or listen on 127.0.0.1."
        )


class ServeServer:
    """The HTTP API over ``jobs`` (a :class:`~studio.jobs.JobQueue` on the calling, main, thread)."""

    def __init__(self, jobs, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, api_key: str | None = None,
                 catalog=None) -> None:
        import uvicorn

        from .app import ServeConfig, create_app
        from .bridge import JobBridge

        check_host(host, api_key)
        if not 0 <= port <= 65535:
            raise InvalidRequest(f"--port must be between 1 and 65535 (got {port}).")
        self.host = host
        self.bridge = JobBridge(jobs)
        self.app = create_app(self.bridge, ServeConfig(api_key, catalog or jobs_catalog(jobs)))
        config = uvicorn.Config(
            self.app, host=host, port=port, log_level="warning", lifespan="off", timeout_graceful_shutdown=2,
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self.port = port

    def start(self, timeout_s: float = 15.0) -> None:
        """Listen (returns once the socket is bound); a StudioError when it cannot (port in use …)."""
        failure: list[BaseException] = []

        def run() -> None:
            try:
                self._server.run()
            except BaseException as exc:  # uvicorn exits with SystemExit(1) when it cannot bind
                failure.append(exc)

        self._thread = threading.Thread(target=run, name="studio-serve", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._server.should_exit = True
                raise StudioError(
                    f"Could not listen on {self.host}:{self.port}: the port may be in use by another program "
                    "(pick another with --port)."
                )
            time.sleep(0.02)
        sockets = [s for server in self._server.servers for s in server.sockets]
        if sockets:
            self.port = sockets[0].getsockname()[1]  # the real one when port 0 asked for any free port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)


def jobs_catalog(jobs):
    """The catalog the queue's runtimes use (the model list must match what the jobs can load)."""
    factory = getattr(getattr(jobs, "worker", None), "_runtime_factory", None)
    return getattr(factory, "catalog", None)


class _SignalWaker(QObject):
    """Python runs signal handlers only while it runs Python code: a slot called 5×/s lets Ctrl+C and
    SIGTERM through while Qt's event loop waits."""

    @Slot()
    def tick(self) -> None:
        pass


def run_serve(host: str, port: int, api_key: str | None, *, device: str = "auto", dtype: str = "auto") -> int:
    """``studio serve``: a job queue without a window, the API over it, until Ctrl+C or SIGTERM."""
    check_host(host, api_key)  # before any Qt or model import
    from PySide6.QtCore import QCoreApplication, QTimer

    from ..config import Config
    from ..jobs import JobQueue, RuntimeFactory
    from ..library.store import Library
    from ..models.catalog import Catalog

    app = QCoreApplication.instance() or QCoreApplication([sys.argv[0]])
    catalog = Catalog()
    # offline: a request never makes the server download a model (the catalog and local files only)
    config = Config(device=device, dtype=dtype, offline=True)
    jobs = JobQueue(Library(config.library_folder), RuntimeFactory(catalog, config))
    server = ServeServer(jobs, host=host, port=port, api_key=api_key, catalog=catalog)
    try:
        server.start()
    except StudioError:
        jobs.shutdown()
        raise
    jobs.warm_up()  # the heavy libraries load on the worker now, not during the first request
    print(f"Studio serves an OpenAI-compatible API on {server.url}"
          + (" (API key required)" if api_key else "") + ". Ctrl+C stops it.", flush=True)

    def quit_app(*_args) -> None:
        app.quit()

    previous = {sig: signal.signal(sig, quit_app) for sig in (signal.SIGINT, signal.SIGTERM)}
    ticker = QTimer()
    waker = _SignalWaker()
    ticker.timeout.connect(waker.tick)
    ticker.start(200)
    try:
        app.exec()
    finally:
        ticker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("Stopping…", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        server.stop()
        t1 = time.monotonic()
        jobs.shutdown(wait_ms=10_000)
        log.info("server stopped in %.1f s, jobs in %.1f s", t1 - t0, time.monotonic() - t1)
    print("Studio stopped serving.", file=sys.stderr, flush=True)
    return 0
