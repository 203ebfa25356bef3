"""Print the uv options that make ``uv pip install`` look for packages where pip would.

uv reads none of pip's configuration (pip.conf files, ``PIP_*`` variables). packaging/setup.sh runs this
with the venv's Python; it asks that venv's pip for its merged configuration (``pip config list``:
the site-wide, user and venv files and the environment, as pip itself would use them for ``pip
install``) and prints one item per line:

* ``--option`` and ``value`` lines: arguments for ``uv pip``;
* ``ENV NAME=value`` lines: environment variables for uv (a certificate bundle, a proxy, a timeout), only
  where the environment does not set them already.

Nothing configured prints only ``--index-strategy`` / ``unsafe-best-match``: pip takes the best
version across all its indexes and find-links locations, uv by default only the first index that
has the package, so the same requirements could resolve differently.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys

_TRUE = {"1", "y", "yes", "t", "true", "on"}


def pip_config(python: str = sys.executable) -> dict[str, str]:
    """pip's settings for ``pip install`` (``global``, then ``install`` sections, then ``PIP_*``)."""
    try:
        out = subprocess.run(
            [python, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=60, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    sections: dict[str, dict[str, str]] = {"global": {}, "install": {}, ":env:": {}}
    for line in out.splitlines():
        key, sep, value = line.partition("=")
        section, dot, name = key.rpartition(".")
        if not (sep and dot) or section not in sections:
            continue
        try:
            text = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            continue
        sections[section][name.replace("_", "-").lower()] = str(text)
    merged: dict[str, str] = {}
    for section in ("global", "install", ":env:"):  # pip's own order: later wins
        merged.update(sections[section])
    return merged


def uv_options(config: dict[str, str], environ: dict[str, str] | None = None) -> list[str]:
    environ = os.environ if environ is None else environ
    items = ["--index-strategy", "unsafe-best-match"]

    def many(name: str) -> list[str]:
        return config.get(name, "").split()

    if config.get("no-index", "").strip().lower() in _TRUE:
        items.append("--no-index")
    if config.get("index-url"):
        items += ["--index-url", config["index-url"].split()[0]]
    for url in many("extra-index-url"):
        items += ["--extra-index-url", url]
    for location in many("find-links"):
        items += ["--find-links", location]
    for path in many("constraint"):
        items += ["--constraints", path]
    for host in many("trusted-host"):
        items += ["--allow-insecure-host", host]
    if config.get("pre", "").strip().lower() in _TRUE:
        items += ["--prerelease", "allow"]
    env = {}
    if config.get("cert"):
        env["SSL_CERT_FILE"] = config["cert"]
    if config.get("proxy"):
        env["HTTPS_PROXY"] = env["HTTP_PROXY"] = config["proxy"]
    timeout = config.get("default-timeout") or config.get("timeout")
    if timeout:
        env["UV_HTTP_TIMEOUT"] = timeout.split(".")[0]
    items += [f"ENV {name}={value}" for name, value in env.items() if not environ.get(name)]
    return items


if __name__ == "__main__":
    print("\n".join(uv_options(pip_config())))
