"""Tiny image-tool models for tests and benchmarks, built from configs with random weights and saved the way
real downloads are laid out: a ControlNet (``ControlNetModel.from_unet`` of a tiny SD's UNet, diffusers
folder), a Real-ESRGAN RRDBNet state dict (BasicSR key names, .safetensors or .pth), textual-inversion
embeddings (A1111's ``emb_params`` / SDXL's ``clip_l``+``clip_g``), and a depth-estimation folder."""

from __future__ import annotations

from pathlib import Path


def build_tiny_controlnet(pipeline_folder: Path, folder: Path, seed: int = 5) -> Path:
    """A ControlNet made from the tiny pipeline's UNet, its zero-initialised output convolutions given
    random weights (a fresh ControlNet changes nothing: its outputs start at zero)."""
    import torch
    from diffusers import ControlNetModel, UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(str(pipeline_folder), subfolder="unet", local_files_only=True)
    net = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(8, 16, 32, 32))
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, param in net.named_parameters():
            if name.startswith(("controlnet_down_blocks", "controlnet_mid_block", "controlnet_cond_embedding.conv_out")):
                param.normal_(0, 0.3)
    net.save_pretrained(str(folder), safe_serialization=True)
    return Path(folder)


def rrdbnet_state_dict(nf: int = 8, gc: int = 32, blocks: int = 1, scale: int = 4, seed: int = 7) -> dict:
    """A Real-ESRGAN RRDBNet (x4: two nearest-upsampling convolutions) state dict in BasicSR's key layout
    (growth 32, as spandrel assumes; ``conv_first``, ``body.N.rdbK.convJ``, ``conv_body``, ``conv_up1/2``, ``conv_hr``, ``conv_last``)."""
    import torch

    g = torch.Generator().manual_seed(seed)

    def conv(out_c: int, in_c: int, prefix: str, sd: dict) -> None:
        sd[f"{prefix}.weight"] = torch.randn(out_c, in_c, 3, 3, generator=g) * (0.5 / (in_c * 9) ** 0.5)
        sd[f"{prefix}.bias"] = torch.randn(out_c, generator=g) * 0.01

    sd: dict = {}
    conv(nf, 3, "conv_first", sd)
    for b in range(blocks):
        for r in (1, 2, 3):
            for j in range(1, 6):
                out_c = gc if j < 5 else nf
                conv(out_c, nf + (j - 1) * gc, f"body.{b}.rdb{r}.conv{j}", sd)
    conv(nf, nf, "conv_body", sd)
    conv(nf, nf, "conv_up1", sd)
    if scale == 4:
        conv(nf, nf, "conv_up2", sd)
    conv(nf, nf, "conv_hr", sd)
    conv(3, nf, "conv_last", sd)
    return sd


def build_tiny_rrdbnet(path: Path, seed: int = 7) -> Path:
    """The tiny RRDBNet saved as ``path`` (.safetensors, or a plain-tensor .pth like the official files)."""
    import torch

    sd = rrdbnet_state_dict(seed=seed)
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(sd, str(path))
    else:
        torch.save({"params_ema": sd}, str(path))
    return path


def build_tiny_embedding(path: Path, width: int = 32, vectors: int = 2, seed: int = 11, sdxl_width: int = 0) -> Path:
    """A textual-inversion embedding as A1111 saves it (``emb_params``; with ``sdxl_width`` SDXL's layout:
    ``clip_l`` of ``width`` and ``clip_g`` of ``sdxl_width``)."""
    import torch
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(seed)
    if sdxl_width:
        data = {"clip_l": torch.randn(vectors, width, generator=g), "clip_g": torch.randn(vectors, sdxl_width, generator=g)}
    else:
        data = {"emb_params": torch.randn(vectors, width, generator=g)}
    save_file(data, str(path))
    return Path(path)


def build_tiny_depth(folder: Path, seed: int = 13) -> Path:
    """A tiny Depth Anything (DPT head on a tiny DINOv2 backbone) folder with its image processor."""
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, DPTImageProcessor, Dinov2Config

    torch.manual_seed(seed)
    backbone = Dinov2Config(
        hidden_size=16, num_hidden_layers=4, num_attention_heads=2, intermediate_size=32, image_size=28,
        patch_size=14, out_features=["stage1", "stage2", "stage3", "stage4"], reshape_hidden_states=False,
    )
    config = DepthAnythingConfig(
        backbone_config=backbone, reassemble_hidden_size=16, neck_hidden_sizes=[8, 8, 16, 16],
        fusion_hidden_size=8, head_hidden_size=8, patch_size=14,
    )
    model = DepthAnythingForDepthEstimation(config)
    model.save_pretrained(str(folder), safe_serialization=True)
    DPTImageProcessor(size={"height": 28, "width": 28}, keep_aspect_ratio=False, ensure_multiple_of=14,
                      do_pad=False).save_pretrained(str(folder))
    return Path(folder)


