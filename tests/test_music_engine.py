"""The music engine on tiny MusicGen models built from configs: exact durations (one window and
several), seeds, variations, cancel, continuation, melody, stereo and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from studio.engines.base import CancelToken, Runtime
from studio.engines.music import MusicEngine, plan_windows
from studio.engines.music_model import load_music_model, undelay
from studio.errors import Cancelled, InvalidRequest, WrongModelKind
from studio.events import Notice, Output, Preview, Progress
from studio.models.device import choose
from studio.requests import MusicRequest
from studio.testing.events import collect
from studio.testing.tiny_music import HOP, SAMPLE_RATE

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def runtime():
    return Runtime(device="cpu")  # one per module: the tiny model loads once


def run(model, runtime, cancel=None, on_event=None, **kw):
    kw.setdefault("seed", 1)
    request = MusicRequest(prompt=kw.pop("prompt", "lo-fi hip hop with warm piano"), model=model, **kw)
    return collect(MusicEngine().run(request, runtime, cancel or CancelToken()), on_event)


def outputs(events):
    return [e for e in events if isinstance(e, Output)]


def write_clip(path, seconds=0.5, rate=8000, channels=1, amplitude=0.5):
    t = np.arange(int(seconds * rate)) / rate
    tone = (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    soundfile.write(str(path), np.stack([tone] * channels, axis=-1), rate)
    return str(path)


def test_plan_windows_keeps_the_tail_as_the_next_prompt():
    # 30 s window, 12 s kept, 50 frames/s: AudioCraft's 18 s stride
    windows = plan_windows(total=60 * 50, window=1500, keep=600)
    assert [w.prompt for w in windows] == [0, 600, 600]  # AudioCraft: windows at 0, 18 and 36 s
    assert [w.new for w in windows] == [1500, 900, 600]
    assert sum(w.new for w in windows) == 3000
    assert all(w.prompt + w.new <= 1500 for w in windows)


def test_one_window_has_the_exact_duration(tiny_musicgen, runtime):
    events, stats = run(tiny_musicgen, runtime, duration_s=1.1)
    (out,) = outputs(events)
    audio, rate = out.data
    assert rate == SAMPLE_RATE and audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) == round(1.1 * SAMPLE_RATE)  # to the sample, not to the frame
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0
    assert out.media == "audio/flac" and out.params["seed"] == 1 and out.params["partial"] is False
    assert stats.windows == 1
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress and progress[-1].step == progress[-1].total and progress[-1].eta_s is not None


@pytest.mark.parametrize("stereo", [False, True], ids=["mono", "stereo"])
def test_one_window_gives_the_samples_of_raw_generate(stereo, tiny_musicgen, tiny_musicgen_stereo, runtime):
    """processor → ``generate`` with the request's settings and seed, as a script would write it."""
    import torch
    from transformers import AutoProcessor, MusicgenForConditionalGeneration

    folder = tiny_musicgen_stereo if stereo else tiny_musicgen
    request = MusicRequest(prompt="lo-fi hip hop with warm piano", model=folder, duration_s=1.3, seed=7)
    events = collect(MusicEngine().run(request, runtime, CancelToken()))[0]
    ours = outputs(events)[0].data[0]
    assert not [e for e in events if isinstance(e, Preview)]  # one window: the output itself, no preview first

    model = MusicgenForConditionalGeneration.from_pretrained(folder).eval()
    inputs = AutoProcessor.from_pretrained(folder)(text=[request.prompt], padding=True, return_tensors="pt")
    delay = model.decoder.num_codebooks // model.decoder.config.audio_channels - 1
    samples = round(request.duration_s * SAMPLE_RATE)
    torch.manual_seed(request.seed)
    with torch.inference_mode():
        values = model.generate(**inputs, do_sample=True, guidance_scale=request.guidance_scale,
                                temperature=request.temperature, top_k=request.top_k, top_p=1.0,
                                max_new_tokens=-(-samples // HOP) + delay)
    raw = values[0].T.float().numpy()[:samples]
    assert np.array_equal(ours, raw[:, 0] if not stereo else raw)


@pytest.mark.parametrize("stereo", [False, True], ids=["mono", "stereo"])
def test_codes_read_from_the_token_stream_are_the_codes_generate_decodes(
        stereo, tiny_musicgen, tiny_musicgen_stereo, runtime, monkeypatch):
    """The windows' prompts and the final decode use ``undelay``: the same codes ``generate``
    hands its codec, prompt codes first."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    mm = load_music_model(runtime.resolve(tiny_musicgen_stereo if stereo else tiny_musicgen, "music"), choose("cpu"))
    decoded = []
    real_decode = mm.model.audio_encoder.decode

    def spy(codes, *args, **kwargs):
        decoded.append(codes[0].clone())  # (1, codebooks of one channel, frames)
        return real_decode(codes, *args, **kwargs)

    monkeypatch.setattr(mm.model.audio_encoder, "decode", spy)

    class Keep(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            self.stream = input_ids
            return torch.zeros(input_ids.shape[0], dtype=torch.bool)

    keep = Keep()
    prompt = torch.randint(0, 64, (1, mm.num_codebooks, 9), generator=torch.Generator().manual_seed(0))
    inputs = mm.processor(text=["piano"], padding=True, return_tensors="pt")
    torch.manual_seed(0)
    with torch.inference_mode():
        mm.model.generate(**inputs, decoder_input_ids=prompt.reshape(mm.num_codebooks, -1), do_sample=True,
                          max_new_tokens=20 + mm.delay, stopping_criteria=StoppingCriteriaList([keep]))
    expected = decoded[0] if not stereo else torch.stack(decoded, dim=2).reshape(1, mm.num_codebooks, -1)
    codes = undelay(mm, keep.stream, prompt)
    assert codes.shape == (1, mm.num_codebooks, 9 + 20)
    assert torch.equal(codes, expected)
    assert torch.equal(codes[..., :9], prompt)
    assert not torch.equal(undelay(mm, keep.stream)[..., :9], prompt)  # the delayed prompt tail was sampled over


def test_past_the_window_it_chains_windows_and_keeps_the_exact_duration(tiny_musicgen, runtime):
    events, stats = run(tiny_musicgen, runtime, duration_s=2.5, window_keep_s=1.0)
    (out,) = outputs(events)
    audio, _ = out.data
    assert len(audio) == round(2.5 * SAMPLE_RATE)
    assert stats.windows == 2 and out.params["windows"] == 2
    previews = [e for e in events if isinstance(e, Preview)]
    assert [p.step for p in previews] == [0, 1]  # each finished window is playable at once
    # the previews hold only each window's new part: together they cover the whole piece
    assert sum(len(p.audio) for p in previews) >= len(audio)
    assert any("windows" in e.message for e in events if isinstance(e, Notice))


def test_same_seed_same_samples_and_variations_step_the_seed(tiny_musicgen, runtime):
    events, _ = run(tiny_musicgen, runtime, duration_s=1.0, seed=5, variations=2)
    first, second = (o.data[0] for o in outputs(events))
    assert [o.params["seed"] for o in outputs(events)] == [5, 6]
    again, _ = run(tiny_musicgen, runtime, duration_s=1.0, seed=6)
    assert np.array_equal(outputs(again)[0].data[0], second)
    assert not np.array_equal(first, second)


def test_cancel_keeps_the_finished_windows_as_a_partial_result(tiny_musicgen, runtime):
    cancel = CancelToken()

    def on_event(ev):
        if isinstance(ev, Preview):  # cancel as soon as the first window is done
            cancel.cancel()

    events = []
    with pytest.raises(Cancelled):
        collect(MusicEngine().run(MusicRequest(prompt="piano", model=tiny_musicgen, seed=2, duration_s=3.0,
                                               window_keep_s=1.0), runtime, cancel),
                lambda ev: (events.append(ev), on_event(ev)))
    (out,) = outputs(events)
    audio, _ = out.data
    assert out.params["partial"] is True and out.params["windows"] == 1
    assert len(audio) == len([e for e in events if isinstance(e, Preview)][0].audio)
    assert 0 < len(audio) < 3 * SAMPLE_RATE
    assert any("Cancelled" in e.message for e in events if isinstance(e, Notice))


def test_cancel_inside_the_first_window_stops_within_a_few_tokens(tiny_musicgen, runtime):
    cancel = CancelToken()
    events = []

    asked_at = []

    def on_event(ev):
        events.append(ev)
        if isinstance(ev, Progress) and not asked_at:  # the first step is reported at once
            asked_at.append(ev.step)
            cancel.cancel()

    with pytest.raises(Cancelled):
        collect(MusicEngine().run(MusicRequest(prompt="piano", model=tiny_musicgen, duration_s=1.0), runtime, cancel),
                on_event)
    assert not outputs(events)
    steps = [e.step for e in events if isinstance(e, Progress)]
    assert asked_at[0] < 51 and max(steps) <= asked_at[0] + 3  # of 51: nothing reported past a few tokens


def test_continuation_starts_with_the_clip(tiny_musicgen, runtime, tmp_path):
    clip = write_clip(tmp_path / "clip.wav", seconds=0.5, rate=8000)
    events, _ = run(tiny_musicgen, runtime, duration_s=1.0, continue_from=clip)
    (out,) = outputs(events)
    clip_frames = -(-round(0.5 * SAMPLE_RATE) // HOP)  # the clip, resampled to 3.2 kHz, in whole frames
    assert len(out.data[0]) == clip_frames * HOP + SAMPLE_RATE
    assert out.params["continue_from"] == clip


def test_continuation_past_the_window(tiny_musicgen, runtime, tmp_path):
    clip = write_clip(tmp_path / "clip.flac", seconds=0.3, rate=SAMPLE_RATE, channels=2)  # stereo clip, mono model
    events, stats = run(tiny_musicgen, runtime, duration_s=2.0, continue_from=clip, window_keep_s=1.0)
    (out,) = outputs(events)
    assert len(out.data[0]) == 0.3 * SAMPLE_RATE + 2 * SAMPLE_RATE
    assert stats.windows >= 2


def test_stereo_model_gives_stereo(tiny_musicgen_stereo, runtime):
    events, _ = run(tiny_musicgen_stereo, runtime, duration_s=1.1)
    audio, _ = outputs(events)[0].data
    assert audio.shape == (round(1.1 * SAMPLE_RATE), 2)
    assert outputs(events)[0].params["channels"] == 2


def test_melody_model_follows_a_melody_file(tiny_musicgen_melody, runtime, tmp_path):
    melody = write_clip(tmp_path / "melody.wav", seconds=0.7, rate=16000)
    events, stats = run(tiny_musicgen_melody, runtime, duration_s=2.2, melody=melody, window_keep_s=1.0)
    audio, _ = outputs(events)[0].data
    assert len(audio) == round(2.2 * SAMPLE_RATE) and stats.windows >= 2
    # the melody conditions the music: another melody, same seed, other samples
    other = write_clip(tmp_path / "other.wav", seconds=0.7, rate=16000)
    soundfile.write(other, np.random.default_rng(0).uniform(-0.5, 0.5, 11200).astype(np.float32), 16000)
    events2, _ = run(tiny_musicgen_melody, runtime, duration_s=2.2, melody=other, window_keep_s=1.0)
    assert not np.array_equal(outputs(events2)[0].data[0], audio)


def test_melody_on_a_model_without_melody_is_refused(tiny_musicgen, runtime, tmp_path):
    melody = write_clip(tmp_path / "melody.wav")
    with pytest.raises(InvalidRequest, match="takes no melody"):
        run(tiny_musicgen, runtime, melody=melody)


@pytest.mark.parametrize("what", ["missing", "text", "truncated", "silent", "empty"])
@pytest.mark.parametrize("field", ["melody", "continue_from"])
def test_bad_clip_files_get_a_clear_message(tiny_musicgen_melody, runtime, tmp_path, what, field):
    path = tmp_path / "clip.wav"
    if what == "text":
        path.write_text("this is not audio")
    elif what == "truncated":
        write_clip(path)
        path.write_bytes(path.read_bytes()[:30])
    elif what == "silent":
        soundfile.write(str(path), np.zeros(4000, dtype=np.float32), 8000)
    elif what == "empty":
        soundfile.write(str(path), np.zeros(0, dtype=np.float32), 8000)
    words = {"missing": "No (melody|clip to continue) at", "text": "Can't read", "truncated": "Can't read", "silent": "silent",
             "empty": "no audio"}[what]
    with pytest.raises(InvalidRequest, match=words):
        run(tiny_musicgen_melody, runtime, **{field: str(path)})


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"duration_s": 0.5}, "duration"),
        ({"duration_s": 301}, "duration"),
        ({"duration_s": float("nan")}, "duration"),
        ({"guidance_scale": 21}, "guidance"),
        ({"top_p": 1.5}, "top-p"),
        ({"variations": 9}, "variations"),
        ({"prompt": "  "}, "empty"),
    ],
)
def test_out_of_range_values_are_refused(changes, words):
    with pytest.raises(InvalidRequest, match=words):
        MusicRequest(**{"prompt": "piano", **changes}).validate()


def test_a_text_model_is_not_a_music_model(tiny_llm, runtime):
    with pytest.raises(WrongModelKind, match="text model"):
        run(tiny_llm, runtime)


def test_sampling_settings_reach_generate(tiny_musicgen, runtime):
    def audio(**kw):
        events, _ = run(tiny_musicgen, runtime, duration_s=1.0, **kw)
        return outputs(events)[0].data[0]

    # top-k 1 leaves one token to draw: the seed no longer matters
    assert np.array_equal(audio(seed=1, top_k=1), audio(seed=2, top_k=1))
    # guidance off (1) vs on (3), same seed: other music
    assert not np.array_equal(audio(seed=3, guidance_scale=1.0), audio(seed=3, guidance_scale=3.0))
