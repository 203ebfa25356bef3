"""Music engine: MusicGen text-to-music past the model's 30 s window, melody and continuation.

Long pieces are made as AudioCraft makes them (``MusicGen._generate_tokens``): generate a window,
keep its last ``window_keep_s`` seconds of tokens as the prompt of the next window, append only the
new tokens, and decode all tokens once at the end. A melody is cut per window at the window's time
offset (repeated when shorter). Continuing a clip makes the clip's tokens the first prompt; the
result is the clip followed by ``duration_s`` seconds of new music.

Every ``generate`` call (and the encoding of a clip to continue) runs on the runtime's compute
thread. A StoppingCriteria there counts the steps (progress, time left), reads the cancel token, and
holds the finished token stream, from which the codes are read back without a second decode (only
when a later window or the final decode needs them: a one-window piece is generate's own audio).
When a piece takes several windows, each finished window is yielded as an audio Preview; Cancel
keeps the finished windows as a partial result that says so.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import Cancelled, InvalidRequest
from ..events import Event, MusicStats, Notice, Output, Preview, Progress, Status
from ..library.inputs import CONTINUE_TAIL_S
from ..requests import MusicRequest
from .base import CancelToken, Runtime
from .music_model import (
    MusicModel,
    as_output_audio,
    decode_codes,
    encode_clip,
    fit_clip,
    is_melody_model,
    load_music_model,
    loop_segment,
    undelay,
)
from .preflight import continue_clip, melody_clip, preflight_music


@dataclass(frozen=True)
class Window:
    """One ``generate`` call: ``prompt`` frames kept from before, ``new`` frames to make."""

    offset: int  # frame (in the new music) where this window's new frames start
    prompt: int
    new: int


def plan_windows(total: int, window: int, keep: int, first_prompt: int = 0) -> list[Window]:
    """The windows that make ``total`` new frames with a model window of ``window`` frames.

    The first window starts from ``first_prompt`` frames (a continued clip); each later one from
    the last ``keep`` frames of the window before (AudioCraft's ``max_duration - extend_stride``).
    """
    if keep >= window:
        raise ValueError("keep must be shorter than the window")
    windows, made, prompt = [], 0, min(first_prompt, window - 1)
    while made < total:
        new = min(window - prompt, total - made)
        windows.append(Window(made, prompt, new))
        made += new
        prompt = min(keep, prompt + new)
    return windows


class _StepWatch:
    """StoppingCriteria: counts steps, keeps the finished token stream, stops every row once cancel is set.

    Steps are reported to the engine's thread at the first step, then at most every 200 ms (``flush``
    sends the rest): each
    report wakes that thread, and on a busy machine the wake-up preempts this one (profiled with
    benchmarks/bench_music.py: at one report per 50 ms the compute thread spent about 5 % of a run in
    ``SimpleQueue.put``). Cancel does not wait for a report: the token is read here at every step.
    """

    INTERVAL_S = 0.2

    def __init__(self, loop: _WindowLoop, report: Callable[[int], None], length: int) -> None:
        self.loop = loop
        self.report = report
        self.length = length  # of the finished token stream
        self.stream = None  # the finished stream (None: the window did not finish)
        self.unreported = 0
        self.last = float("-inf")  # the first step is reported at once: the progress bar starts moving
        self._go = None  # the "keep going" answer, made once per batch size and device

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        if input_ids.shape[-1] >= self.length:  # the finished stream (a window cut short has none)
            self.stream = input_ids
        self.unreported += 1
        now = time.perf_counter()
        if now - self.last >= self.INTERVAL_S:
            self.flush(now)
        rows = input_ids.shape[0]
        if self.loop.stopped:
            return torch.ones((rows,), dtype=torch.bool, device=input_ids.device)
        if self._go is None or self._go.shape[0] != rows or self._go.device != input_ids.device:
            self._go = torch.zeros((rows,), dtype=torch.bool, device=input_ids.device)
        return self._go  # generate only reads it (is_done | criteria)

    def flush(self, now: float | None = None) -> None:
        if self.unreported:
            self.report(self.unreported)
            self.unreported = 0
        self.last = now if now is not None else time.perf_counter()


@dataclass
class _Inputs:
    """What one variation is made from (numpy audio at the model's rate; codes on the device)."""

    text: str
    melody: np.ndarray | None
    clip_codes: Any  # (1, K, frames) or None
    samples: int  # new audio asked for, in samples
    total_frames: int  # codec frames that cover them
    keep: int  # frames of each window kept as the next one's prompt
    sampling: dict


class MusicEngine:
    kind = "music"

    #: the cheap checks before any model loads (the job queue and the CLI run them too)
    preflight = staticmethod(preflight_music)

    def run(self, request: MusicRequest, runtime: Runtime, cancel: CancelToken) -> Generator[Event, None, MusicStats]:
        # 1. Read and check the input clips, resolve (before a model of gigabytes loads), load (cached across jobs).
        preflight_music(request, clips=False)  # the clips are read (and checked) once, below
        melody = clip = None
        if request.melody:  # only the part that is used: the piece's length and one window
            data, rate, _info = melody_clip(request)
            melody = (data, rate)
        if request.continue_from:  # only the tail
            data, rate, info = continue_clip(request.continue_from)
            clip = (data, rate)
            if len(data) < info.frames:
                yield Notice(
                    f"The clip to continue is {info.seconds:.0f} s long: continuing from its last "
                    f"{CONTINUE_TAIL_S:g} s, which the result starts with."
                )
        resolved = runtime.resolve(request.model, "music")
        if melody is not None and not is_melody_model(resolved.path):
            raise InvalidRequest(
                "This model takes no melody: pick a melody model (musicgen-melody) or clear the melody file."
            )
        cancel.check()
        yield Status(f"Loading {resolved.label}…")
        t_load = time.perf_counter()
        mm, choice, notice = runtime.load(resolved, lambda c: load_music_model(resolved, c))
        load_s = time.perf_counter() - t_load
        if notice:
            yield Notice(notice)
        cancel.check()

        # 2. Inputs: melody, clip to continue, the window plan.
        inputs = self._prepare(request, mm, melody, clip, runtime)
        window_s = mm.window_frames / mm.frame_rate
        if inputs.keep >= mm.window_frames:  # keep at most 40 % of the window, as 12 s of 30 s
            inputs.keep = int(mm.window_frames * 0.4)
            yield Notice(
                f"Window keep {request.window_keep_s:g} s does not fit the model's {window_s:.1f} s window; "
                f"keeping {inputs.keep / mm.frame_rate:.1f} s instead."
            )
        first_prompt = 0 if inputs.clip_codes is None else int(inputs.clip_codes.shape[-1])
        # a continued clip conditions the first window with its last `keep` frames (half a window with keep 0)
        first_prompt = min(first_prompt, inputs.keep or mm.window_frames // 2)
        windows = plan_windows(inputs.total_frames, mm.window_frames, inputs.keep, first_prompt)
        steps_per_variation = sum(w.new + mm.delay for w in windows)
        total_steps = steps_per_variation * request.variations
        if len(windows) > 1:
            yield Notice(
                f"{request.duration_s:g} s is longer than the model's {window_s:.3g} s window: making it in "
                f"{len(windows)} windows, each continuing the last {inputs.keep / mm.frame_rate:g} s of the one before."
            )

        # 3. One clip per variation, seeds seed, seed + 1, …
        base_seed = request.seed if request.seed is not None else secrets.randbelow(2**32)
        t0 = time.perf_counter()
        done_steps = 0
        saved = 0
        audio_seconds = 0.0
        partial = False
        for index in range(request.variations):
            seed = (base_seed + index) % 2**32
            yield Status(
                "Generating…" if request.variations == 1 else f"Generating variation {index + 1} of {request.variations}…"
            )
            made = yield from self._variation(mm, inputs, windows, seed, index, cancel, runtime,
                                              done_steps, total_steps, t0)
            done_steps += steps_per_variation
            if made is None:  # cancelled before the first window finished
                break
            audio, made_frames, finished_windows = made
            partial = finished_windows < len(windows)
            seconds = made_frames / mm.frame_rate if partial else float(request.duration_s)
            if partial:
                yield Notice(
                    f"Cancelled: kept the {finished_windows} finished window(s) of {len(windows)} "
                    f"({seconds:.1f} s of the {request.duration_s:g} s asked for)."
                )
            params = {
                **request.to_dict(),
                "seed": seed,
                "model": resolved.id,
                "model_name": resolved.label,
                "sample_rate": mm.sample_rate,
                "channels": mm.channels,
                "audio_seconds": len(audio) / mm.sample_rate,
                "windows": finished_windows,
                "partial": partial,
                "variation": index,
            }
            yield Output("audio/flac", (audio, mm.sample_rate), params, index=index)
            saved += 1
            audio_seconds += seconds
            if cancel.cancelled:
                break

        elapsed = time.perf_counter() - t0
        if cancel.cancelled:
            raise Cancelled()
        return MusicStats(
            seconds=elapsed,
            load_seconds=load_s,
            device=choice.label(),
            seed=base_seed,
            model=resolved.id,
            audio_seconds=audio_seconds,
            sample_rate=mm.sample_rate,
            windows=len(windows),
            window_seconds=window_s,
            variations=saved,
            partial=partial,
        )

    # --- steps ---------------------------------------------------------------------------------

    @staticmethod
    def _prepare(request: MusicRequest, mm: MusicModel, melody, clip, runtime: Runtime) -> _Inputs:
        """Fit the clips to the model (numpy, here) and encode the one to continue (on the compute thread)."""
        if melody is not None:
            melody = fit_clip(melody, mm.sample_rate, 1)
        clip_codes = None
        if clip is not None:
            fitted = fit_clip(clip, mm.sample_rate, mm.channels)
            if fitted.shape[-1] < mm.hop:
                raise InvalidRequest("The clip to continue is too short: it needs at least one codec frame.")
            clip_codes = runtime.compute.call(_encode, mm, fitted)
        samples = round(float(request.duration_s) * mm.sample_rate)
        # every value explicit (None would fall back to the checkpoint's generation_config):
        # top-k 0, top-p 1 and guidance ≤ 1 are "off" for transformers
        sampling: dict[str, Any] = dict(
            do_sample=True,
            temperature=float(request.temperature),
            top_k=int(request.top_k),
            top_p=float(request.top_p) if request.top_p > 0 else 1.0,
            guidance_scale=float(request.guidance_scale),
        )
        return _Inputs(
            text=request.prompt,
            melody=melody,
            clip_codes=clip_codes,
            samples=samples,
            total_frames=math.ceil(samples / mm.hop),
            keep=round(float(request.window_keep_s) * mm.frame_rate),
            sampling=sampling,
        )

    def _variation(self, mm, inputs, windows, seed, index, cancel, runtime, done_before, total_steps, t0):
        """Yields progress and window previews; returns (audio, frames made, windows finished) or None.

        The stream gets its own token, set only when this generator is closed early: the person's
        Cancel (``cancel``) stops the windows but lets the finished ones come back as a result.
        """
        stop = CancelToken()
        stream = runtime.compute.stream(_WindowLoop(mm, inputs, windows, seed, (cancel, stop)), stop)
        steps = 0
        try:
            while True:
                try:
                    kind, payload = next(stream)
                except StopIteration as end:
                    return end.value
                if kind == "steps":
                    steps += payload
                    done = done_before + steps
                    rate = done / max(time.perf_counter() - t0, 1e-6)
                    yield Progress(done, total_steps, "generate", eta_s=(total_steps - done) / rate)
                else:  # a finished window: (audio, number)
                    audio, number = payload
                    yield Preview(audio=audio, sample_rate=mm.sample_rate, step=number, index=index)
        finally:
            stream.close()  # closed early: sets `stop`, waits until the compute thread is free


def _encode(mm: MusicModel, clip: np.ndarray):
    """Codec tokens of a fitted clip (compute thread)."""
    import torch

    with torch.inference_mode():
        return encode_clip(mm, clip)


class _WindowLoop:
    """The compute-thread side of one variation: windows, previews, the final decode."""

    def __init__(self, mm: MusicModel, inputs: _Inputs, windows: list[Window], seed: int,
                 tokens: tuple[CancelToken, ...]) -> None:
        self.mm, self.inputs, self.windows, self.seed = mm, inputs, windows, seed
        self.tokens = tokens
        self.emit: Callable[[Any], None] = lambda item: None

    @property
    def stopped(self) -> bool:
        return any(t.cancelled for t in self.tokens)

    def __call__(self, emit: Callable[[Any], None]):
        self.emit = emit
        return self._run()

    def _run(self):
        import torch

        mm, inputs = self.mm, self.inputs
        torch.manual_seed(self.seed)
        with torch.inference_mode():
            text = {"text": [inputs.text]}
            parts = [] if inputs.clip_codes is None else [inputs.clip_codes]
            prompt = None if inputs.clip_codes is None else inputs.clip_codes[..., inputs.clip_codes.shape[-1] - self.windows[0].prompt :]
            # one window and no clip: generate's own audio is the piece, and no codes are needed
            only = len(self.windows) == 1 and inputs.clip_codes is None
            finished = 0
            for number, window in enumerate(self.windows):
                codes, audio = self._generate(text, prompt, window, codes=not only)
                if audio is None:  # cancelled inside this window: it is dropped
                    break
                finished += 1
                if only:
                    break  # the output follows at once: no preview of the same audio before it
                parts.append(codes[..., window.prompt :])
                self.emit(("window", (as_output_audio(audio[window.prompt * mm.hop :]), number)))
                prompt = codes[..., codes.shape[-1] - min(inputs.keep, codes.shape[-1]) :] if inputs.keep else None
                if self.stopped:
                    break
            if finished == 0:
                return None
            made = sum(w.new for w in self.windows[:finished])
            # decode once (a lone window's generate already decoded exactly its tokens: ``audio``)
            if not only:
                audio = decode_codes(mm, torch.cat(parts, dim=-1))
            clip_frames = 0 if inputs.clip_codes is None else int(inputs.clip_codes.shape[-1])
            new_samples = inputs.samples if finished == len(self.windows) else made * mm.hop
            return as_output_audio(audio[: clip_frames * mm.hop + new_samples]), made, finished

    def _generate(self, text: dict, prompt, window: Window, codes: bool = True):
        """One window: returns (codes (1, K, prompt + new) or None without ``codes``, decoded audio
        (samples, channels)), or (None, None) when cancelled."""
        import torch
        from transformers import StoppingCriteriaList

        mm = self.mm
        model = mm.model
        device = model.device
        kwargs: dict[str, Any] = dict(text, padding=True, return_tensors="pt")
        if self.inputs.melody is not None:
            start = window.offset * mm.hop - window.prompt * mm.hop
            segment = loop_segment(self.inputs.melody, max(start, 0), mm.window_frames * mm.hop)
            kwargs.update(audio=segment[0], sampling_rate=mm.sample_rate)
        encoded = mm.processor(**kwargs)
        gen: dict[str, Any] = {k: v.to(device) for k, v in encoded.items()}
        if "input_features" in gen:
            gen["input_features"] = gen["input_features"].to(model.dtype)
        given = prompt if prompt is not None and window.prompt else None
        length = 1 + window.new + mm.delay  # of the finished stream: the start token, the codes, the delay
        if given is not None:
            gen["decoder_input_ids"] = given.reshape(mm.num_codebooks, -1)
            length += int(given.shape[-1])
        watch = _StepWatch(self, lambda count: self.emit(("steps", count)), length)
        try:
            values = model.generate(
                **gen,
                **self.inputs.sampling,
                max_new_tokens=window.new + mm.delay,
                stopping_criteria=StoppingCriteriaList([watch]),
            )
        except Exception:
            if self.stopped:  # a window cut short cannot be un-delayed; it is dropped anyway
                return None, None
            raise
        finally:
            watch.flush()
        if watch.stream is None:
            return None, None  # stopped by Cancel before the window was complete
        audio = torch.stack([values[0, c] for c in range(values.shape[1])], dim=-1).float().cpu().numpy()
        return (undelay(mm, watch.stream, given) if codes else None), audio
