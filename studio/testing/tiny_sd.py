"""Tiny Stable Diffusion models for tests and benchmarks, built offline from configs (random weights).

* :func:`build_tiny_sd` saves a diffusers pipeline folder (UNet2DConditionModel, AutoencoderKL,
  CLIPTextModel, a CLIPTokenizer from a tiny vocab.json/merges.txt written here, a PNDM scheduler),
  exactly as a downloaded model looks, so the engine loads it through the public API.
* :func:`export_single_file` writes the same weights in the original Stable Diffusion (LDM) key
  layout, as an A1111/civitai ``.safetensors`` checkpoint; :func:`write_config_root` writes the
  weight-free config folder that ``from_single_file`` needs for it (like assets/configs).
* :func:`build_tiny_lora` makes a LoRA file for the tiny UNet with peft.

Sizes: a 64×64 image is an 8×8 latent; a 10-step generation takes well under a second on a CPU.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

TEXT_DIM = 32


def _bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


_MERGES = [("t", "h"), ("th", "e</w>"), ("a", "t</w>"), ("c", "at</w>"), ("d", "o"), ("do", "g</w>"), ("r", "e")]


def write_tiny_tokenizer(folder: Path) -> None:
    """vocab.json/merges.txt in CLIP's layout: byte alphabet, word-final forms, a few merges, specials."""
    folder.mkdir(parents=True, exist_ok=True)
    alphabet = list(_bytes_to_unicode().values())
    tokens = alphabet + [a + "</w>" for a in alphabet] + ["".join(m) for m in _MERGES]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in _MERGES) + "\n", encoding="utf-8")


TEXT2_DIM = 48  # SDXL's second (OpenCLIP) encoder: a different width, as in the real model (768 vs 1280)
CONFIG_DIRS = {"sd1": "sd15", "sd2": "sd2", "sdxl": "sdxl"}


def _clip_config(hidden: int, act: str = "gelu"):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=1000,
        hidden_size=hidden,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        projection_dim=hidden,
        hidden_act=act,
        bos_token_id=0,
        eos_token_id=2,
        pad_token_id=1,
    )


def tiny_components(seed: int = 0, family: str = "sd1", inpainting: bool = False) -> dict:
    """Random-weight modules shaped like SD 1.x ('sd1'), 2.x ('sd2', v-prediction) or XL ('sdxl');
    ``inpainting``: a dedicated inpainting UNet (9 input channels: latents, mask, masked-image latents)."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    xl = family == "sdxl"
    unet_extra = {}
    if xl:
        unet_extra = dict(
            addition_embed_type="text_time",
            addition_time_embed_dim=8,
            projection_class_embeddings_input_dim=6 * 8 + TEXT2_DIM,
            use_linear_projection=True,
        )
    elif family == "sd2":
        unet_extra = dict(use_linear_projection=True)
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=9 if inpainting else 4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TEXT_DIM + TEXT2_DIM if xl else TEXT_DIM,
        attention_head_dim=(2, 4),
        norm_num_groups=32,
        **unet_extra,
    )
    vae = AutoencoderKL(
        block_out_channels=(8, 8, 16, 16),  # four blocks: 8× down-scaling like the real VAE
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=64,
    )
    parts = {"unet": unet, "vae": vae, "text_encoder": CLIPTextModel(_clip_config(TEXT_DIM))}
    common = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1)
    if xl:
        parts["text_encoder_2"] = CLIPTextModelWithProjection(_clip_config(TEXT2_DIM))
        parts["scheduler"] = EulerDiscreteScheduler(**common, timestep_spacing="leading")
    else:
        prediction = "v_prediction" if family == "sd2" else "epsilon"
        parts["scheduler"] = PNDMScheduler(**common, skip_prk_steps=True, set_alpha_to_one=False, prediction_type=prediction)
    return parts


def build_tiny_sd(folder: str | Path, seed: int = 0, family: str = "sd1", inpainting: bool = False) -> Path:
    """Save a tiny SD pipeline ('sd1', 'sd2' or 'sdxl') to ``folder`` (safetensors, like a hub snapshot);
    ``inpainting`` saves a 9-channel inpainting model as its *InpaintPipeline class, like the hub's."""
    from diffusers import (
        StableDiffusionInpaintPipeline,
        StableDiffusionPipeline,
        StableDiffusionXLInpaintPipeline,
        StableDiffusionXLPipeline,
    )
    from transformers import CLIPTokenizer

    folder = Path(folder)
    parts = tiny_components(seed, family, inpainting)
    tok_dir = folder.parent / f".{folder.name}-tokenizer"
    write_tiny_tokenizer(tok_dir)
    parts["tokenizer"] = CLIPTokenizer.from_pretrained(str(tok_dir), model_max_length=77)
    if family == "sdxl":
        parts["tokenizer_2"] = CLIPTokenizer.from_pretrained(str(tok_dir), model_max_length=77, pad_token="!")
        cls = StableDiffusionXLInpaintPipeline if inpainting else StableDiffusionXLPipeline
        pipe = cls(**parts, force_zeros_for_empty_prompt=True)
    else:
        cls = StableDiffusionInpaintPipeline if inpainting else StableDiffusionPipeline
        pipe = cls(
            **parts, safety_checker=None, feature_extractor=None, requires_safety_checker=False
        )
    shutil.rmtree(tok_dir)
    pipe.save_pretrained(str(folder), safe_serialization=True)
    return folder


