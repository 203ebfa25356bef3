"""The image tools of the catalog (modality ``image-tools``): ControlNets for SD 1.5 and SDXL (canny, depth,
scribble, lineart, tile), the Depth Anything estimator the 'depth' preprocessor uses, and IP-Adapter weights
with their image encoders (each a diffusers / transformers folder of .safetensors on the hub); and upscalers
for spandrel (``format="upscaler"``: one file of a hub repository, a .safetensors, or a .pth that Studio reads
with ``torch.load(weights_only=True)`` only: Real-ESRGAN RRDBNet and compact, ESRGAN-style community models, DAT)."""

from __future__ import annotations

from .entry import GB, MB, ModelEntry

_CONTROLNET_FILES = ("config.json", "diffusion_pytorch_model.safetensors")
_CONTROLNET_FP16 = ("config.json", "diffusion_pytorch_model.fp16.safetensors")


def _controlnet(id_: str, name: str, repo: str, family: str, licence: str, size_gb: float, description: str,
                files: tuple[str, ...] = _CONTROLNET_FILES) -> ModelEntry:
    return ModelEntry(
        id=id_,
        name=name,
        modality="image-tools",
        source="hub",
        repo_id=repo,
        format="controlnet",
        family=family,
        size_bytes=int(size_gb * GB),
        memory_bytes=int(size_gb * GB),
        licence=licence,
        description=description,
        allow_patterns=files,
    )


def _upscaler(id_: str, name: str, repo: str, filename: str, licence: str, size_mb: float, description: str) -> ModelEntry:
    return ModelEntry(
        id=id_,
        name=name,
        modality="image-tools",
        source="hub",
        repo_id=repo,
        filename=filename,
        format="upscaler",
        size_bytes=int(size_mb * MB),
        memory_bytes=int(size_mb * MB * 2),
        licence=licence,
        description=description,
        allow_patterns=(filename,),  # named: a .pth is fetched only by its name, and read weights-only
    )


_OPENRAIL = "CreativeML OpenRAIL-M"
_OPENRAIL_XL = "OpenRAIL++-M"

UPSCALER_ENTRIES: tuple[ModelEntry, ...] = (
    _upscaler("realesrgan-x4plus", "Real-ESRGAN x4plus (upscaler)", "Comfy-Org/Real-ESRGAN_repackaged",
              "RealESRGAN_x4plus.safetensors", "BSD-3-Clause", 64,
              "4× upscaler for photos and general pictures (RRDBNet, 23 blocks); the usual hires-fix choice."),
    _upscaler("realesrgan-x4plus-anime-6b", "Real-ESRGAN x4plus anime 6B (upscaler)", "lllyasviel/Annotators",
              "RealESRGAN_x4plus_anime_6B.pth", "BSD-3-Clause", 17,
              "4× upscaler for anime and illustrations (RRDBNet, 6 blocks: faster)."),
    _upscaler("realesr-general-x4v3", "Real-ESRGAN general x4v3 (compact upscaler)", "leonelhs/realesrgan",
              "realesr-general-x4v3.pth", "BSD-3-Clause", 5,
              "Small, fast 4× upscaler for general pictures (SRVGGNetCompact)."),
    _upscaler("4x-ultrasharp", "4x-UltraSharp (upscaler)", "Kim2091/UltraSharp", "4x-UltraSharp.pth",
              "CC-BY-NC-SA-4.0", 64, "Sharp 4× upscaler popular for hires fix (ESRGAN); non-commercial licence."),
    _upscaler("4x-realwebphoto-dat2", "4xRealWebPhoto v4 DAT2 (upscaler)", "Phips/4xRealWebPhoto_v4_dat2",
              "4xRealWebPhoto_v4_dat2.safetensors", "CC-BY-4.0", 47,
              "4× upscaler for photos from the web, compressed and noisy ones too (DAT transformer: slower)."),
)

