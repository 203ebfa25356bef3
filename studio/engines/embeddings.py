"""Textual-inversion embeddings, used as A1111 uses them (no Qt).

An embedding is a ``.safetensors`` file in the embeddings folder (:func:`studio.paths.embeddings_dir`) or one
given with ``--embedding FILE``; its name is the file's stem. A prompt (positive or negative) that names
it as a word (``my-style`` for ``my-style.safetensors``) uses it. Files hold A1111's layout
(``emb_params``; SDXL: ``clip_l`` and ``clip_g``), the older ``string_to_param`` one, or diffusers' own
(one tensor under the token's name). Only the header is read to check it (:func:`check_embedding`);
the tensors are loaded into the pipeline's tokenizer(s) and text encoder(s) for one job and taken out
afterwards (:func:`apply_embeddings` / :func:`remove_embeddings`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..errors import InvalidRequest, UnsafeModelFile
from ..library.inputs import check_input_file

#: text feature width per family and encoder (SDXL has two)
WIDTHS = {"sd1": {"clip_l": 768}, "sd2": {"clip_l": 1024}, "sdxl": {"clip_l": 768, "clip_g": 1280}}
_FAMILY_OF_WIDTH = {768: "Stable Diffusion 1.x", 1024: "Stable Diffusion 2.x", 1280: "Stable Diffusion XL"}


@dataclass(frozen=True)
class Embedding:
    name: str  # the word a prompt uses
    path: Path
    vectors: int
    widths: dict  # encoder ('clip_l' / 'clip_g') → width of its vectors


def _shapes(path: Path) -> dict[str, list[int]]:
    """Tensor name → shape from a .safetensors file's JSON header (no tensor is read, torch is not needed)."""
    import json
    import struct

    def bad(detail: str):
        return InvalidRequest(f"Embedding '{path.name}' is not a readable .safetensors file ({detail}).")

    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise bad("too short")
            (length,) = struct.unpack("<Q", head)
            if length > 100_000_000:
                raise bad("its header is too large")
            header = json.loads(f.read(length).decode("utf-8"))
    except InvalidRequest:
        raise
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise bad(str(exc)[:160]) from None
    if not isinstance(header, dict):
        raise bad("no tensor table")
    shapes = {}
    for key, value in header.items():
        if key == "__metadata__":
            continue
        shape = value.get("shape") if isinstance(value, dict) else None
        if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise bad(f"tensor {key!r:.40} has no shape")
        shapes[key] = shape
    return shapes


def check_embedding(path: str | Path) -> Embedding:
    """The embedding in ``path`` (a .safetensors file), its header checked."""
    p = check_input_file(path, "embedding")
    if p.suffix.lower() != ".safetensors":
        raise UnsafeModelFile(
            f"Embedding '{p.name}' is not a .safetensors file; pickled embeddings (.pt/.bin) can run code, so "
            "Studio loads embeddings only as .safetensors.",
            p,
        )
    shapes = _shapes(p)
    if "clip_l" in shapes or "clip_g" in shapes:
        tensors = {k: v for k, v in shapes.items() if k in ("clip_l", "clip_g")}
    elif "emb_params" in shapes:
        tensors = {"clip_l": shapes["emb_params"]}
    elif len(shapes) == 1:
        tensors = {"clip_l": next(iter(shapes.values()))}
    else:
        params = [v for k, v in shapes.items() if k.startswith("string_to_param")]
        if len(params) != 1:
            raise InvalidRequest(
                f"'{p.name}' is not a textual-inversion embedding (expected emb_params, clip_l/clip_g or one tensor; "
                f"found {len(shapes)} tensors)."
            )
        tensors = {"clip_l": params[0]}
    widths, vectors = {}, 1
    for key, shape in tensors.items():
        if len(shape) not in (1, 2) or not shape[-1]:
            raise InvalidRequest(f"Embedding '{p.name}' has a {key} tensor of shape {shape}, not a list of vectors.")
        widths[key] = shape[-1]
        vectors = shape[0] if len(shape) == 2 else 1
    return Embedding(p.stem, p, vectors, widths)


def check_fits(embedding: Embedding, family: str, want: dict | None = None) -> None:
    """Raise InvalidRequest when the embedding was made for another model family (wrong width); ``want``
    (encoder → width, read from the loaded model) overrides the family's widths."""
    want = want or WIDTHS.get(family)
    if not want:
        return
    for key, width in want.items():
        got = embedding.widths.get(key)
        if got is None and key == "clip_g":
            raise InvalidRequest(
                f"Embedding '{embedding.name}' has no vectors for SDXL's second text encoder (clip_g): it was made "
                f"for {_FAMILY_OF_WIDTH.get(embedding.widths.get('clip_l', 0), 'another model')}, not this SDXL model."
            )
        if got is not None and got != width:
            made_for = _FAMILY_OF_WIDTH.get(got, "another model")
            this = _FAMILY_OF_WIDTH.get(width, "this model")
            raise InvalidRequest(
                f"Embedding '{embedding.name}' has vectors {got} wide, made for {made_for}; this model "
                f"({this}) needs {width}-wide ones: use an embedding made for it."
            )