def build_tiny_vae(folder: str | Path, seed: int = 1) -> Path:
    """Another tiny VAE (different weights), saved as a diffusers AutoencoderKL folder."""
    vae = tiny_components(seed)["vae"]
    vae.save_pretrained(str(folder), safe_serialization=True)
    return Path(folder)


def write_config_root(pipeline_folder: Path, root: Path, family: str = "sd1") -> Path:
    """A weight-free copy of a pipeline folder's configs as ``root/<sd15|sd2|sdxl>``, laid out like
    assets/configs: the tokenizer vocabulary once, in ``root/clip-tokenizer``."""
    target = root / CONFIG_DIRS[family]
    vocabulary = ("tokenizer.json", "vocab.json", "merges.txt")
    shutil.copytree(pipeline_folder, target, ignore=shutil.ignore_patterns("*.safetensors", "*.bin", *vocabulary))
    write_tiny_tokenizer(root / "clip-tokenizer")  # the vocabulary build_tiny_sd gave every tokenizer
    return root


# --- diffusers → original (LDM) key layout ---------------------------------------------------------

_RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "norm2": "out_layers.0", "conv2": "out_layers.3",
           "time_emb_proj": "emb_layers.1", "conv_shortcut": "skip_connection"}


def _move(sd: dict, out: dict, src: str, dst: str, rename: dict | None = None) -> None:
    for key in [k for k in sd if k.startswith(src + ".")]:
        rest = key[len(src) + 1 :]
        head, _, tail = rest.partition(".")
        if rename and head in rename:
            rest = rename[head] + ("." + tail if tail else "")
        out[f"{dst}.{rest}"] = sd.pop(key)


def unet_to_ldm(unet) -> dict:
    sd = dict(unet.state_dict())
    cfg = unet.config
    per = cfg.layers_per_block
    n = len(cfg.block_out_channels)
    out: dict = {}
    for src, dst in (("time_embedding.linear_1", "time_embed.0"), ("time_embedding.linear_2", "time_embed.2"),
                     ("conv_in", "input_blocks.0.0"), ("conv_norm_out", "out.0"), ("conv_out", "out.2"),
                     ("add_embedding.linear_1", "label_emb.0.0"), ("add_embedding.linear_2", "label_emb.0.2")):
        _move(sd, out, src, dst)
    for i in range(n):
        for j in range(per):
            idx = 1 + i * (per + 1) + j
            _move(sd, out, f"down_blocks.{i}.resnets.{j}", f"input_blocks.{idx}.0", _RESNET)
            _move(sd, out, f"down_blocks.{i}.attentions.{j}", f"input_blocks.{idx}.1")
        _move(sd, out, f"down_blocks.{i}.downsamplers.0.conv", f"input_blocks.{(i + 1) * (per + 1)}.0.op")
    _move(sd, out, "mid_block.resnets.0", "middle_block.0", _RESNET)
    _move(sd, out, "mid_block.attentions.0", "middle_block.1")
    _move(sd, out, "mid_block.resnets.1", "middle_block.2", _RESNET)
    for i in range(n):
        has_attn = any(k.startswith(f"up_blocks.{i}.attentions.") for k in sd)
        for j in range(per + 1):
            idx = i * (per + 1) + j
            _move(sd, out, f"up_blocks.{i}.resnets.{j}", f"output_blocks.{idx}.0", _RESNET)
            _move(sd, out, f"up_blocks.{i}.attentions.{j}", f"output_blocks.{idx}.1")
        _move(sd, out, f"up_blocks.{i}.upsamplers.0.conv", f"output_blocks.{i * (per + 1) + per}.{2 if has_attn else 1}.conv")
    if sd:
        raise ValueError(f"unmapped UNet keys: {sorted(sd)[:5]}")
    return {f"model.diffusion_model.{k}": v for k, v in out.items()}


