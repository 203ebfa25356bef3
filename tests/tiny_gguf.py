"""A tiny Llama written as a GGUF file with the ``gguf`` package, for the llama.cpp runtime tests.

Two layers, 32 wide, float32 weights drawn from a fixed seed, and the byte-level BPE tokenizer of
the tiny transformers model (``studio/testing/tiny_llm.py``) with everything llama.cpp's loader needs:
token list, types, merges, bos/eos ids and a chat template. The weights make end-of-turn tokens
very unlikely (``eos="never"``), so tests control the reply length with max new tokens, or
certain (``eos="always"``) for the end-of-reply test.
"""

from __future__ import annotations

import json
from pathlib import Path

from studio.testing.tiny_llm import CHAT_TEMPLATE, TINY_SPECIALS, train_tiny_tokenizer

WIDTH, FFN, LAYERS, HEADS = 32, 64, 2, 2


def tiny_vocab() -> tuple[list[str], list[str]]:
    """(tokens in id order, merges as 'a b') of the tiny BPE tokenizer."""
    model = json.loads(train_tiny_tokenizer().to_str())["model"]
    tokens = [""] * len(model["vocab"])
    for text, index in model["vocab"].items():
        tokens[index] = text
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    return tokens, merges


def build_tiny_gguf(
    path: str | Path,
    *,
    chat_template: str | None = CHAT_TEMPLATE,
    context: int = 256,
    eos: str = "never",
    architecture: str = "llama",
) -> str:
    import gguf
    import numpy as np

    path = Path(path)
    tokens, merges = tiny_vocab()
    n_vocab = len(tokens)
    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_name("tiny-chat")
    writer.add_context_length(context)
    writer.add_embedding_length(WIDTH)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_rope_dimension_count(WIDTH // HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_vocab_size(n_vocab)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")  # the GPT-2 split, as the HF ByteLevel tokenizer does
    writer.add_token_list(tokens)
    writer.add_token_types(
        [gguf.TokenType.CONTROL if i < len(TINY_SPECIALS) else gguf.TokenType.NORMAL for i in range(n_vocab)]
    )
    writer.add_token_merges(merges)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_pad_token_id(3)
    writer.add_add_bos_token(False)
    if chat_template is not None:
        writer.add_chat_template(chat_template)

    rng = np.random.default_rng(0)

    def rand(*shape, scale=0.02):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    # Dimension 0 of every embedding is 1 and dominates the final norm, so output column 0 sets a
    # bias per token: 0 for ordinary tokens, far below (or above) for the special ones.
    embed = rand(n_vocab, WIDTH)
    embed[:, 0] = 1.0
    output = rand(n_vocab, WIDTH, scale=1.0)
    output[:, 0] = 0.0
    output[: len(TINY_SPECIALS), 0] = -3.0
    if eos == "always":
        output[2, 0] = 3.0  # <|im_end|>, the end of turn
    writer.add_tensor("token_embd.weight", embed)
    writer.add_tensor("output_norm.weight", np.ones(WIDTH, dtype=np.float32))
    writer.add_tensor("output.weight", output)
    for i in range(LAYERS):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(WIDTH, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"blk.{i}.{name}.weight", rand(WIDTH, WIDTH))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(WIDTH, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", rand(FFN, WIDTH))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", rand(FFN, WIDTH))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", rand(WIDTH, FFN))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return str(path)
