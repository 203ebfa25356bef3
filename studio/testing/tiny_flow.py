"""Tiny flow-matching pipelines for the tests and benchmarks: SD 3.x and FLUX.1, built offline from configs.

They follow the layout of diffusers' own pipeline tests (random weights, a handful of layers) and are
saved with ``save_pretrained`` (safetensors), so the engine loads them exactly as a downloaded
``stabilityai/stable-diffusion-3.5-*`` or ``black-forest-labs/FLUX.1-*`` snapshot: ``model_index.json``
names ``StableDiffusion3Pipeline`` / ``FluxPipeline``, with CLIP tokenizers written here and a T5
tokenizer trained here (no hub).

* SD 3.x: an ``SD3Transformer2DModel`` (patch 2), two CLIP encoders with projection, a T5 encoder, a
  16-channel VAE with 8× down-scaling, ``FlowMatchEulerDiscreteScheduler`` (shift 3, as the real ones).
* FLUX.1: a ``FluxTransformer2DModel`` (``guidance_embeds`` True = dev-like, False = schnell-like), a CLIP
  and a T5 encoder, a 16-channel VAE with 8× down-scaling (latents packed 2×2, so sizes are multiples of 16),
  ``FlowMatchEulerDiscreteScheduler`` with dynamic shifting, as the real ones.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .tiny_music import _t5_tokenizer
from .tiny_sd import _clip_config, write_tiny_tokenizer

LATENT_CHANNELS = 16
T5_DIM = 32
CLIP_DIM = 32


def _vae(seed: int):
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(
        block_out_channels=(8, 8, 16, 16),  # four blocks: 8× down-scaling like the real VAE
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=LATENT_CHANNELS,
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=64,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.0609,
        scaling_factor=1.5035,
    )


def _t5(tokenizer):
    from transformers import T5Config, T5EncoderModel

    config = T5Config(
        vocab_size=max(128, len(tokenizer)),
        d_model=T5_DIM,
        d_kv=8,
        d_ff=37,
        num_layers=1,
        num_heads=4,
        relative_attention_num_buckets=8,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    return T5EncoderModel(config)


def _clip_tokenizers(folder: Path, count: int) -> list:
    from transformers import CLIPTokenizer

    tok_dir = folder.parent / f".{folder.name}-tokenizer"
    write_tiny_tokenizer(tok_dir)
    toks = [CLIPTokenizer.from_pretrained(str(tok_dir), model_max_length=77)]
    if count > 1:
        toks.append(CLIPTokenizer.from_pretrained(str(tok_dir), model_max_length=77, pad_token="!"))
    shutil.rmtree(tok_dir)
    return toks


def build_tiny_sd3(folder: str | Path, seed: int = 0) -> Path:
    """Save a tiny SD 3.x pipeline to ``folder`` (safetensors, like a hub snapshot)."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline
    from transformers import CLIPTextModelWithProjection

    folder = Path(folder)
    torch.manual_seed(seed)
    transformer = SD3Transformer2DModel(
        sample_size=8,
        patch_size=2,
        in_channels=LATENT_CHANNELS,
        out_channels=LATENT_CHANNELS,
        num_layers=2,
        attention_head_dim=8,
        num_attention_heads=4,
        caption_projection_dim=32,
        joint_attention_dim=T5_DIM,
        pooled_projection_dim=2 * CLIP_DIM,
    )
    text_encoder = CLIPTextModelWithProjection(_clip_config(CLIP_DIM))
    text_encoder_2 = CLIPTextModelWithProjection(_clip_config(CLIP_DIM))
    t5_tokenizer = _t5_tokenizer()
    tokenizer, tokenizer_2 = _clip_tokenizers(folder, 2)
    pipe = StableDiffusion3Pipeline(
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        vae=_vae(seed + 1),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        text_encoder_2=text_encoder_2,
        tokenizer_2=tokenizer_2,
        text_encoder_3=_t5(t5_tokenizer),
        tokenizer_3=t5_tokenizer,
    )
    pipe.save_pretrained(str(folder), safe_serialization=True)
    return folder


