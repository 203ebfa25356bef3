"""Servers that tests and benchmarks start on loopback: llama.cpp's own OpenAI-compatible server
(``python -m llama_cpp.server``) on the bundled SmolLM2 GGUF, and ``studio serve``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bundled_gguf() -> Path | None:
    """The bundled SmolLM2 GGUF, found the way the catalog finds it (the package is never imported)."""
    from ..models.catalog import Catalog, bundled_path

    entry = Catalog().find("smollm2-135m-instruct")
    return bundled_path(entry) if entry is not None else None


@dataclass
class RunningServer:
    process: subprocess.Popen
    url: str  # …/v1
    key: str | None
    log: Path

    def stop(self, timeout_s: float = 30.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)


def wait_until_up(server: RunningServer, timeout_s: float = 120.0) -> None:
    request = urllib.request.Request(server.url + "/models")
    if server.key:
        request.add_header("Authorization", f"Bearer {server.key}")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited ({server.process.returncode}): {server.log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                json.load(response)
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"the server did not answer within {timeout_s} s: {server.log.read_text()[-2000:]}")


def start_llama_server(model: Path, log: Path, *, key: str | None = None, alias: str = "smollm2",
                       threads: int = 1, n_ctx: int = 2048) -> RunningServer:
    """``python -m llama_cpp.server`` on ``model`` at 127.0.0.1 and a free port."""
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", alias,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(threads),
           "--n_threads_batch", str(threads), "--verbose", "False"]
    if key:
        cmd += ["--api_key", key]
    out = open(log, "wb")  # noqa: SIM115 - the child writes to it for its whole life
    process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
    server = RunningServer(process, f"http://127.0.0.1:{port}/v1", key, log)
    wait_until_up(server)
    return server


def start_studio_serve(log: Path, *, key: str | None = None, env: dict | None = None,
                       extra: tuple[str, ...] = ()) -> RunningServer:
    """``studio serve`` at 127.0.0.1 and a free port (in a child process, as a person runs it)."""
    port = free_port()
    child_env = dict(os.environ, **(env or {}))  # the child's own copy: this process's environment stays as it is
    if key:
        child_env["STUDIO_API_KEY"] = key
    else:
        child_env.pop("STUDIO_API_KEY", None)
    out = open(log, "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "studio", "serve", "--host", "127.0.0.1", "--port", str(port), *extra],
        stdout=out, stderr=subprocess.STDOUT, env=child_env, cwd=str(Path(__file__).resolve().parents[2]),
    )
    server = RunningServer(process, f"http://127.0.0.1:{port}/v1", key, log)
    wait_until_up(server)
    return server


def comfyui_venv() -> Path | None:
    """The real ComfyUI that ``packaging/comfyui_for_tests.sh`` builds (its own venv, never imported here):
    ``$STUDIO_COMFYUI_VENV`` or ``~/.cache/studio/comfyui-venv``; None when it is not built."""
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "studio" / "comfyui-venv"
    venv = Path(os.environ.get("STUDIO_COMFYUI_VENV") or default)
    ready = (venv / "bin" / "python").exists() and (venv / "ComfyUI" / "main.py").exists()
    return venv if ready else None


def start_comfyui(venv: Path, folder: Path, *, timeout_s: float = 180.0,
                  extra: tuple[str, ...] = ()) -> RunningServer:
    """ComfyUI's own server (``main.py``) from ``venv`` at 127.0.0.1 and a free port, on the CPU, with its
    input, output and temp folders under ``folder``, and its checkpoints from ``folder/checkpoints``
    (besides its own). ``url`` is the server's root (no /v1)."""
    port = free_port()
    for sub in ("input", "output", "temp", "checkpoints"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    paths = folder / "extra_model_paths.yaml"
    paths.write_text(f"studio_tests:\n    base_path: {json.dumps(str(folder))}\n    checkpoints: checkpoints\n")
    log = folder / "comfyui.log"
    cmd = [str(venv / "bin" / "python"), "main.py", "--listen", "127.0.0.1", "--port", str(port), "--cpu",
           "--disable-auto-launch", "--input-directory", str(folder / "input"),
           "--output-directory", str(folder / "output"), "--temp-directory", str(folder / "temp"),
           "--extra-model-paths-config", str(paths), *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    out = open(log, "wb")  # noqa: SIM115 - the child writes to it for its whole life
    process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=str(venv / "ComfyUI"), env=env)
    server = RunningServer(process, f"http://127.0.0.1:{port}", None, log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ComfyUI exited ({process.returncode}): {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(server.url + "/object_info/SaveImage", timeout=2) as response:
                json.load(response)
                return server
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, ValueError):
            time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"ComfyUI did not answer within {timeout_s} s: {log.read_text(errors='replace')[-2000:]}")
