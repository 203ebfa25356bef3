"""Resolution: a catalog id, a hub repo id or a local path → files on disk and their format.

Order: empty → the modality's default; a catalog entry (:meth:`Catalog.find`: its id, hub id or local
path); an existing path; ``org/name`` hub id (from the
Hugging Face cache, or downloaded when online and allowed); otherwise a clear ModelNotFound.
A pickled file (.ckpt/.pt/.pth/.bin) resolves only with ``allow_pickle=True``; otherwise
UnsafeModelFile carrying its path (``allowable``: the same request with permission loads it).
Offline is an argument (``offline``, the configuration's switch: :class:`studio.config.Config`),
never read from the environment here; it defaults to True, so a caller that does not say it is
online never connects. Offline, a hub model that is not on disk gives NotDownloaded with what to
do, never a network call.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelNotFound, NotDownloaded, UnsafeModelFile, WrongModelKind
from . import coqui_zoo
from .catalog import Catalog, ModelEntry, bundled_path
from .hub_cache import hub_snapshot
from .formats import KIND_WORDS, PICKLE_SUFFIXES, detect_format, modality_of, readable_format
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")


@dataclass(frozen=True)
class ResolvedModel:
    id: str  # stable key for the cache and the metadata
    path: Path  # folder, or the file for gguf / single-file checkpoints
    format: str  # 'gguf' | 'transformers' | 'diffusers' | 'single_file' | 'piper' | 'coqui'
    modality: str  # what the files are for ('text', 'image', …; '' when unknown)
    name: str = ""
    entry: ModelEntry | None = None

    @property
    def label(self) -> str:
        return self.name or self.id


def looks_like_hub_id(spec: str) -> bool:
    """``org/name`` as the Hugging Face hub spells repo ids."""
    return bool(_HUB_ID.match(spec.strip()))


def _check_kind(resolved: ResolvedModel, modality: str) -> ResolvedModel:
    if resolved.modality and modality and resolved.modality != modality:
        raise WrongModelKind(
            f"'{resolved.label}' is {KIND_WORDS.get(resolved.modality, 'another kind of model')} "
            f"({resolved.format}); the {modality} tab needs {KIND_WORDS.get(modality, 'another model')}."
        )
    return resolved


def is_pickle(path: Path) -> bool:
    """A pickled checkpoint file (.ckpt/.pt/.pth/.bin), which can run code when opened."""
    return path.suffix.lower() in PICKLE_SUFFIXES


def check_pickle_allowed(path: Path, allow_pickle: bool) -> None:
    """UnsafeModelFile (allowable) for a pickled file unless the person allowed pickles."""
    if is_pickle(path) and not allow_pickle:
        raise UnsafeModelFile(
            f"'{path.name}' is a pickled checkpoint ({path.suffix}), which can run code when opened. "
            "Use a .safetensors version, or confirm that you trust this file to load it anyway "
            "(its weights are read without running code).",
            path,
            allowable=True,
        )


def resolve(
    spec: str,
    modality: str,
    *,
    catalog: Catalog | None = None,
    offline: bool = True,
    download=None,
    allow_pickle: bool = False,
) -> ResolvedModel:
    """Find the files for ``spec`` (catalog id, hub id, local path, or "" for the default).

    ``offline``: whether Studio may connect (the caller's configuration; the engines pass
    ``runtime.offline``). ``download(repo_id, allow_patterns)`` is called for a hub model not yet on
    disk when online (and coqui fetches its own models); without it such a hub model raises NotDownloaded. A pickled file raises UnsafeModelFile unless
    ``allow_pickle``.
    """
    resolved = _resolve(spec, modality, catalog or Catalog(), offline, download)
    # coqui .pth checkpoints are exempt: coqui-tts loads them with torch.load(weights_only=True)
    # (studio.engines.speech_voices says where); coqui models that need full unpickling are refused there
    if resolved.path.is_file() and resolved.format != "coqui":
        check_pickle_allowed(resolved.path, allow_pickle)
    return resolved


def _resolve(spec: str, modality: str, catalog: Catalog, offline: bool, download) -> ResolvedModel:
    spec = (spec or "").strip()

    if not spec:
        entry = catalog.default(modality)
        if entry is None:
            raise ModelNotFound(f"No {modality} model is installed. Open Models to download one.")
        return _from_entry(entry, modality, offline, download)

    entry = catalog.find(spec)
    if entry is not None:
        return _from_entry(entry, modality, offline, download)

    path = Path(spec).expanduser()
    try:
        exists = path.exists()
    except OSError as exc:  # a name too long for the file system, a loop of links …
        raise ModelNotFound(f"No model file or folder at '{spec[:200]}' ({exc.strerror or exc}).") from None
    if exists:
        return _from_path(path, modality)
    if coqui_zoo.is_zoo_name(spec):
        return _from_coqui_name(spec, modality, catalog, offline, download)
    looks_like_path = (
        spec.startswith(("/", ".", "~", "\\"))
        or spec.count("/") > 1
        or (os.sep != "/" and os.sep in spec)
        or path.suffix.lower() in (".gguf", ".safetensors", ".onnx", *PICKLE_SUFFIXES)
    )
    if looks_like_path:
        raise ModelNotFound(f"No model file or folder at '{spec}'.")

    if _HUB_ID.match(spec):
        local = hub_snapshot(spec)
        if local is None:
            if offline or download is None:
                raise NotDownloaded(
                    f"'{spec}' is not downloaded and Studio is offline. Download it from the Models window "
                    f"(or `studio models download {spec}`) while online."
                    if offline
                    else f"'{spec}' is not downloaded. Download it from the Models window first.",
                    spec,
                )
            local = Path(download(spec, None))
        return _from_path(local, modality, model_id=spec)

    raise ModelNotFound(
        f"No model called '{spec}': not a catalog id, an existing file or folder, or a hub id like org/name. "
        "`studio models list` shows the catalog."
    )


def _from_entry(entry: ModelEntry, modality: str, offline: bool, download) -> ResolvedModel:
    if entry.source == "bundled":
        path = bundled_path(entry)
        if path is None:
            raise ModelNotFound(
                f"The bundled model '{entry.name}' is missing: reinstall Studio (package {entry.package})."
            )
        resolved = ResolvedModel(entry.id, path, entry.format, entry.modality, entry.name, entry)
    elif entry.source == "coqui":  # a coqui-tts model name (repo_id), kept in coqui's own folder
        found = _from_coqui_name(entry.repo_id, modality, None, offline, download)
        resolved = ResolvedModel(entry.id, found.path, "coqui", entry.modality, entry.name, entry)
    elif entry.source == "local":
        path = Path(entry.path)
        if not path.exists():
            raise ModelNotFound(f"The local model '{entry.name}' is gone from {entry.path}.")
        resolved = ResolvedModel(entry.id, path, entry.format or detect_format(path), entry.modality, entry.name, entry)
    else:
        path = hub_snapshot(entry.repo_id)
        if path is not None and entry.filename:  # one file of a shared repo (a Piper voice of piper-voices)
            path = path / entry.filename if (path / entry.filename).exists() else None
        if path is None:
            if offline or download is None:
                raise NotDownloaded(
                    f"'{entry.name}' is not downloaded yet. Download it in the Models window"
                    + (" when you are online (Studio is offline now)." if offline else "."),
                    entry.id,
                )
            path = Path(download(entry.repo_id, list(entry.allow_patterns) or None))
            if entry.filename:
                path = path / entry.filename
        resolved = ResolvedModel(entry.id, path, entry.format, entry.modality, entry.name, entry)
    return _check_kind(resolved, modality)


def _from_coqui_name(spec: str, modality: str, catalog: Catalog | None, offline: bool, download) -> ResolvedModel:
    """``tts_models/<lang>/<dataset>/<model>``: coqui's own model folder, fetched by coqui when online."""
    alias = coqui_zoo.HUB_ALIASES.get(spec)
    entry = catalog.find(alias) if alias and catalog is not None else None
    if entry is not None:
        return _from_entry(entry, modality, offline, download)
    folder = coqui_zoo.downloaded(spec)
    if folder is None:
        # coqui's own models are fetched by coqui's ModelManager on first use (the Models window
        # downloads hub repos only); offline, never a network call
        if offline:
            raise NotDownloaded(
                f"The coqui model '{spec}' is not downloaded and Studio is offline: run it once while online.", spec
            )
        folder = coqui_zoo.download(spec)
    return _check_kind(ResolvedModel(spec, folder, "coqui", "speech", spec), modality)


def _from_path(path: Path, modality: str, model_id: str = "") -> ResolvedModel:
    path = path.resolve()
    fmt = readable_format(path)
    resolved = ResolvedModel(model_id or str(path), path, fmt, modality_of(path, fmt), path.name)
    return _check_kind(resolved, modality)


__all__ = [  # PICKLE_SUFFIXES, detect_format, modality_of, readable_format live in .formats
    "PICKLE_SUFFIXES",
    "ResolvedModel",
    "check_pickle_allowed",
    "detect_format",
    "is_pickle",
    "looks_like_hub_id",
    "modality_of",
    "readable_format",
    "check_pickle_allowed",
    "is_pickle",
    "resolve",
]
