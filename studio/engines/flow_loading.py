"""Loading the flow-matching families (SD 3.x, FLUX.1) beyond what every picture model shares (no Qt).

* a transformer in one file — a GGUF quantization or a ``.safetensors`` (bare, or inside a whole checkpoint) —
  with the other parts from its base (:func:`load_gguf_transformer`);
* quantizing the transformer (fp8 layerwise casting here, NF4 through bitsandbytes on CUDA);
* where the T5 encoder runs (with the rest, on the CPU beside a GPU pipeline, or left out for SD 3.x);
* FLUX.1 Fill, the inpainting FLUX, which no AutoPipeline knows.

:mod:`studio.engines.image_loading` calls these while it builds a :class:`~studio.engines.image_loading.PipelineSet`.
"""

from __future__ import annotations

from ..errors import InvalidRequest
from ..models import families
from ..models.resolve import ResolvedModel


def is_flux_fill(pipe) -> bool:
    """FLUX.1 Fill (dev): the dedicated inpainting / outpainting FLUX model."""
    return type(pipe).__name__ == "FluxFillPipeline"


#: the pipeline attribute that holds the T5 encoder, per family
T5_ATTRIBUTE = {"flux": "text_encoder_2", "sd3": "text_encoder_3"}


class CpuTextEncoder:
    """A T5 encoder kept on the CPU, for a pipeline that runs on a GPU (it needs ~9.5 GB that the GPU keeps
    for the transformer). Not a torch module, so neither ``pipe.to`` nor the offload hooks move it: token ids go
    to the CPU, the encoder runs there, and the pipeline moves the embeddings to its device and ``dtype``
    (diffusers' ``_get_t5_prompt_embeds`` does ``.to(dtype=encoder.dtype, device=device)``)."""

    def __init__(self, module, dtype) -> None:
        self.module = module.to("cpu")
        self.dtype = dtype  # what the pipeline casts the embeddings to
        self.device = module.device  # the CPU

    def modules(self):  # diffusers asks a text encoder for its execution device: here, its own (the CPU)
        return iter(())

    def __call__(self, input_ids, *args, **kwargs):
        import torch

        with torch.inference_mode():
            return self.module(input_ids.to("cpu"), *args, **kwargs)


def place_t5(pipe, family: str, mode: str, dtype) -> str:
    """'device' (with the rest), 'cpu' (see :class:`CpuTextEncoder`) or 'off' (left out: SD 3.x only, whose
    pipeline then feeds zeros in its place); a note to say, or ""."""
    attribute = T5_ATTRIBUTE.get(family)
    if attribute is None or mode in ("device", "auto") or getattr(pipe, attribute, None) is None:
        return ""
    if mode == "off":
        if family != "sd3":
            raise InvalidRequest("FLUX.1 cannot run without its T5 encoder: run it on the CPU instead (T5 encoder: cpu).")
        setattr(pipe, attribute, None)
        return "SD 3.x without its T5 encoder (left out: less memory, prompts followed a little less closely)."
    setattr(pipe, attribute, CpuTextEncoder(getattr(pipe, attribute), dtype))
    return "The T5 text encoder runs on the CPU (the GPU keeps its memory for the transformer)."


def quantize_transformer(pipe, quantize: str, choice) -> str:
    """fp8 layerwise casting of the denoiser (weights stored in float8, computed in the run dtype); a note to say."""
    if quantize != "fp8":
        return ""
    import torch

    denoiser = getattr(pipe, "transformer", None) or getattr(pipe, "unet", None)
    compute = choice.torch_dtype()
    denoiser.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=compute)
    return "fp8: the transformer's weights are stored in 8 bits (half the memory), computed in " + str(compute).split(".")[-1] + "."


def is_transformer_file(model: ResolvedModel, family: str) -> bool:
    """A FLUX.1 / SD 3.x transformer in one file (GGUF, or .safetensors): it runs with its base's other parts."""
    return model.format == "gguf" or (
        model.format == "single_file" and model.path.suffix.lower() == ".safetensors" and families.is_flow(family)
    )


def load_gguf_transformer(model: ResolvedModel, base: ResolvedModel, family: str, dtype):
    """A FLUX.1 / SD 3.x transformer from one file: a GGUF (kept quantized, dequantized per layer as it runs) or a
    .safetensors (a bare transformer or a whole checkpoint), with its configuration from the base model's
    ``transformer/config.json``."""
    from diffusers import FluxTransformer2DModel, GGUFQuantizationConfig, SD3Transformer2DModel

    cls = FluxTransformer2DModel if family == "flux" else SD3Transformer2DModel
    if not (base.path / "transformer" / "config.json").is_file():
        raise InvalidRequest(f"The base model '{base.label}' has no transformer/config.json: download it again.")
    try:
        quantized = {"quantization_config": GGUFQuantizationConfig(compute_dtype=dtype)} if model.format == "gguf" else {}
        return cls.from_single_file(
            str(model.path),
            **quantized,
            config=str(base.path),
            subfolder="transformer",
            dtype=dtype,
            local_files_only=True,
        )
    except (ValueError, RuntimeError, KeyError) as exc:
        raise InvalidRequest(
            f"'{model.label}' does not fit the base model '{base.label}' ({str(exc).splitlines()[0][:200]})."
        ) from None


def nf4_config(choice) -> dict:
    """bitsandbytes NF4 for the transformer: CUDA only, and only where bitsandbytes is installed."""
    import importlib.util

    if not choice.device.startswith("cuda"):
        raise InvalidRequest("NF4 quantization needs a CUDA GPU (bitsandbytes); on this device use fp8 or a GGUF file.")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise InvalidRequest(
            "NF4 quantization needs the bitsandbytes package: `pip install bitsandbytes` in Studio's environment "
            "(CUDA only), or use fp8 or a GGUF file instead."
        )
    import torch
    from diffusers import PipelineQuantizationConfig

    return {
        "quantization_config": PipelineQuantizationConfig(
            quant_backend="bitsandbytes_4bit",
            quant_kwargs={"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_compute_dtype": torch.bfloat16},
            components_to_quantize=["transformer"],
        )
    }