def build_tiny_ip_adapter(pipeline_folder: Path, folder: Path, seed: int = 17, file_name: str = "ip-adapter.safetensors") -> Path:
    """A tiny IP-Adapter laid out like diffusers' own tests build one (``image_proj``: an ImageProjection to 4
    tokens; ``ip_adapter``: ``N.to_k_ip`` / ``N.to_v_ip`` per cross-attention layer, numbered 1, 3, 5 …) saved as
    one .safetensors file, with a tiny CLIP vision encoder in ``image_encoder/`` beside it."""
    import torch
    from diffusers import UNet2DConditionModel
    from diffusers.models.attention_processor import IPAdapterAttnProcessor
    from diffusers.models.embeddings import ImageProjection
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    unet = UNet2DConditionModel.from_pretrained(str(pipeline_folder), subfolder="unet", local_files_only=True)
    cfg = unet.config
    cross = cfg.cross_attention_dim
    state: dict = {}
    key_id = 1
    for name in unet.attn_processors:
        if not name.endswith("attn1.processor"):
            if name.startswith("mid_block"):
                hidden = cfg.block_out_channels[-1]
            elif name.startswith("up_blocks"):
                hidden = list(reversed(cfg.block_out_channels))[int(name[len("up_blocks.")])]
            else:
                hidden = cfg.block_out_channels[int(name[len("down_blocks.")])]
            sd = IPAdapterAttnProcessor(hidden_size=hidden, cross_attention_dim=cross, scale=1.0).state_dict()
            state[f"ip_adapter.{key_id}.to_k_ip.weight"] = sd["to_k_ip.0.weight"].normal_(0, 0.5)
            state[f"ip_adapter.{key_id}.to_v_ip.weight"] = sd["to_v_ip.0.weight"].normal_(0, 0.5)
            key_id += 2  # numbered over the cross-attention layers only, as diffusers reads them
    embed_dim = 32
    proj = ImageProjection(cross_attention_dim=cross, image_embed_dim=embed_dim, num_image_text_embeds=4).state_dict()
    state.update({"image_proj.proj.weight": proj["image_embeds.weight"], "image_proj.proj.bias": proj["image_embeds.bias"],
                  "image_proj.norm.weight": proj["norm.weight"], "image_proj.norm.bias": proj["norm.bias"]})
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / file_name))
    encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=32, projection_dim=embed_dim, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        image_size=32, patch_size=4,
    ))
    encoder.save_pretrained(str(folder / "image_encoder"), safe_serialization=True)
    return folder / file_name


