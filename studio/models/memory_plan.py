"""Memory plans for picture models (no Qt, no torch): how much a job needs under each plan, and the first
plan that fits the free memory — chosen for the person and shown to them.

Plans, from fastest to leanest (diffusers' own mechanisms, applied by ``engines.image_loading.PipelineSet``):

* ``gpu`` ('none' in the request): every part stays on the GPU;
* ``model`` (model CPU offload): each part (text encoders, transformer/UNet, VAE) moves to the GPU while it runs;
* ``group`` (group offload): the transformer/UNet streams in groups of blocks; a few blocks on the GPU at a time;
* ``sequential`` (sequential CPU offload): layer by layer; the least memory and the slowest.

Quantization shrinks the transformer before any plan: a GGUF file is already quantized (its size on disk is
its size in memory), NF4 (bitsandbytes, CUDA only) keeps about 0.28 of its 16-bit size, fp8 layerwise casting
half. The T5 encoder of SD 3.x / FLUX may run on the CPU instead (``t5_on_cpu``): then it never needs VRAM.

:func:`choose` returns a :class:`MemoryPlan` whose :meth:`MemoryPlan.summary` is the line the Image tab
shows ("FLUX.1 dev Q8_0 GGUF · model offload · needs ~11 GB, 12 GB free"); :func:`next_plan` is the plan
an out-of-memory failure offers.
"""

from __future__ import annotations

from dataclasses import dataclass

GB = 1024**3
MB = 1024**2

#: fastest first; the request's ``offload`` values
PLANS = ("none", "model", "group", "sequential")
PLAN_LABELS = {"none": "all on the GPU", "model": "model offload", "group": "group offload", "sequential": "sequential offload"}
#: the CLI's ``--memory-plan`` words for the same plans
CLI_NAMES = {"gpu": "none", "model-offload": "model", "group-offload": "group", "sequential": "sequential"}
QUANTIZE = ("none", "gguf", "nf4", "fp8")

#: the share of its 16-bit size a transformer keeps under each quantization
_QUANT_SHARE = {"none": 1.0, "nf4": 0.28, "fp8": 0.5, "gguf": 1.0}
_OVERHEAD = int(0.6 * GB)  # CUDA context, allocator slack, the scheduler's tensors


@dataclass(frozen=True)
class Parts:
    """Bytes of each part at the dtype it runs in (16-bit on a GPU)."""

    denoiser: int  # the transformer (SD3, FLUX) or the UNet
    text: int = 0  # CLIP encoders
    t5: int = 0  # the T5 encoder (SD3, FLUX)
    vae: int = 0
    blocks: int = 19  # transformer/UNet blocks (group offload keeps about one group on the GPU)

    @property
    def total(self) -> int:
        return self.denoiser + self.text + self.t5 + self.vae


def activation_bytes(width: int, height: int, batch: int = 1, *, flow: bool = False) -> int:
    """Working memory of one denoising step and the VAE decode at a size (16-bit), from measured SDXL/FLUX runs:
    about 1.5 GB per megapixel for a transformer step, 1 GB for a UNet step, and the decode on top."""
    megapixels = width * height * max(1, batch) / 1e6
    per_mp = 1.5 if flow else 1.0
    return int(megapixels * per_mp * GB + megapixels * 0.8 * GB)


def need_bytes(parts: Parts, plan: str, width: int, height: int, batch: int = 1, *,
               quantize: str = "none", flow: bool = False, t5_on_cpu: bool = False) -> int:
    """Peak device memory of a job under ``plan``."""
    denoiser = int(parts.denoiser * _QUANT_SHARE.get(quantize, 1.0))
    t5 = 0 if t5_on_cpu else parts.t5
    act = activation_bytes(width, height, batch, flow=flow)
    if plan == "none":
        return denoiser + parts.text + t5 + parts.vae + act + _OVERHEAD
    if plan == "model":  # the largest part on the GPU at a time
        return max(denoiser, parts.text + t5, parts.vae) + act + _OVERHEAD
    if plan == "group":  # a group of blocks of the denoiser, the other parts as in model offload
        group = denoiser // max(1, parts.blocks) * 2
        return max(group, parts.text + t5 // 4, parts.vae) + act + _OVERHEAD
    # sequential: one layer at a time
    return act + min(int(0.3 * GB), denoiser // max(1, parts.blocks)) + _OVERHEAD


@dataclass(frozen=True)
class MemoryPlan:
    plan: str  # one of PLANS
    need: int  # bytes this plan needs
    free: int | None  # free device memory when chosen (None = unknown, e.g. the CPU)
    device: str
    quantize: str = "none"
    t5_on_cpu: bool = False
    chosen: bool = True  # False: the person set it (the Advanced section, --memory-plan)
    fits: bool = True

    def summary(self, model_label: str = "") -> str:
        """One line: what runs, which plan, and why."""
        what = [model_label] if model_label else []
        if not self.device.startswith("cuda"):
            return " · ".join([*what, f"on {self.device}: no offload needed"])
        what.append(PLAN_LABELS[self.plan] + ("" if self.chosen else " (set by you)"))
        if self.t5_on_cpu:
            what.append("T5 on the CPU")
        need = f"needs ~{self.need / GB:.0f} GB"
        if self.free is not None:
            need += f", {self.free / GB:.0f} GB free"
        what.append(need)
        return " · ".join(what)


def choose(parts: Parts, device: str, free: int | None, width: int, height: int, batch: int = 1, *,
           requested: str = "auto", quantize: str = "none", flow: bool = False, t5: str = "auto") -> MemoryPlan:
    """The plan for a job: the one ``requested``, or for 'auto' the first of :data:`PLANS` that fits ``free``
    (with the T5 encoder on the CPU before going leaner than model offload). Off CUDA: 'none'.
    ``t5``: 'auto' (the planner decides), 'device' (never on the CPU), 'cpu' or 'off' (left out: SD 3.x)."""
    if t5 in ("cpu", "off"):
        parts = Parts(parts.denoiser, parts.text, 0, parts.vae, parts.blocks)
    if not device.startswith("cuda"):
        return MemoryPlan("none", need_bytes(parts, "none", width, height, batch, quantize=quantize, flow=flow),
                          free, device, quantize)
    fixed_t5 = t5 in ("cpu", "off")
    if requested != "auto":
        plan = CLI_NAMES.get(requested, requested)
        need = need_bytes(parts, plan, width, height, batch, quantize=quantize, flow=flow)
        return MemoryPlan(plan, need, free, device, quantize, fixed_t5, chosen=False, fits=free is None or need <= free)
    options = []
    for plan in PLANS:
        options.append((plan, fixed_t5))
        if plan == "model" and parts.t5 and t5 == "auto":
            options.append(("model", True))
    for plan, t5_cpu in options:
        need = need_bytes(parts, plan, width, height, batch, quantize=quantize, flow=flow, t5_on_cpu=t5_cpu)
        if free is None or need <= free:
            return MemoryPlan(plan, need, free, device, quantize, t5_cpu)
    cpu_t5 = fixed_t5 or (bool(parts.t5) and t5 == "auto")
    need = need_bytes(parts, "sequential", width, height, batch, quantize=quantize, flow=flow, t5_on_cpu=cpu_t5)
    return MemoryPlan("sequential", need, free, device, quantize, cpu_t5, fits=False)


def next_plan(plan: str) -> str | None:
    """The next leaner plan (what an out-of-memory failure offers), or None after sequential."""
    i = PLANS.index(plan) if plan in PLANS else len(PLANS) - 1
    return PLANS[i + 1] if i + 1 < len(PLANS) else None