TOOL_ENTRIES: tuple[ModelEntry, ...] = (
    _controlnet("controlnet-canny-sd15", "ControlNet canny (SD 1.5)", "lllyasviel/control_v11p_sd15_canny", "sd1",
                _OPENRAIL, 1.45, "Follows the edges of a Canny map (preprocessor: canny)."),
    _controlnet("controlnet-depth-sd15", "ControlNet depth (SD 1.5)", "lllyasviel/control_v11f1p_sd15_depth", "sd1",
                _OPENRAIL, 1.45, "Follows a depth map (preprocessor: depth, with Depth Anything)."),
    _controlnet("controlnet-scribble-sd15", "ControlNet scribble (SD 1.5)", "lllyasviel/control_v11p_sd15_scribble",
                "sd1", _OPENRAIL, 1.45, "Turns a rough sketch into a picture (preprocessor: scribble, or none for a drawing)."),
    _controlnet("controlnet-lineart-sd15", "ControlNet lineart (SD 1.5)", "lllyasviel/control_v11p_sd15_lineart",
                "sd1", _OPENRAIL, 1.45, "Colours line art (preprocessor: lineart)."),
    _controlnet("controlnet-tile-sd15", "ControlNet tile (SD 1.5)", "lllyasviel/control_v11f1e_sd15_tile", "sd1",
                _OPENRAIL, 1.45, "Adds detail while keeping the picture (preprocessor: tile); for upscaling."),
    _controlnet("controlnet-canny-sdxl", "ControlNet canny (SDXL)", "diffusers/controlnet-canny-sdxl-1.0", "sdxl",
                _OPENRAIL_XL, 5.0, "Follows the edges of a Canny map, for SDXL (fp16 weights).", _CONTROLNET_FP16),
    _controlnet("controlnet-depth-sdxl", "ControlNet depth (SDXL)", "diffusers/controlnet-depth-sdxl-1.0", "sdxl",
                _OPENRAIL_XL, 5.0, "Follows a depth map, for SDXL (fp16 weights).", _CONTROLNET_FP16),
    _controlnet("controlnet-scribble-sdxl", "ControlNet scribble (SDXL)", "xinsir/controlnet-scribble-sdxl-1.0",
                "sdxl", "Apache-2.0", 5.0, "Sketches and scribbles, for SDXL."),
    _controlnet("controlnet-lineart-sdxl", "ControlNet lineart / MistoLine (SDXL)", "TheMistoAI/MistoLine", "sdxl",
                _OPENRAIL_XL, 5.0, "Any kind of line art, for SDXL (fp16 weights).", _CONTROLNET_FP16),
    _controlnet("controlnet-tile-sdxl", "ControlNet tile (SDXL)", "xinsir/controlnet-tile-sdxl-1.0", "sdxl",
                "Apache-2.0", 5.0, "Adds detail while keeping the picture, for SDXL."),
    ModelEntry(
        id="depth-anything-v2-small",
        name="Depth Anything V2 small (depth maps)",
        modality="image-tools",
        source="hub",
        repo_id="depth-anything/Depth-Anything-V2-Small-hf",
        format="depth",
        size_bytes=int(100 * MB),
        memory_bytes=int(200 * MB),
        licence="Apache-2.0",
        description="Estimates depth from a picture: the ControlNet 'depth' preprocessor.",
        allow_patterns=("*.json", "*.safetensors"),
    ),
    ModelEntry(
        id="ip-adapter-sd15",
        name="IP-Adapter (SD 1.5)",
        modality="image-tools",
        source="hub",
        repo_id="h94/IP-Adapter",
        format="ip-adapter",
        family="sd1",
        size_bytes=int(2.6 * GB),
        memory_bytes=int(1.5 * GB),
        licence="Apache-2.0",
        description="Prompt with a picture: ip-adapter_sd15 with its ViT-H image encoder.",
        allow_patterns=("models/ip-adapter_sd15.safetensors", "models/image_encoder/*"),
    ),
    ModelEntry(
        id="ip-adapter-sdxl",
        name="IP-Adapter (SDXL)",
        modality="image-tools",
        source="hub",
        repo_id="h94/IP-Adapter",
        format="ip-adapter",
        family="sdxl",
        size_bytes=int(3.7 * GB),
        memory_bytes=int(2.5 * GB),
        licence="Apache-2.0",
        description="Prompt with a picture, for SDXL: ip-adapter_sdxl with its ViT-bigG image encoder.",
        allow_patterns=("sdxl_models/ip-adapter_sdxl.safetensors", "sdxl_models/image_encoder/*"),
    ),
    *UPSCALER_ENTRIES,
)
