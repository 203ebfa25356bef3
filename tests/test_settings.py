"""Settings follow STUDIO_HOME: a portable install keeps its settings next to its data."""

from __future__ import annotations

from studio import paths
from studio.ui.settings import Settings


def test_settings_live_under_studio_home_when_it_is_set(tmp_path, monkeypatch):
    home = tmp_path / "portable"
    monkeypatch.setenv("STUDIO_HOME", str(home))
    assert paths.settings_file() == home / "settings.ini"
    first = Settings()
    first.device = "cpu"
    first.memory_budget_gb = 3.5
    assert "device=cpu" in (home / "settings.ini").read_text()
    again = Settings()
    assert (again.device, again.memory_budget_gb) == ("cpu", 3.5)
    assert again.output_folder == home / "library"
    # another STUDIO_HOME is another set of settings
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "other"))
    assert Settings().device == "auto"


def test_without_studio_home_the_platform_place_is_used(monkeypatch):
    monkeypatch.delenv("STUDIO_HOME")
    assert paths.settings_file() is None
