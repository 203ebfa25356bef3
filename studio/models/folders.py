"""Model folders used in place: the folders of ComfyUI, AUTOMATIC1111/Forge, LM Studio, GPT4All,
Ollama or a Hugging Face cache, registered once and rescanned, with nothing copied.

``studio models add-folder DIR`` and the Models window's "Add folder…" register a folder
(:meth:`ModelFolders.add`); :meth:`ModelFolders.rescan` reads them all again (at start and on
demand). What a file is comes from its contents (:mod:`studio.models.sniff`), never its name or the
sub-folder it sits in, so every layout is one walk:

* ComfyUI ``models/checkpoints|diffusers|loras|vae|controlnet|upscale_models|embeddings`` and
  A1111/Forge ``models/Stable-diffusion|Lora|VAE|ControlNet|ESRGAN``, ``embeddings``: weight files
  and diffusers folders, each sniffed; an A1111 ``name.yaml`` beside a checkpoint is its config
  (the image loader reads it: v-prediction or epsilon for SD 2.x);
* LM Studio (``publisher/repo/file.gguf``), GPT4All and plain folders of ``.gguf`` files; the
  first shard of a split GGUF stands for the model; vision projectors are not models;
* Ollama's store (``manifests/…`` naming ``blobs/sha256-…``): each manifest's model layer, when it
  is a GGUF file, as ``name:tag``;
* a Hugging Face cache (``models--org--name/snapshots/<rev>``): each repo's current snapshot.

The walk follows links but never enters a folder twice (a link loop ends there), notes a folder it
may not read and goes on, and opens only files with a weights suffix (reading a header is a few
hundred bytes). A file seen before with the same size and time is not read again. Runnable models
(``role == "model"``) become catalog entries (``source="local"``: a model that disappears shows
as missing); LoRAs, VAEs, ControlNets, upscalers and embeddings are listed for their pickers.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .. import paths
from .sniff import WEIGHT_SUFFIXES, Sniffed, read_json, sniff_file, sniff_folder, sniff_gguf

MAX_DEPTH = 16
_SHARD = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"


@dataclass
class FoundModel:
    path: str
    name: str
    modality: str  # 'text' | 'image' | 'speech' | 'music' | '' (a LoRA, VAE … used with a model)
    role: str  # 'model' | 'lora' | 'vae' | 'controlnet' | 'upscaler' | 'embedding'
    format: str
    family: str = ""
    layout: str = ""  # 'files' | 'ollama' | 'hf-cache'
    config: str = ""  # an A1111 .yaml beside a checkpoint
    size_bytes: int = 0
    mtime_ns: int = 0
    note: str = ""
    missing: bool = False  # was found before, is gone now

    @property
    def runnable(self) -> bool:
        return self.role == "model" and bool(self.modality)


@dataclass
class FolderScan:
    path: str
    models: list[FoundModel] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # folders that could not be read, loops …
    files_seen: int = 0
    seconds: float = 0.0
    scanned: float = 0.0


# --- the walk ---------------------------------------------------------------------------------
class _Walk:
    def __init__(self, root: Path, known: dict[str, FoundModel]) -> None:
        self.root = root
        self.known = known  # path → what an earlier scan found (reused when size and time match)
        self.scan = FolderScan(str(root))
        self.visited: set[tuple[int, int]] = set()

    def run(self) -> FolderScan:
        start = time.perf_counter()
        if self._is_ollama(self.root):
            self._ollama(self.root)
        else:
            self._walk(self.root, 0)
        self.scan.seconds = time.perf_counter() - start
        self.scan.scanned = time.time()
        return self.scan

    def _enter(self, folder: Path) -> bool:
        try:
            st = folder.stat()
        except OSError as exc:
            self.scan.problems.append(f"{folder}: {exc.strerror or exc}")
            return False
        key = (st.st_dev, st.st_ino)
        if key in self.visited:
            self.scan.problems.append(f"{folder}: already scanned (a link loop or a second link), skipped")
            return False
        self.visited.add(key)
        return True

    def _walk(self, folder: Path, depth: int) -> None:
        if depth > MAX_DEPTH or not self._enter(folder):
            return
        if folder.name.startswith("models--") and (folder / "snapshots").is_dir():
            self._hf_repo(folder)
            return
        if depth > 0 and self._is_ollama(folder):
            self._ollama(folder)
            return
        found = sniff_folder(folder) if depth > 0 or (folder / "model_index.json").is_file() else None
        if found is not None and found.role != "unknown":
            self._add(folder, found, "files", name=folder.name)
            return
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            self.scan.problems.append(f"{folder}: {exc.strerror or exc}")
            return
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()  # follows links
                is_file = not is_dir and entry.is_file()
            except OSError:
                continue
            if is_dir:
                subfolders.append(Path(entry.path))
            elif is_file:
                self.scan.files_seen += 1
                if entry.name.lower().endswith(WEIGHT_SUFFIXES):
                    self._file(Path(entry.path), entry)
        for sub in sorted(subfolders):
            self._walk(sub, depth + 1)

    def _file(self, path: Path, entry: os.DirEntry | None = None, layout: str = "files", name: str = "") -> None:
        shard = _SHARD.search(path.name)
        if shard and shard.group(1) != "00001":
            return  # the first shard stands for a split GGUF
        try:
            st = entry.stat() if entry is not None else path.stat()
        except OSError:
            return
        if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
            return
        old = self.known.get(str(path))
        if old is not None and old.size_bytes == st.st_size and old.mtime_ns == st.st_mtime_ns and not old.missing:
            self.scan.models.append(old)
            return
        found = sniff_gguf(path) if layout == "ollama" else sniff_file(path)
        if found.role in ("unknown", "projector"):
            return
        self._add(path, found, layout, name=name or path.stem, size=st.st_size, mtime=st.st_mtime_ns)

    def _add(self, path: Path, found: Sniffed, layout: str, *, name: str, size: int = 0, mtime: int = 0) -> None:
        config = ""
        if found.format == "single_file" and found.role == "model":
            for candidate in (path.with_suffix(".yaml"), path.with_suffix(".yml")):
                if candidate.is_file():
                    config = str(candidate)
                    break
        self.scan.models.append(FoundModel(
            path=str(path), name=name, modality=found.modality, role=found.role, format=found.format,
            family=found.family, layout=layout, config=config, size_bytes=size, mtime_ns=mtime, note=found.note,
        ))

    # --- Hugging Face cache ---
    def _hf_repo(self, repo: Path) -> None:
        """``models--org--name``: the snapshot ``refs/main`` names, else the newest."""
        repo_id = repo.name[len("models--"):].replace("--", "/")
        snapshot = None
        try:
            ref = (repo / "refs" / "main").read_text(encoding="utf-8").strip()
            if ref and (repo / "snapshots" / ref).is_dir():
                snapshot = repo / "snapshots" / ref
        except OSError:
            pass
        if snapshot is None:
            try:
                snaps = [p for p in (repo / "snapshots").iterdir() if p.is_dir()]
            except OSError as exc:
                self.scan.problems.append(f"{repo}: {exc.strerror or exc}")
                return
            if not snaps:
                return
            snapshot = max(snaps, key=lambda p: p.stat().st_mtime)
        found = sniff_folder(snapshot)
        if found is not None and found.role != "unknown":
            self._add(snapshot, found, "hf-cache", name=repo_id)
            return
        try:
            files = sorted(p for p in snapshot.rglob("*") if p.name.lower().endswith(WEIGHT_SUFFIXES))
        except OSError:
            return
        for f in files:
            self.scan.files_seen += 1
            self._file(f, layout="hf-cache", name=f"{repo_id}/{f.stem}")

    # --- Ollama ---
    @staticmethod
    def _is_ollama(folder: Path) -> bool:
        return (folder / "manifests").is_dir() and (folder / "blobs").is_dir()

    def _ollama(self, root: Path) -> None:
        manifests = root / "manifests"
        for dirpath, _dirs, files in os.walk(manifests, followlinks=False):
            for name in files:
                manifest = Path(dirpath) / name
                self.scan.files_seen += 1
                data = read_json(manifest)
                layers = data.get("layers") if isinstance(data.get("layers"), list) else []
                layer = next((lay for lay in layers if isinstance(lay, dict)
                              and lay.get("mediaType") == OLLAMA_MODEL_LAYER), None)
                digest = str(layer.get("digest", "")) if layer else ""
                if not re.fullmatch(r"sha256[:-][0-9a-f]{64}", digest):
                    continue
                blob = root / "blobs" / digest.replace(":", "-")
                parts = manifest.relative_to(manifests).parts  # host / namespace / model / tag
                model = parts[-2] if len(parts) >= 2 else manifest.parent.name
                namespace = parts[-3] if len(parts) >= 3 else "library"
                label = (f"{namespace}/" if namespace != "library" else "") + f"{model}:{parts[-1]}"
                self._file(blob, layout="ollama", name=label)


def scan_folder(root: str | Path, known: dict[str, FoundModel] | None = None) -> FolderScan:
    """Every model under ``root`` (any of the layouts above), read from the files. Never raises for
    what is inside; OSError only when ``root`` itself cannot be read."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise NotADirectoryError(f"'{root}' is not a folder.")
    os.listdir(root)  # PermissionError here: the folder itself cannot be read
    return _Walk(root.resolve(), known or {}).run()


