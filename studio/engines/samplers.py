"""Samplers for the image engine (no Qt): AUTOMATIC1111's sampler names ↔ diffusers schedulers.

:func:`make_scheduler` builds a fresh scheduler for a name of :data:`studio.requests.SCHEDULERS` from
the model's own scheduler config ("" keeps the model's own); "DPM++ SDE Karras" needs the torchsde
package and falls back to DPM++ 2M SDE Karras (with a notice) without it. :func:`sampler_label` names
a scheduler the way AUTOMATIC1111 writes it in ``parameters``. diffusers is imported on first use.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidRequest


def torchsde_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torchsde") is not None


def make_scheduler(name: str, base_class: type, base_config: Any) -> tuple[Any, str]:
    """A fresh scheduler for the A1111 sampler ``name`` ("" = the model's own) and a notice (or "")."""
    import diffusers as d

    notice = ""
    if not name:
        return base_class.from_config(base_config), notice
    table: dict[str, tuple[Any, dict]] = {
        "Euler": (d.EulerDiscreteScheduler, {}),
        "Euler a": (d.EulerAncestralDiscreteScheduler, {}),
        "DPM++ 2M": (d.DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "solver_order": 2}),
        "DPM++ 2M Karras": (
            d.DPMSolverMultistepScheduler,
            {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
        ),
        "DPM++ SDE Karras": (d.DPMSolverSDEScheduler, {"use_karras_sigmas": True}),
        "DDIM": (d.DDIMScheduler, {}),
        "UniPC": (d.UniPCMultistepScheduler, {}),
        "Heun": (d.HeunDiscreteScheduler, {}),
        "LMS": (d.LMSDiscreteScheduler, {}),
        "PNDM": (d.PNDMScheduler, {}),
        "LCM": (d.LCMScheduler, {}),
    }
    if name not in table:
        raise InvalidRequest(f"unknown sampler {name!r}; choose one of: {', '.join(table)}.")
    cls, extra = table[name]
    if cls is d.DPMSolverSDEScheduler and not torchsde_available():
        cls, extra = d.DPMSolverMultistepScheduler, {"algorithm_type": "sde-dpmsolver++", "use_karras_sigmas": True}
        notice = "DPM++ SDE Karras needs the torchsde package, which is not installed; used DPM++ 2M SDE Karras."
    return cls.from_config(base_config, **extra), notice


def sampler_label(scheduler: Any) -> str:
    """The AUTOMATIC1111 name of a diffusers scheduler (its class name when A1111 has none)."""
    cls = type(scheduler).__name__
    cfg = getattr(scheduler, "config", {})
    karras = bool(cfg.get("use_karras_sigmas", False))
    if cls == "DPMSolverMultistepScheduler":
        sde = "sde" in str(cfg.get("algorithm_type", ""))
        return "DPM++ 2M" + (" SDE" if sde else "") + (" Karras" if karras else "")
    if cls == "DPMSolverSDEScheduler":
        return "DPM++ SDE" + (" Karras" if karras else "")
    names = {
        "EulerDiscreteScheduler": "Euler",
        "EulerAncestralDiscreteScheduler": "Euler a",
        "DDIMScheduler": "DDIM",
        "UniPCMultistepScheduler": "UniPC",
        "HeunDiscreteScheduler": "Heun",
        "LMSDiscreteScheduler": "LMS",
        "PNDMScheduler": "PNDM",
        "LCMScheduler": "LCM",
    }
    return names.get(cls, cls)