def build_tiny_flux(folder: str | Path, seed: int = 0, *, guidance_embeds: bool = True) -> Path:
    """Save a tiny FLUX.1 pipeline to ``folder``: dev-like (``guidance_embeds``) or schnell-like."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextModel

    folder = Path(folder)
    torch.manual_seed(seed)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=LATENT_CHANNELS * 4,  # latents packed 2×2
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=T5_DIM,
        pooled_projection_dim=CLIP_DIM,
        guidance_embeds=guidance_embeds,
        axes_dims_rope=(4, 4, 8),
    )
    t5_tokenizer = _t5_tokenizer()
    (tokenizer,) = _clip_tokenizers(folder, 1)
    scheduler = FlowMatchEulerDiscreteScheduler(
        shift=3.0,
        use_dynamic_shifting=True,
        base_shift=0.5,
        max_shift=1.15,
        base_image_seq_len=256,
        max_image_seq_len=4096,
    )
    pipe = FluxPipeline(
        transformer=transformer,
        scheduler=scheduler,
        vae=_vae(seed + 1),
        text_encoder=CLIPTextModel(_clip_config(CLIP_DIM)),
        tokenizer=tokenizer,
        text_encoder_2=_t5(t5_tokenizer),
        tokenizer_2=t5_tokenizer,
    )
    pipe.save_pretrained(str(folder), safe_serialization=True)
    return folder


def build_tiny_flux_fill(folder: str | Path, base: str | Path, seed: int = 2) -> Path:
    """Save a tiny FLUX.1 Fill pipeline (the inpainting FLUX) beside a tiny FLUX folder ``base``: the same parts
    with a transformer that takes the packed latents, the masked picture's latents and the mask (64+64+256)."""
    import torch
    from diffusers import FluxFillPipeline, FluxTransformer2DModel

    parts = FluxFillPipeline.from_pretrained(str(base)).components
    config = dict(parts["transformer"].config)
    config.update(in_channels=LATENT_CHANNELS * 4 * 2 + 8 * 8 * 4, out_channels=LATENT_CHANNELS * 4)
    torch.manual_seed(seed)
    parts["transformer"] = FluxTransformer2DModel.from_config(config)
    FluxFillPipeline(**parts).save_pretrained(str(folder), safe_serialization=True)
    return Path(folder)


def export_gguf_transformer(pipeline_folder: str | Path, path: str | Path, quant: str = "Q8_0") -> Path:
    """Write the transformer of a tiny SD3/FLUX folder as a GGUF file, as the community quantizations ship it:
    2-D weights quantized (``quant``, when their rows fit its blocks), the rest in float32, and
    ``general.architecture`` set to the family. Diffusers' key layout (its single-file loader reads both)."""
    import json

    import gguf
    import numpy as np
    from diffusers import FluxTransformer2DModel, SD3Transformer2DModel

    folder, path = Path(pipeline_folder), Path(path)
    cls_name = json.loads((folder / "transformer" / "config.json").read_text())["_class_name"]
    cls, arch = (FluxTransformer2DModel, "flux") if cls_name.startswith("Flux") else (SD3Transformer2DModel, "sd3")
    transformer = cls.from_pretrained(str(folder), subfolder="transformer")
    qtype = gguf.GGMLQuantizationType[quant]
    block = gguf.GGML_QUANT_SIZES[qtype][0]
    writer = gguf.GGUFWriter(str(path), arch)
    for name, tensor in transformer.state_dict().items():
        data = tensor.float().numpy()
        if data.ndim == 2 and data.shape[-1] % block == 0:
            packed = gguf.quants.quantize(data, qtype)
            writer.add_tensor(name, packed, raw_shape=packed.shape, raw_dtype=qtype)
        else:
            writer.add_tensor(name, data.astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def cache_as_hub_repo(folder: str | Path, repo_id: str, cache: str | Path) -> Path:
    """Copy a pipeline folder into a Hugging Face cache (``models--org--name/snapshots/<commit>``, ``refs/main``),
    the way a finished download lays it out; returns the snapshot folder."""
    import hashlib
    import shutil

    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    repo = Path(cache) / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    shutil.copytree(folder, snapshot, dirs_exist_ok=True)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return snapshot
