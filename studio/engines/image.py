"""Image engine: text-to-image and image-to-image with diffusers (SD 1.x, 2.x, XL, Turbo …).

``ImageEngine().run(request, runtime, cancel)`` is a generator (see :mod:`studio.engines.base`):

* ``Status`` / ``Notice`` lines while loading; ``Progress(step, total, eta_s=…)`` after every denoising
  step, counted over the whole job (all batches);
* ``Preview(image=…, step=…, index=…)`` while denoising: a cheap latent → RGB projection (no VAE
  decode), at most every :attr:`ImageEngine.preview_interval_s` seconds, plus the first and last step;
* ``Output("image", PIL image, params, index=i)`` for every finished image (the worker saves it), where
  ``params`` holds the whole request plus what was actually used (seed, sampler, model, size …).

The pipeline call blocks, so it runs on the runtime's compute thread
(:meth:`~studio.engines.compute.ComputeThread.stream`); ``callback_on_step_end`` hands progress and previews
to this generator, and sets ``pipe._interrupt`` once cancel was asked for, so the job stops within one
step. Batches that finished are kept; the batch running when cancel came yields nothing, then
:class:`~studio.errors.Cancelled` is raised.

Noise comes from CPU ``torch.Generator`` s seeded ``seed + i`` for image ``i``, so a seed gives the same
picture on any device, equal to a plain diffusers call with ``torch.Generator("cpu").manual_seed(seed)``.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Cancelled, FieldChange, InvalidRequest, OutOfMemory, is_out_of_memory
from ..events import Event, ImageStats, Notice, Output, Preview, Progress, Status
from ..library.inputs import open_picture
from ..models import device as device_mod
from ..models import families
from ..models.memory_plan import next_plan
from ..requests import ImageRequest
from . import embeddings, hires_fix, image_control, ip_adapter, samplers
from . import flow_loading
from . import image_loading as loading
from . import prompt_weights
from .base import CancelToken, Runtime
from .image_memory import parts_of, plan_memory, plan_slicing_tiling
from .latent_preview import preview_image
from .lora_files import check_lora_files
from .preflight import preflight_image

log = logging.getLogger(__name__)


def load_init_image(path: str, width: int, height: int):
    """The image-to-image input as RGB, resized to the requested size (A1111's "just resize")."""
    from PIL import Image

    image = open_picture(path, "image-to-image picture", "RGB")  # missing, a folder, a FIFO, too large …: one line
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    return image


def out_of_memory(request: ImageRequest, offload: str, device: str, kind: str = "image") -> OutOfMemory:
    """The error after the pipeline ran out of memory, with the request fields to change: a smaller
    size or batch, and on a GPU the next memory plan down (slower, less VRAM), attention slicing and VAE tiling."""
    message = f"Out of memory on {device} at {request.width}×{request.height} with batch size {request.batch_size}."
    changes = [FieldChange("width"), FieldChange("height"), FieldChange("batch_size")]
    if device.startswith("cuda"):
        nxt = next_plan(offload)
        if nxt:
            changes.append(FieldChange("offload", nxt))
        changes += [FieldChange("attention_slicing", "on"), FieldChange("vae_tiling", "on")]
    return OutOfMemory(message, tuple(changes), kind, device)


@dataclass
class Task:
    """What one kind of image job adds to the shared generation: the pipeline (``mode``: 'txt2img',
    'img2img' or 'inpaint'), extra pipeline inputs, and how a finished image becomes the result.

    ``finish(image, params)`` returns the (image, params) to output; ``params`` replaces the request's
    own dict in the result's parameters when set (the inpaint engine records its whole request).
    """

    mode: str = "txt2img"
    inputs: dict = field(default_factory=dict)
    strength: float | None = None  # image-to-image / inpaint: how much of the schedule runs
    params: dict | None = None
    finish: Callable[[Any, dict], tuple[Any, dict]] | None = None
    control_transform: Callable[[Any], Any] | None = None  # a control map of the picture → of the region run


class ImageEngine:
    kind = "image"

    #: seconds between two previews (the first and the last step always get one)
    preview_interval_s: float = 0.25
    _hires = None  # the hires-fix pass of the running job, if any

    def __init__(self, config_root: Path | None = None) -> None:
        # where the weight-free configs for single-file checkpoints live (tests pass tiny ones)
        self.config_root = Path(config_root) if config_root else loading.shipped_configs()

    # ---------------------------------------------------------------------------------------------
    #: the cheap checks before any model loads (the job queue and the CLI run them too)
    preflight = staticmethod(preflight_image)

    def run(self, request: ImageRequest, runtime: Runtime, cancel: CancelToken) -> Generator[Event, None, ImageStats]:
        self.preflight(request)
        if request.endpoint:  # a checkpoint on a ComfyUI server
            from .remote.comfyui import run_comfyui

            return (yield from run_comfyui(request, runtime, cancel))
        return (yield from self.generate(request, runtime, cancel, self._plain_task))

    @staticmethod
    def _plain_task(request: ImageRequest) -> Task:
        if not request.init_image:
            return Task("txt2img", {"width": request.width, "height": request.height})
        image = load_init_image(request.init_image, request.width, request.height)
        return Task("img2img", {"image": image}, strength=request.strength)

    def generate(
        self, request: ImageRequest, runtime: Runtime, cancel: CancelToken, make_task: Callable[[ImageRequest], Task]
    ) -> Generator[Event, None, ImageStats]:
        """The shared generation: resolve and load the model (cached), sampler, LoRAs, memory plan, batches
        with progress, previews and cancel. ``make_task`` (called once the model was checked) says which
        pipeline runs with which inputs; ``request`` holds the shared parameters (its size is the size the
        model runs at)."""
        # 1. Check everything that can be checked without loading the model.
        model = runtime.resolve(request.model, "image", allow_pickle=request.allow_pickle)
        if model.format not in ("diffusers", "single_file", "gguf"):
            raise InvalidRequest(
                f"'{model.label}' ({model.format}) is not an image model Studio can run: use a diffusers folder, "
                "a hub id or a .safetensors checkpoint."
            )
        base = None
        family = "" if model.format == "gguf" else loading.model_family(model, allow_pickle=request.allow_pickle)
        if model.format == "gguf" or flow_loading.is_transformer_file(model, family):
            # a FLUX.1 / SD 3.x transformer in one file: the other parts come from its base
            family, base = self._transformer_base(model, runtime)
        if request.quantize == "gguf" and model.format != "gguf":
            raise InvalidRequest(
                "--quantize gguf uses a GGUF transformer file: pick one (a catalog quantization such as "
                "flux.1-dev-q8_0, or a .gguf file) as the model."
            )
        if families.is_flow(family) and request.guidance_scale > families.FLOW_GUIDANCE_MAX:
            raise InvalidRequest(
                f"guidance {request.guidance_scale:g} is outside what {families.family_name(family)} takes "
                f"(0–{families.FLOW_GUIDANCE_MAX:g}; FLUX dev works at about 3.5, SD 3.5 at 4–5)."
            )
        if request.quantize in ("nf4", "fp8") and not families.is_flow(family):
            raise InvalidRequest(f"{request.quantize} quantization is for SD 3.x and FLUX transformers, not {families.family_name(family)}.")
        loading.check_size(request.width, request.height, family)
        if families.is_flow(family) and (request.controlnets or request.ip_adapter or request.embeddings):
            raise InvalidRequest(
                f"ControlNet, IP-Adapter and embeddings work with Stable Diffusion 1.x, 2.x and XL models; "
                f"{families.family_name(family)} is not one of them."
            )
        control_images = image_control.check_units(request.controlnets)
        hires_size = hires_fix.target_size(request, family)
        ip_units = request.ip_units()
        ip_images = ip_adapter.read_images(ip_units)
        adapters = [ip_adapter.locate(runtime.resolve(u.model, ""), family) for u in ip_units]
        adapter = adapters[0] if adapters else None
        ip_image = (ip_images[0] if len(ip_images) == 1 else ip_images) if ip_images else None
        upscaler = runtime.resolve(request.upscaler, "", allow_pickle=True) if hires_size and request.upscaler else None
        control_models = [runtime.resolve(u.model, "") for u in request.controlnets]
        used_embeddings = [] if families.is_flow(family) else embeddings.for_request(
            [request.prompt, request.negative_prompt], request.embeddings, family,
            registered=embeddings.registered_embeddings(runtime.catalog),
        )
        task = make_task(request)
        if task.strength is not None and int(request.num_inference_steps * task.strength) < 1:
            raise InvalidRequest(
                f"With strength {task.strength:g} and {request.num_inference_steps} steps no denoising step runs: "
                "raise the steps or the strength."
            )
        loras = check_lora_files(request.loras, family)
        vae = runtime.resolve(request.vae, "", allow_pickle=request.allow_pickle) if request.vae else None
        cancel.check()
        control = []
        if request.controlnets:
            yield Status("Preparing control maps…")
            maps, notes = yield from image_control.job_maps(request, runtime, control_images, task.control_transform, cancel)
            for note in notes:
                yield Notice(note)
            control = list(zip(control_models, maps))

        # 2. Load the pipeline (cached across jobs; the memory plan is part of the cache key).
        choice = runtime.choice()
        free = device_mod.free_memory(choice.device)
        resident = runtime.cache.keys()
        if free is not None and not runtime.cache.budget_bytes and all(k[1] == choice.device for k in resident):
            free += runtime.cache.total_bytes()  # one model at a time: what is resident now leaves first
        plan = self._plan_for(request, runtime, model, family, choice, free, vae)
        offload = plan.plan
        t5 = request.t5 if request.t5 != "auto" else ("cpu" if plan.t5_on_cpu else "device")
        variant = f"image|vae={vae.id if vae else ''}|quantize={request.quantize}|t5={t5}|offload={offload}"
        fresh = (model.id, choice.device, choice.dtype, variant) not in runtime.cache
        if fresh:
            yield Status(f"Loading {model.label}…")
        if choice.device.startswith("cuda"):
            yield Notice("Memory plan: " + plan.summary(model.label))
        t_load = time.perf_counter()
        pset, choice, notice = runtime.load(
            model,
            lambda c: loading.load_pipeline_set(
                model,
                c,
                family=family,
                offload=offload if c.device == choice.device else "none",
                vae_path=vae.path if vae else None,
                allow_pickle=request.allow_pickle,
                config_root=self.config_root,
                quantize=request.quantize,
                base=base,
                t5=t5,
            ),
            variant=variant,
            choice=choice,
        )
        load_s = time.perf_counter() - t_load
        if notice:
            yield Notice(notice)
        for note in pset.notes if fresh else ():  # said once, when the model is loaded
            yield Notice(note)
        cancel.check()

        # 3. Per-job settings on the shared pipeline: sampler, LoRAs, memory; undone in `finally`.
        if pset.inpainting and task.mode != "inpaint":
            raise InvalidRequest(
                f"'{model.label}' is an inpainting model (its UNet takes a mask): use it on the Canvas to repaint "
                "part of a picture, or pick an ordinary model here."
            )
        pipe = pset.pipeline(task.mode)
        if task.mode == "img2img" and "Kontext" in type(pipe).__name__:
            # FLUX.1 Kontext edits the picture from the prompt: the whole schedule runs, no strength
            task = dataclasses.replace(task, strength=None)
        if control:
            pipe = yield from image_control.job_pipeline(request, runtime, pset, task, control, choice,
                                                             self.config_root)
        pset.activate(pipe)
        scheduler, sched_notice = self._scheduler(request, pset, family)
        if sched_notice:
            yield Notice(sched_notice)
        for note in self._family_notes(request, pset, family):
            yield Notice(note)
        free_now = device_mod.free_memory(choice.device)
        pixels = request.width * request.height * request.batch_size
        slicing, tiling = plan_slicing_tiling(
            request.attention_slicing, request.vae_tiling, choice, pset.offload, pixels, free_now
        )
        try:
            pipe.scheduler = scheduler
            pset.set_memory(slicing, tiling)
            if loras:
                yield Status(f"Loading {len(loras)} LoRA file(s)…")
                loading.apply_loras(pipe, loras)
            embedded = runtime.compute.call(embeddings.apply_embeddings, pipe, used_embeddings)
            if adapter is not None:
                yield Status(f"Loading {', '.join(dict.fromkeys(a.label for a in adapters))}…")
                runtime.compute.call(ip_adapter.apply, pipe, adapters, [u.scale for u in ip_units])
                task.inputs["ip_adapter_image"] = ip_image
            seed = request.seed if request.seed is not None else secrets.randbelow(2**32)
            base_params = {
                **(task.params if task.params is not None else request.to_dict()),
                "seed": seed,
                "base_seed": seed,
                "sampler": samplers.sampler_label(scheduler),
                "scheduler_class": type(scheduler).__name__,
                "model": model.id,
                "model_name": model.label,
                "family": family,
                "mode": task.mode,
                "inpainting_model": pset.inpainting,
                "device": choice.label(),
                "memory": {"offload": pset.offload, "attention_slicing": slicing, "vae_tiling": tiling,
                           "plan": plan.summary(), "need_bytes": plan.need},
                "embeddings_used": embedded,
            }
            count = request.batch_count * request.batch_size
            self._hires = None
            if hires_size:
                if upscaler is not None and upscaler.id not in pset.upscalers:
                    yield Status(f"Loading {upscaler.label}…")
                desc = hires_fix.upscaler_on(pset, upscaler, choice, runtime.compute) if upscaler else None
                self._hires = hires_fix.HiresPass(
                    request, pset, hires_size, desc, family, scheduler, pipe if adapter else None, ip_image,
                    control=[(pset._controlnets[m.id], u, cmap) for (m, cmap), u in zip(control, request.controlnets)],
                )
                base_params["first_pass_width"], base_params["first_pass_height"] = request.width, request.height
                base_params["hires_upscaler"] = upscaler.label if upscaler else "Lanczos"
            yield Status(f"Generating {count} image{'s' if count > 1 else ''}…")
            stats = yield from self._batches(request, pipe, pset, task, seed, base_params, cancel, runtime.compute)
        except Exception as exc:
            if is_out_of_memory(exc):
                device_mod.release_device_memory()
                raise out_of_memory(request, pset.offload, choice.device, self.kind) from None
            raise
        finally:
            if loras:
                loading.clear_loras(pipe)
            if used_embeddings:
                embeddings.remove_embeddings(pipe, [e.name for e in used_embeddings])
            if adapter is not None:
                ip_adapter.remove(pipe)  # resets the UNet's attention processors: put slicing back if it was on
                if pset.slicing:
                    pipe.enable_attention_slicing()
            pset.restore()
        return dataclasses.replace(stats, load_seconds=load_s, device=choice.label(), seed=seed, model=model.id)

    # ---------------------------------------------------------------------------------------------
    @staticmethod
    def _scheduler(request: ImageRequest, pset, family: str):
        """The sampler: the model's own ("") or the one asked for; flow-matching models (SD 3.x, FLUX) run
        only flow samplers, so any other name is refused before a step runs."""
        if families.is_flow(family):
            if request.scheduler and request.scheduler not in families.FLOW_SAMPLERS:
                allowed = ", ".join(families.FLOW_SAMPLERS)
                raise InvalidRequest(
                    f"{families.family_name(family)} is a flow-matching model: sampler {request.scheduler!r} does "
                    f"not fit it. Use the model's own sampler (leave it empty) or {allowed}."
                )
            return type(pset.scheduler).from_config(pset.scheduler.config), ""
        return samplers.make_scheduler(request.scheduler, type(pset.scheduler), pset.scheduler.config)

    @staticmethod
    def _family_notes(request: ImageRequest, pset, family: str) -> list[str]:
        notes = []
        if family == "flux":
            if request.negative_prompt.strip():
                notes.append("FLUX.1 does not use a negative prompt (its guidance is distilled): it was left out.")
            transformer = getattr(pset.txt2img, "transformer", None)
            if transformer is not None and not transformer.config.get("guidance_embeds", True) and request.guidance_scale > 1:
                notes.append("FLUX.1 schnell has no guidance: the guidance value is ignored (0 is its setting).")
        return notes

    @staticmethod
    def _transformer_base(model, runtime):
        """(family, base model) for a transformer in one file (GGUF or .safetensors): the catalog entry's base, or
        the family's usual one; a base of another family is refused before anything loads."""
        from ..models.gguf_image import read_transformer_file

        info = read_transformer_file(model.path)
        spec = (model.entry.base if model.entry is not None and model.entry.base else "") or info.default_base
        if not spec:
            raise InvalidRequest(f"'{model.label}': no base model is known for a {families.family_name(info.family)} transformer.")
        base = runtime.resolve(spec, "image")
        base_family = families.family_from_folder(base.path) if base.path.is_dir() else ""
        if base_family != info.family:
            raise InvalidRequest(
                f"'{model.label}' is a {families.family_name(info.family)} transformer, but its base '{base.label}' is "
                f"{families.family_name(base_family) if base_family else 'not a diffusers folder'}: pick the matching base."
            )
        return info.family, base

    def _plan_for(self, request, runtime, model, family, choice, free, vae):
        """The memory plan: the request's, or for 'auto' the plan of a copy already loaded, or the first that
        fits the free memory (see :mod:`studio.models.memory_plan`)."""
        requested = request.offload
        if requested == "auto" and choice.device.startswith("cuda"):
            prefix = f"image|vae={vae.id if vae else ''}|quantize={request.quantize}|t5="
            for key in runtime.cache.keys():
                text = str(key[3])
                if key[:3] == (model.id, choice.device, choice.dtype) and text.startswith(prefix):
                    requested = text.rsplit("|offload=", 1)[-1]
                    break
        return plan_memory(requested, choice, parts_of(model, family), free, request.width, request.height,
                           request.batch_size, quantize=request.quantize, family=family, t5=request.t5)

    def _batches(self, request, pipe, pset, task, seed, base_params, cancel, compute) -> Generator[Event, None, ImageStats]:
        t0 = time.perf_counter()
        steps_done = 0
        first_preview_s = None
        images = 0
        size = (0, 0)
        nominal = request.num_inference_steps
        if task.strength is not None:  # image-to-image runs only the last `strength` part of the schedule
            nominal = max(1, int(nominal * task.strength))
        for b in range(request.batch_count):
            cancel.check()
            first = b * request.batch_size
            seeds = [seed + first + i for i in range(request.batch_size)]
            kwargs = self._call_kwargs(request, task, seeds, pset.family)
            t_batch = time.perf_counter()
            denoise = self._denoise(pipe, kwargs, pset.family, request, cancel, first, compute)
            result: list = []
            try:
                while True:  # a batch cancelled mid-way raises Cancelled here: its images are unfinished
                    try:
                        ev = next(denoise)
                    except StopIteration as stop:
                        result = stop.value
                        break
                    if isinstance(ev, Progress):
                        step, per_batch = ev.step, ev.total
                        steps_done = b * per_batch + step
                        # shown against the steps the person asked for (PNDM/Heun run extra model passes)
                        shown = b * nominal + max(1, round(step / per_batch * nominal))
                        total = request.batch_count * nominal
                        elapsed = time.perf_counter() - t0
                        eta = elapsed / shown * (total - shown) if shown else None
                        yield Progress(shown, total, "generate", eta)
                    else:
                        if first_preview_s is None:
                            first_preview_s = time.perf_counter() - t0
                        yield ev
            finally:
                denoise.close()  # closed early by our consumer: stop the pipeline and wait for it
            elapsed_batch = time.perf_counter() - t_batch
            for i, image in enumerate(result):
                if self._hires is not None:
                    image = yield from self._hires_image(image, seeds[i], first + i, cancel, compute)
                params = {
                    **base_params,
                    "seed": seeds[i],
                    "index": first + i,
                    "batch_index": b,
                    "width": image.width,
                    "height": image.height,
                    "elapsed_s": round(elapsed_batch, 3),
                }
                if task.finish is not None:
                    image, params = task.finish(image, params)
                images += 1
                size = image.size
                yield Output("image", image, params, index=first + i)
            cancel.check()  # asked during the last step: this batch is complete and kept, the rest is not run
        seconds = time.perf_counter() - t0
        return ImageStats(
            seconds=seconds,
            images=images,
            width=size[0],
            height=size[1],
            steps=steps_done,
            steps_per_s=steps_done / seconds if seconds > 0 else 0.0,
            first_preview_seconds=first_preview_s,
        )

    def _hires_image(self, image, seed: int, index: int, cancel, compute) -> Generator[Event, None, Any]:
        """Hires fix of one finished image: upscale, then image-to-image (progress as stage 'hires')."""
        hires = self._hires
        yield Status(f"Hires fix: {image.width}×{image.height} → {hires.size[0]}×{hires.size[1]}…")
        big = compute.call(hires.upscale, image, cancel)
        pipe, kwargs = hires.img2img(big, seed)
        pass_request = hires.request.replace(width=hires.size[0], height=hires.size[1])
        denoise = self._denoise(pipe, kwargs, hires.family, pass_request, cancel, index, compute)
        try:
            while True:
                try:
                    ev = next(denoise)
                except StopIteration as stop:
                    return stop.value[0]
                yield Progress(ev.step, ev.total, "hires") if isinstance(ev, Progress) else ev
        finally:
            denoise.close()
            hires.release(pipe)

    @staticmethod
    def _call_kwargs(request: ImageRequest, task: Task, seeds: list[int], family: str = "") -> dict:
        import torch

        kwargs: dict[str, Any] = dict(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt or None,
            num_inference_steps=request.num_inference_steps,
            guidance_scale=request.guidance_scale,
            num_images_per_prompt=request.batch_size,
            generator=[torch.Generator("cpu").manual_seed(s) for s in seeds],
        )
        kwargs.update(task.inputs)
        if task.strength is not None:
            kwargs["strength"] = task.strength
        return kwargs

    def _denoise(self, pipe, kwargs: dict, family: str, request: ImageRequest, cancel: CancelToken, index: int, compute):
        """One pipeline call on the compute thread: yields ``Progress(step, steps of this call)`` and
        ``Preview`` events, returns the images; raises Cancelled when cancel stopped it."""
        import torch

        interval = self.preview_interval_s
        size = (request.width, request.height)
        last_preview = [float("-inf")]

        def work(emit) -> list:  # on the compute thread
            def on_step_end(p, i: int, t, callback_kwargs: dict) -> dict:
                total = int(getattr(p, "num_timesteps", 0) or request.num_inference_steps)
                step = i + 1
                if cancel.cancelled:
                    p._interrupt = True  # the pipeline skips the remaining steps
                emit(Progress(step, total, "denoise"))
                now = time.perf_counter()
                if not cancel.cancelled and (step == 1 or step >= total or now - last_preview[0] >= interval):
                    last_preview[0] = now
                    latents = callback_kwargs.get("latents")
                    if latents is not None:
                        try:
                            emit(Preview(image=preview_image(latents[:1], family, size), step=step, index=index))
                        except Exception:  # a preview must never break the generation
                            log.debug("preview failed", exc_info=True)
                return callback_kwargs

            with torch.inference_mode():
                prompts = prompt_weights.conditioning(pipe, family, kwargs.pop("prompt"), kwargs.pop("negative_prompt"))
                out = pipe(
                    **kwargs,
                    **prompts.kwargs,
                    callback_on_step_end=on_step_end,
                    callback_on_step_end_tensor_inputs=["latents"],
                )
            return list(out.images)

        return (yield from compute.stream(work, cancel))