def compact_state_dict(nf: int = 8, convs: int = 2, scale: int = 4, seed: int = 19) -> dict:
    """A Real-ESRGAN compact model (SRVGGNetCompact, the realesr-general / animevideo models) state dict in its
    own key layout: ``body.0`` a 3→nf convolution, ``body.1`` its PReLU, then ``convs`` pairs of nf→nf
    convolution and PReLU, and the last convolution to 3·scale² channels (pixel shuffle)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    sd: dict = {}
    layers = [(nf, 3)] + [(nf, nf)] * convs
    index = 0
    for out_c, in_c in layers:
        sd[f"body.{index}.weight"] = torch.randn(out_c, in_c, 3, 3, generator=g) * (0.5 / (in_c * 9) ** 0.5)
        sd[f"body.{index}.bias"] = torch.randn(out_c, generator=g) * 0.01
        sd[f"body.{index + 1}.weight"] = torch.full((out_c,), 0.25)  # PReLU, as initialised
        index += 2
    sd[f"body.{index}.weight"] = torch.randn(3 * scale * scale, nf, 3, 3, generator=g) * (0.5 / (nf * 9) ** 0.5)
    sd[f"body.{index}.bias"] = torch.randn(3 * scale * scale, generator=g) * 0.01
    return sd


def swinir_state_dict(scale: int = 2, seed: int = 23) -> dict:
    """A tiny SwinIR (lightweight layout: ``pixelshuffledirect``; one residual Swin group of two blocks, the
    second shifted so its ``attn_mask`` is saved, window 4 on 16-pixel training patches) state dict with the
    original repository's key names (spandrel's copy of the architecture keeps them)."""
    import torch
    from spandrel.architectures.SwinIR import SwinIR

    torch.manual_seed(seed)
    net = SwinIR(upscale=scale, img_size=16, window_size=4, embed_dim=12, depths=[2], num_heads=[2], mlp_ratio=2.0,
                 upsampler="pixelshuffledirect", resi_connection="1conv", img_range=1.0)
    with torch.no_grad():  # the untrained weights are near zero; give them a real effect
        for name, param in net.named_parameters():
            if name.endswith("weight") and param.dim() > 1:
                param.normal_(0, 0.5 / param[0].numel() ** 0.5)
    return {k: v.contiguous() for k, v in net.state_dict().items()}


def build_tiny_upscaler(path: Path, kind: str = "esrgan", seed: int | None = None) -> Path:
    """A tiny upscaler file of ``kind`` (``esrgan`` RRDBNet, ``compact`` SRVGGNetCompact, ``swinir``) saved as
    ``path``: .safetensors, or a .pth of plain tensors wrapped as the official releases are (``params_ema``
    for BasicSR / Real-ESRGAN, ``params`` for SwinIR)."""
    import torch

    makers = {"esrgan": rrdbnet_state_dict, "compact": compact_state_dict, "swinir": swinir_state_dict}
    sd = makers[kind](**({"seed": seed} if seed is not None else {}))
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(sd, str(path))
    else:
        torch.save({"params" if kind == "swinir" else "params_ema": sd}, str(path))
    return path


def export_controlnet_single_file(controlnet_folder: Path, path: Path, layout: str = "ldm") -> Path:
    """A diffusers ControlNet folder as one ``.safetensors`` file. ``ldm``: the original (lllyasviel, SD 1.5
    for A1111) layout, keys under ``control_model.``: ``time_embed``, ``input_blocks`` / ``middle_block`` (the
    UNet's layout), ``input_hint_block.0…14`` (the conditioning embedding), ``zero_convs.N.0`` and
    ``middle_block_out.0``. ``diffusers``: diffusers' own keys in one file, as the SDXL ControlNets for A1111 ship."""
    from diffusers import ControlNetModel
    from safetensors.torch import save_file

    from .tiny_sd import _RESNET, _move

    net = ControlNetModel.from_pretrained(str(controlnet_folder), local_files_only=True)
    sd = dict(net.state_dict())
    if layout == "diffusers":
        save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
        return Path(path)
    cfg = net.config
    per, n = cfg.layers_per_block, len(cfg.block_out_channels)
    out: dict = {}
    for src, dst in (("time_embedding.linear_1", "time_embed.0"), ("time_embedding.linear_2", "time_embed.2"),
                     ("conv_in", "input_blocks.0.0"), ("add_embedding.linear_1", "label_emb.0.0"),
                     ("add_embedding.linear_2", "label_emb.0.2"), ("controlnet_cond_embedding.conv_in", "input_hint_block.0"),
                     ("controlnet_cond_embedding.conv_out", "input_hint_block.14"), ("controlnet_mid_block", "middle_block_out.0")):
        for suffix in ("weight", "bias"):
            if f"{src}.{suffix}" in sd:
                out[f"{dst}.{suffix}"] = sd.pop(f"{src}.{suffix}")
    blocks = len({k.split(".")[2] for k in sd if k.startswith("controlnet_cond_embedding.blocks.")})
    for b in range(blocks):
        _move(sd, out, f"controlnet_cond_embedding.blocks.{b}", f"input_hint_block.{2 * (b + 1)}")
    for i in range(len([k for k in sd if k.startswith("controlnet_down_blocks.") and k.endswith(".weight")])):
        _move(sd, out, f"controlnet_down_blocks.{i}", f"zero_convs.{i}.0")
    for i in range(n):
        for j in range(per):
            idx = 1 + i * (per + 1) + j
            _move(sd, out, f"down_blocks.{i}.resnets.{j}", f"input_blocks.{idx}.0", _RESNET)
            _move(sd, out, f"down_blocks.{i}.attentions.{j}", f"input_blocks.{idx}.1")
        _move(sd, out, f"down_blocks.{i}.downsamplers.0.conv", f"input_blocks.{(i + 1) * (per + 1)}.0.op")
    _move(sd, out, "mid_block.resnets.0", "middle_block.0", _RESNET)
    _move(sd, out, "mid_block.attentions.0", "middle_block.1")
    _move(sd, out, "mid_block.resnets.1", "middle_block.2", _RESNET)
    if sd:
        raise ValueError(f"unmapped ControlNet keys: {sorted(sd)[:5]}")
    save_file({f"control_model.{k}": v.contiguous() for k, v in out.items()}, str(path))
    return Path(path)