def vae_to_ldm(vae) -> dict:
    sd = dict(vae.state_dict())
    n = len(vae.config.block_out_channels)
    res = {"conv_shortcut": "nin_shortcut"}
    out: dict = {}
    for side in ("encoder", "decoder"):
        for src, dst in (("conv_in", "conv_in"), ("conv_out", "conv_out"), ("conv_norm_out", "norm_out")):
            _move(sd, out, f"{side}.{src}", f"{side}.{dst}")
        _move(sd, out, f"{side}.mid_block.resnets.0", f"{side}.mid.block_1", res)
        _move(sd, out, f"{side}.mid_block.resnets.1", f"{side}.mid.block_2", res)
        attn = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out": "proj_out"}
        for key in [k for k in sd if k.startswith(f"{side}.mid_block.attentions.0.")]:
            rest = key[len(f"{side}.mid_block.attentions.0.") :]
            head, _, tail = rest.partition(".")
            if head == "to_out":
                tail = tail.partition(".")[2]  # to_out.0.weight → proj_out.weight
            value = sd.pop(key)
            if value.ndim == 2:  # linear in diffusers, 1×1 conv in the original
                value = value[:, :, None, None]
            out[f"{side}.mid.attn_1.{attn[head]}.{tail}"] = value
    for i in range(n):
        _move(sd, out, f"encoder.down_blocks.{i}.resnets", f"encoder.down.{i}.block", None)
        _move(sd, out, f"encoder.down_blocks.{i}.downsamplers.0.conv", f"encoder.down.{i}.downsample.conv")
        _move(sd, out, f"decoder.up_blocks.{i}.resnets", f"decoder.up.{n - 1 - i}.block", None)
        _move(sd, out, f"decoder.up_blocks.{i}.upsamplers.0.conv", f"decoder.up.{n - 1 - i}.upsample.conv")
    for src in ("quant_conv", "post_quant_conv"):
        _move(sd, out, src, src)
    if sd:
        raise ValueError(f"unmapped VAE keys: {sorted(sd)[:5]}")
    return {k.replace("conv_shortcut", "nin_shortcut"): v for k, v in out.items()}


def text_encoder_to_ldm(text_encoder, prefix: str = "cond_stage_model.transformer.") -> dict:
    """A transformers CLIP text model in the original (OpenAI CLIP, transformers-style) layout."""
    out = {}
    for key, value in text_encoder.state_dict().items():
        key = key if key.startswith("text_model.") else "text_model." + key
        out[prefix + key] = value
    return out


def open_clip_to_ldm(text_encoder, prefix: str) -> dict:
    """A transformers CLIP text model in OpenCLIP's layout (SD 2.x ``cond_stage_model.model.``, SDXL
    ``conditioner.embedders.1.model.``): fused q/k/v ``in_proj``, ``resblocks``, ``ln_final`` …"""
    import torch

    sd = {(k if k.startswith(("text_model.", "text_projection")) else "text_model." + k): v
          for k, v in text_encoder.state_dict().items()}
    out = {
        "token_embedding.weight": sd.pop("text_model.embeddings.token_embedding.weight"),
        "positional_embedding": sd.pop("text_model.embeddings.position_embedding.weight"),
        "ln_final.weight": sd.pop("text_model.final_layer_norm.weight"),
        "ln_final.bias": sd.pop("text_model.final_layer_norm.bias"),
    }
    if "text_projection.weight" in sd:
        out["text_projection"] = sd.pop("text_projection.weight").T.contiguous()
    for i in range(text_encoder.config.num_hidden_layers):
        src, dst = f"text_model.encoder.layers.{i}.", f"transformer.resblocks.{i}."
        for kind in ("weight", "bias"):
            out[dst + f"attn.in_proj_{kind}"] = torch.cat([sd.pop(src + f"self_attn.{p}_proj.{kind}") for p in "qkv"])
            out[dst + f"attn.out_proj.{kind}"] = sd.pop(src + f"self_attn.out_proj.{kind}")
            out[dst + f"ln_1.{kind}"] = sd.pop(src + f"layer_norm1.{kind}")
            out[dst + f"ln_2.{kind}"] = sd.pop(src + f"layer_norm2.{kind}")
            out[dst + f"mlp.c_fc.{kind}"] = sd.pop(src + f"mlp.fc1.{kind}")
            out[dst + f"mlp.c_proj.{kind}"] = sd.pop(src + f"mlp.fc2.{kind}")
    leftover = [k for k in sd if not k.endswith("position_ids")]
    if leftover:
        raise ValueError(f"unmapped text encoder keys: {leftover[:5]}")
    return {prefix + k: v for k, v in out.items()}


