"""``studio models list|download|delete|add`` (and ``add-folder|folders|rescan|remove-folder``, in
:mod:`studio.cli.model_folders`): the catalog and the model files on this machine.

No Qt. States: bundled (ships with Studio), downloaded, downloadable, local (added by hand),
missing (a bundled package or local file that is gone).
"""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import InvalidRequest, ModelNotFound, NotDownloaded, WrongModelKind
from ..models.catalog import MODALITIES, Catalog, ModelEntry, human_size
from .common import config_of, path_arg

EXIT_OK = 0


def add_parser(sub) -> None:
    models = sub.add_parser("models", help="list, download, delete or add models")
    msub = models.add_subparsers(dest="models_command", required=True, parser_class=type(models))

    p = msub.add_parser("list", help="the catalog per modality, with state, size and memory needs")
    p.add_argument("--modality", choices=MODALITIES, default=None, help="only this kind of model")
    p.add_argument("--json", action="store_true", help="machine-readable output (one JSON list)")
    p.set_defaults(func=run_list)

    p = msub.add_parser("download", help="download a catalog model or any hub id (resumes if interrupted)")
    p.add_argument("model", metavar="ID_OR_REPO", help="catalog id (see `studio models list`) or hub id org/name")
    p.add_argument(
        "--include",
        action="append",
        default=None,
        metavar="PATTERN",
        help="only files matching this glob (repeatable); default: the catalog's choice, else configs + .safetensors",
    )
    p.set_defaults(func=run_download)

    p = msub.add_parser("delete", help="delete a downloaded model, or forget a local one (its files stay)")
    p.add_argument("model", metavar="ID", help="catalog id, hub id or local model id")
    p.set_defaults(func=run_delete)

    p = msub.add_parser("add", help="add a model file or folder from this computer")
    p.add_argument("path", type=path_arg, help=".gguf / .safetensors / .onnx file, or a transformers/diffusers folder")
    p.add_argument("--modality", choices=MODALITIES, default=None, help="what it is for (default: read from its files)")
    p.add_argument("--name", default="", help="name shown in the lists (default: the file or folder name)")
    p.set_defaults(func=run_add)

    from .model_folders import add_parsers

    add_parsers(msub)


# --- list ---
def run_list(args: argparse.Namespace) -> int:
    catalog = Catalog()
    modalities = [args.modality] if args.modality else list(MODALITIES)
    rows = []
    for modality in modalities:
        for entry in catalog.entries(modality, include_cached=True):
            rows.append((entry, catalog.state(entry)))
    if catalog.damaged:
        print(f"studio: warning: {catalog.damaged}", file=sys.stderr)
    if args.json:
        data = [
            {
                "id": e.id,
                "name": e.name,
                "modality": e.modality,
                "source": e.source,
                "state": state,
                "size_bytes": e.size_bytes,
                "memory_bytes": e.memory_bytes,
                "licence": e.licence,
                "repo_id": e.repo_id,
                "path": e.path,
                "format": e.format,
            }
            for e, state in rows
        ]
        print(json.dumps(data, indent=2))
        return EXIT_OK
    width = max([len(e.id) for e, _ in rows] + [2])
    for modality in modalities:
        print(modality.upper())
        listed = [(e, s) for e, s in rows if e.modality == modality]
        if not listed:
            print("  (none)")
        for entry, state in listed:
            size = human_size(entry.size_bytes) if entry.size_bytes else "?"
            memory = f"needs {human_size(entry.memory_bytes)}" if entry.memory_bytes else "needs ?"
            print(f"  {entry.id:<{width}}  {state:<12}  {size:>8}  {memory:<14}  {entry.name}")
        print()
    return EXIT_OK