# --- the registered folders ---------------------------------------------------------------------
def _found(item) -> FoundModel | None:
    if not isinstance(item, dict) or not isinstance(item.get("path"), str):
        return None
    names = {f.name for f in fields(FoundModel)}
    try:
        return FoundModel(**{k: v for k, v in item.items() if k in names})
    except TypeError:
        return None


class ModelFolders:
    """The registered folders and what their last scan found (one JSON file, written atomically)."""

    def __init__(self, state_file: str | Path | None = None) -> None:
        self.file = Path(state_file) if state_file is not None else paths.model_folders_file()

    def _read(self) -> list[FolderScan]:
        try:
            raw = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        out = []
        for item in raw.get("folders", []) if isinstance(raw, dict) else []:
            if isinstance(item, dict) and isinstance(item.get("path"), str):
                models = [m for m in map(_found, item.get("models") or []) if m is not None]
                problems = [str(p) for p in item.get("problems") or []][:50]
                out.append(FolderScan(item["path"], models, problems, int(item.get("files_seen") or 0),
                                      float(item.get("seconds") or 0.0), float(item.get("scanned") or 0.0)))
        return out

    def _write(self, scans: list[FolderScan]) -> None:
        from ..library.atomic import atomic_write_text

        data = {"version": 1, "folders": [asdict(s) for s in scans]}
        atomic_write_text(self.file, json.dumps(data, ensure_ascii=True))

    def folders(self) -> list[FolderScan]:
        return self._read()

    def add(self, folder: str | Path) -> FolderScan:
        """Register ``folder`` and scan it. NotADirectoryError / OSError when it cannot be read."""
        scan = scan_folder(folder)
        scans = [s for s in self._read() if s.path != scan.path] + [scan]
        self._write(scans)
        return scan

    def remove(self, folder: str | Path) -> bool:
        target = str(Path(folder).expanduser().resolve())
        scans = self._read()
        kept = [s for s in scans if s.path != target]
        if len(kept) != len(scans):
            self._write(kept)
        return len(kept) != len(scans)

    def rescan(self) -> list[FolderScan]:
        """Scan every folder again. A model found before and gone now stays listed as missing (until
        its folder is removed); a folder that is gone keeps its models, all missing."""
        out = []
        for old in self._read():
            known = {m.path: m for m in old.models}
            try:
                scan = _Walk(Path(old.path), known).run() if Path(old.path).is_dir() else None
            except OSError:
                scan = None
            if scan is None:
                scan = FolderScan(old.path, problems=[f"{old.path}: the folder is not there"], scanned=time.time())
            here = {m.path for m in scan.models}
            for m in old.models:
                if m.path not in here and not Path(m.path).exists():
                    m.missing = True
                    scan.models.append(m)
            out.append(scan)
        self._write(out)
        return out

    def models(self) -> list[FoundModel]:
        """Everything found in every folder (with ``missing`` set for what is gone)."""
        out = []
        for scan in self._read():
            for m in scan.models:
                if not m.missing and not Path(m.path).exists():
                    m.missing = True
                out.append(m)
        return out

    def files(self, role: str) -> list[FoundModel]:
        """What the folders hold of one role ('lora', 'vae', 'controlnet', 'upscaler', 'embedding'),
        present now, by name: what the pickers beside a model offer."""
        found = [m for m in self.models() if m.role == role and not m.missing]
        return sorted(found, key=lambda m: m.name.lower())