def export_single_file(pipeline_folder: Path, path: Path, *, family: str = "sd1", pickle: bool = False) -> Path:
    """The pipeline's weights as one original-layout checkpoint (.safetensors, or a .ckpt when ``pickle``)."""
    import torch
    from diffusers import DiffusionPipeline

    pipe = DiffusionPipeline.from_pretrained(str(pipeline_folder), local_files_only=True)
    state = {}
    state.update(unet_to_ldm(pipe.unet))
    state.update({f"first_stage_model.{k}": v for k, v in vae_to_ldm(pipe.vae).items()})
    if family == "sdxl":
        state.update(text_encoder_to_ldm(pipe.text_encoder, "conditioner.embedders.0.transformer."))
        state.update(open_clip_to_ldm(pipe.text_encoder_2, "conditioner.embedders.1.model."))
    elif family == "sd2":
        state.update(open_clip_to_ldm(pipe.text_encoder, "cond_stage_model.model."))
    else:
        state.update(text_encoder_to_ldm(pipe.text_encoder))
    state = {k: v.detach().contiguous().clone() for k, v in state.items()}
    if pickle:
        torch.save({"state_dict": state, "global_step": 1}, str(path))
    else:
        from safetensors.torch import save_file

        save_file(state, str(path))
    return path


def export_vae_single_file(vae_folder: Path, path: Path) -> Path:
    """A VAE in the original layout without prefix (as VAE files on model sites are)."""
    from diffusers import AutoencoderKL
    from safetensors.torch import save_file

    vae = AutoencoderKL.from_pretrained(str(vae_folder), local_files_only=True)
    save_file({k: v.contiguous().clone() for k, v in vae_to_ldm(vae).items()}, str(path))
    return path


def build_tiny_lora(pipeline_folder: Path, folder: Path, seed: int = 3) -> Path:
    """A LoRA (rank 4, random non-zero weights) on the tiny UNet's attention, in diffusers' LoRA format."""
    import torch
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = UNet2DConditionModel.from_pretrained(str(pipeline_folder), subfolder="unet", local_files_only=True)
    torch.manual_seed(seed)
    unet.add_adapter(
        LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"], init_lora_weights="gaussian")
    )
    with torch.no_grad():  # gaussian init leaves B at zero: make the LoRA actually change something
        for name, param in unet.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    StableDiffusionPipeline.save_lora_weights(str(folder), unet_lora_layers=get_peft_model_state_dict(unet))
    return folder / "pytorch_lora_weights.safetensors"


def build_comfyui_sd15_checkpoint(path: Path, seed: int = 0) -> Path:
    """A random-weight checkpoint that ComfyUI (which reads shapes, not configs) takes for SD 1.5: CLIP-L and
    the SD VAE at their real sizes (ComfyUI builds those from fixed configs), and a one-level UNet with SD 1.5's
    320 channels and 768-wide cross-attention (25 M parameters, so sampling on a CPU is quick). fp16, 0.47 GB."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, block_out_channels=(320,), layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D",), up_block_types=("CrossAttnUpBlock2D",), cross_attention_dim=768,
        attention_head_dim=8, norm_num_groups=32,
    )
    vae = AutoencoderKL(
        block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=2, latent_channels=4, norm_num_groups=32,
    )
    clip = CLIPTextModel(CLIPTextConfig(
        vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
        max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768,
    ))
    state = {}
    state.update(unet_to_ldm(unet))
    state.update({f"first_stage_model.{k}": v for k, v in vae_to_ldm(vae).items()})
    state.update(text_encoder_to_ldm(clip))
    save_file({k: v.detach().to(torch.float16).contiguous() for k, v in state.items()}, str(path))
    return path