def available(extra: tuple[str, ...] = (), folder: Path | None = None, registered: tuple[str, ...] = ()) -> dict[str, Path]:
    """Name → file: embeddings of the person's registered model folders (``registered``: A1111's or ComfyUI's
    ``embeddings``), then Studio's embeddings folder, then the ones given explicitly (later ones win)."""
    folder = folder if folder is not None else paths.embeddings_dir()
    found: dict[str, Path] = {}
    for path in registered:
        p = Path(path)
        if p.suffix.lower() == ".safetensors":
            found[p.stem] = p
    if folder.is_dir():
        for f in sorted(folder.glob("*.safetensors")):
            if f.is_file():
                found[f.stem] = f
    for path in extra:
        p = Path(path).expanduser()
        found[p.stem] = p
    return found


def named_in(texts: list[str], names) -> list[str]:
    """The embedding names that appear as words in any of ``texts`` (A1111: the name in the prompt)."""
    out = []
    for name in names:
        pattern = re.compile(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])")
        if any(pattern.search(t) for t in texts):
            out.append(name)
    return out


def registered_embeddings(catalog) -> tuple[str, ...]:
    """The .safetensors embeddings found in the person's registered model folders, then the ones added one by
    one in the Models window (local catalog entries of format ``embedding``); none when unreadable."""
    found: list[str] = []
    folders_file = getattr(catalog, "folders_file", None)
    if folders_file is not None:
        try:
            from ..models.folders import ModelFolders

            found.extend(m.path for m in ModelFolders(folders_file).files("embedding"))
        except Exception:
            pass
    try:
        found.extend(e.path for e in catalog.entries("image-tools") if e.source == "local" and e.format == "embedding")
    except Exception:
        pass
    return tuple(found)


def for_request(prompts: list[str], explicit: tuple[str, ...], family: str, folder: Path | None = None,
                registered: tuple[str, ...] = ()) -> list[Embedding]:
    """The embeddings a job uses, checked: every one given explicitly, and the folders' that the prompts name."""
    files = available(explicit, folder, registered)
    wanted = {Path(p).expanduser().stem for p in explicit}
    wanted.update(named_in(prompts, [n for n in files if n not in wanted]))
    out = []
    for name in sorted(wanted):
        emb = check_embedding(files[name])
        check_fits(emb, family)
        out.append(emb)
    return out


def _tensors(embedding: Embedding) -> dict:
    from safetensors.torch import load_file

    data = load_file(str(embedding.path))
    if "clip_l" in data or "clip_g" in data:
        return {k: v for k, v in data.items() if k in ("clip_l", "clip_g")}
    if "emb_params" in data:
        return {"clip_l": data["emb_params"]}
    return {"clip_l": next(v for k, v in data.items() if len(data) == 1 or k.startswith("string_to_param"))}


def apply_embeddings(pipe, embeddings: list[Embedding]) -> list[str]:
    """Load each embedding under its name into the pipeline's tokenizer(s) and encoder(s); returns the names."""
    if not embeddings:
        return []
    names = []
    want = {"clip_l": int(pipe.text_encoder.get_input_embeddings().weight.shape[1])}
    if getattr(pipe, "text_encoder_2", None) is not None:
        want["clip_g"] = int(pipe.text_encoder_2.get_input_embeddings().weight.shape[1])
    for emb in embeddings:
        check_fits(emb, "", want)
    for emb in embeddings:
        tensors = _tensors(emb)
        try:
            vectors = tensors["clip_l"]
            pipe.load_textual_inversion(vectors if vectors.ndim == 2 else vectors[None], token=emb.name)
            if "clip_g" in tensors and getattr(pipe, "text_encoder_2", None) is not None:
                g = tensors["clip_g"]
                pipe.load_textual_inversion(
                    g if g.ndim == 2 else g[None],
                    token=emb.name,
                    text_encoder=pipe.text_encoder_2,
                    tokenizer=pipe.tokenizer_2,
                )
        except Exception as exc:
            remove_embeddings(pipe, names + [emb.name])
            raise InvalidRequest(f"Embedding '{emb.name}' could not be used with this model ({str(exc)[:200]}).") from None
        names.append(emb.name)
    return names


def remove_embeddings(pipe, names: list[str]) -> None:
    """Take the embeddings' tokens out again (the model is as it was before :func:`apply_embeddings`)."""
    if not names:
        return
    tokens = _added_tokens(pipe.tokenizer, names)
    if tokens:
        pipe.unload_textual_inversion(tokens)
    if getattr(pipe, "text_encoder_2", None) is not None:
        tokens = _added_tokens(pipe.tokenizer_2, names)
        if tokens:
            pipe.unload_textual_inversion(tokens, tokenizer=pipe.tokenizer_2, text_encoder=pipe.text_encoder_2)


def _added_tokens(tokenizer, names: list[str]) -> list[str]:
    added = set(tokenizer.get_added_vocab())
    out = []
    for name in names:
        out += [t for t in added if t == name or re.fullmatch(re.escape(name) + r"_\d+", t)]
    return out
