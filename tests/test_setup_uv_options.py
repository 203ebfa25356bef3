"""packaging/uv_options.py: pip's package sources (pip.conf, PIP_* variables) as options for uv.

packaging/setup.sh installs the packages with uv, which reads none of pip's configuration; these run the
script the way setup.sh does (its own process, this venv's pip) and check what uv would be told.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "packaging" / "uv_options.py"


def run_options(env: dict[str, str], cwd: Path) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "SSL_CERT_FILE"))}
    clean.pop("HTTPS_PROXY", None)
    clean.pop("HTTP_PROXY", None)
    out = subprocess.run(
        [sys.executable, str(SCRIPT)], env={**clean, **env}, cwd=cwd, capture_output=True, text=True, check=True
    ).stdout
    return out.splitlines()


def test_no_pip_configuration_gives_only_pips_index_strategy(tmp_path):
    # PIP_CONFIG_FILE=/dev/null: pip loads no configuration file at all (a machine with no pip.conf)
    assert run_options({"PIP_CONFIG_FILE": os.devnull}, tmp_path) == ["--index-strategy", "unsafe-best-match"]


def test_pip_environment_variables_become_uv_options(tmp_path):
    options = run_options(
        {
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_INDEX_URL": "https://mirror.example/simple",
            "PIP_EXTRA_INDEX_URL": "file:///srv/a/simple  https://b.example/simple",
            "PIP_FIND_LINKS": "/srv/wheels",
            "PIP_CONSTRAINT": "constraints.txt",
            "PIP_TRUSTED_HOST": "b.example",
            "PIP_CERT": "/srv/ca.pem",
            "PIP_DEFAULT_TIMEOUT": "180",
            "PIP_NO_INDEX": "1",
        },
        tmp_path,
    )
    assert options == [
        "--index-strategy", "unsafe-best-match",
        "--no-index",
        "--index-url", "https://mirror.example/simple",
        "--extra-index-url", "file:///srv/a/simple",
        "--extra-index-url", "https://b.example/simple",
        "--find-links", "/srv/wheels",
        "--constraints", "constraints.txt",
        "--allow-insecure-host", "b.example",
        "ENV SSL_CERT_FILE=/srv/ca.pem",
        "ENV UV_HTTP_TIMEOUT=180",
    ]  # fmt: skip


def test_config_file_sections_and_environment_override_as_in_pip(tmp_path):
    conf = tmp_path / "pip.conf"
    conf.write_text(
        "[global]\nindex-url = https://global.example/simple\nfind-links =\n    /srv/one\n    /srv/two\n"
        "proxy = http://proxy.example:3128\n"
        "[install]\nindex-url = https://install.example/simple\n"
        "[download]\nindex-url = https://download.example/simple\n"
    )
    options = run_options({"PIP_CONFIG_FILE": str(conf)}, tmp_path)
    # `pip install` reads [global], then [install] over it; other commands' sections do not count
    assert options[options.index("--index-url") + 1] == "https://install.example/simple"
    # a value on several lines is several locations (a file loaded later replaces the key, as in pip)
    assert [options[i + 1] for i, item in enumerate(options) if item == "--find-links"] == ["/srv/one", "/srv/two"]
    assert "ENV HTTPS_PROXY=http://proxy.example:3128" in options
    # a PIP_* variable wins over every file, as in pip
    options = run_options({"PIP_CONFIG_FILE": str(conf), "PIP_INDEX_URL": "https://env.example/simple"}, tmp_path)
    assert options[options.index("--index-url") + 1] == "https://env.example/simple"
    # the environment's own certificate/proxy settings are left alone
    options = run_options({"PIP_CONFIG_FILE": str(conf), "HTTPS_PROXY": "http://mine:1"}, tmp_path)
    assert not any(item.startswith("ENV HTTPS_PROXY=") for item in options)