# --- download ---
def run_download(args: argparse.Namespace) -> int:
    from ..models.download import cli_download
    from ..models.entry import restricted_licence
    from ..models.resolve import looks_like_hub_id

    catalog = Catalog()
    entry = _find(catalog, args.model)
    if entry is not None and entry.source == "coqui":  # coqui-tts fetches these itself, by name
        return _download_coqui(entry, config_of(args).offline)
    if entry is not None and entry.source != "hub":
        where = "ships with Studio" if entry.source == "bundled" else f"is a local model ({entry.path})"
        print(f"'{entry.name}' {where}: nothing to download.", file=sys.stderr)
        return EXIT_OK
    if entry is None and not looks_like_hub_id(args.model):
        raise ModelNotFound(
            f"No model called '{args.model}': not a catalog id or a hub id like org/name. "
            "`studio models list` shows the catalog."
        )
    repo_id = entry.repo_id if entry is not None else args.model
    if entry is not None and restricted_licence(entry) and not config_of(args).offline:
        print(f"'{entry.name}' comes under its own licence: {entry.licence}. Downloading it means accepting it.",
              file=sys.stderr)
    patterns = args.include or (list(entry.allow_patterns) if entry is not None and entry.allow_patterns else None)
    path = cli_download(repo_id, patterns, offline=config_of(args).offline)
    print(path)
    return EXIT_OK


def _download_coqui(entry, offline: bool) -> int:
    from ..models import coqui_zoo

    folder = coqui_zoo.downloaded(entry.repo_id)
    if folder is not None:
        print(f"'{entry.name}' is already downloaded: {folder}", file=sys.stderr)
        print(folder)
        return EXIT_OK
    if offline:
        raise NotDownloaded(
            f"'{entry.name}' is not downloaded and Studio is offline: coqui-tts fetches it from the network. "
            "Switch offline mode off (or unset HF_HUB_OFFLINE) and run this again.",
            entry.id,
        )
    print(coqui_zoo.download(entry.repo_id))
    return EXIT_OK


# --- delete ---
def run_delete(args: argparse.Namespace) -> int:
    from ..models.download import delete_model

    catalog = Catalog()
    entry = _find(catalog, args.model)
    if entry is None:
        raise ModelNotFound(f"No model '{args.model}' to delete. `studio models list` shows what is installed.")
    if entry.source == "hub" and catalog.cached_repos().get(entry.repo_id) is None:
        print(f"'{entry.name}' is not downloaded: nothing to delete.", file=sys.stderr)
        return EXIT_OK
    if entry.id.startswith("folder:"):
        print(f"'{entry.name}' is used in place from a model folder: nothing deleted. "
              "`studio models remove-folder DIR` stops using the folder.", file=sys.stderr)
        return EXIT_OK
    freed = delete_model(entry, catalog)
    if entry.source == "local":
        print(f"Removed '{entry.name}' from the list; its files stay in {entry.path}.")
    else:
        print(f"Deleted '{entry.name}' ({human_size(freed)} freed).")
    return EXIT_OK


# --- add ---
def run_add(args: argparse.Namespace) -> int:
    from ..models.formats import KIND_WORDS, modality_of, readable_format

    if args.name:
        try:
            args.name.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRequest("--name is not valid UTF-8 text; check the terminal's encoding.") from None
        if len(args.name) > 200 or not args.name.isprintable():
            raise InvalidRequest("--name must be one line of at most 200 printable characters.")
    path = args.path.expanduser()
    if not path.exists():
        raise ModelNotFound(f"No file or folder at '{args.path}'.")
    path = path.resolve()
    fmt = readable_format(path)
    detected = modality_of(path, fmt)
    if args.modality and detected and args.modality != detected:
        raise WrongModelKind(f"'{path.name}' looks like {KIND_WORDS[detected]}, not {KIND_WORDS[args.modality]}.")
    modality = args.modality or detected
    if not modality:
        raise ModelNotFound(
            f"Studio cannot tell what '{path.name}' is for: say it with --modality {{{','.join(MODALITIES)}}}."
        )
    catalog = Catalog()
    entry = catalog.add_local(path, modality, name=args.name)
    if catalog.notice:
        print(f"studio: warning: {catalog.notice}", file=sys.stderr)
    print(f"Added {entry.id} ({modality}, {entry.format}, {human_size(entry.size_bytes)}).")
    return EXIT_OK


def _find(catalog: Catalog, spec: str) -> ModelEntry | None:
    """:meth:`Catalog.find`, plus hub repos in the cache of a kind Studio does not list (to delete them)."""
    spec = spec.strip()
    entry = catalog.find(spec)
    if entry is None and spec in catalog.cached_repos():
        return ModelEntry(id=spec, name=spec, modality="", source="hub", repo_id=spec)
    return entry
