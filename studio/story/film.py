"""The film: pictures fitted into the frame, optional slow zoom/pan and burned-in subtitles, cross-fades;
frames streamed one at a time to an H.264 + AAC MP4 written with PyAV.

Only the pictures of the scene on screen and the next one are held; every frame goes to the encoder
as soon as it is drawn. The MP4 is written to a temp file beside the target and renamed over it when
complete, so a cancel, a crash or a full disk never leaves a partial film.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..cancel import CancelToken
from ..errors import StudioError
from ..library.atomic import temp_file_in
from .mix import RATE
from .timing import Timeline

KEN_BURNS_ZOOM = 0.08  # how much closer the end of a scene is than its start
#: H.264 encoders, best first (FFmpeg builds differ in which one they carry)
H264_ENCODERS = ("libx264", "h264", "libopenh264")


def fit(picture, size: tuple[int, int], box: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """``picture`` (or its ``box``) scaled to fit inside ``size`` without stretching, centred on black."""
    from PIL import Image

    w, h = size
    bw, bh = (box[2] - box[0], box[3] - box[1]) if box else picture.size
    scale = min(w / bw, h / bh)
    fw, fh = max(1, min(w, round(bw * scale))), max(1, min(h, round(bh * scale)))
    scaled = picture.resize((fw, fh), Image.Resampling.BILINEAR, box=box)
    frame = np.zeros((h, w, 3), np.uint8)
    x, y = (w - fw) // 2, (h - fh) // 2
    frame[y:y + fh, x:x + fw] = np.asarray(scaled)
    return frame


def blend_frames(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """``a`` cross-faded toward ``b`` by ``t`` (0…1), in Pillow's C loop (a float numpy blend of a
    720p frame costs ten times more)."""
    from PIL import Image

    return np.asarray(Image.blend(Image.fromarray(a), Image.fromarray(b), float(t)))


def ken_burns_box(picture_size: tuple[int, int], progress: float, index: int) -> tuple[float, float, float, float]:
    """The part of the picture shown at ``progress`` (0…1) of scene ``index``: alternately zooming
    in and out, drifting left or right."""
    w, h = picture_size
    p = progress if index % 2 == 0 else 1.0 - progress
    zoom = 1.0 + KEN_BURNS_ZOOM * p
    bw, bh = w / zoom, h / zoom
    drift = (1 if index % 4 < 2 else -1) * (w - bw) / 2 * (2 * progress - 1) * 0.6
    cx, cy = w / 2 + drift, h / 2
    x0 = min(max(cx - bw / 2, 0.0), w - bw)
    y0 = min(max(cy - bh / 2, 0.0), h - bh)
    return (x0, y0, x0 + bw, y0 + bh)


class Frames:
    """The film's frames in order (uint8 RGB arrays of ``size``), drawn on demand.

    ``pictures[i]`` is scene i's picture file; ``captions[i]`` the text burned in while scene i's
    narration plays (None: no subtitles).
    """

    def __init__(self, timeline: Timeline, pictures: list[str | Path], size: tuple[int, int], fps: int, *,
                 ken_burns: bool = False, captions: list[str] | None = None) -> None:
        self.timeline, self.pictures, self.size, self.fps = timeline, [Path(p) for p in pictures], size, fps
        self.ken_burns, self.captions = ken_burns, captions
        self._open: dict[int, object] = {}  # scene → PIL picture (at most the current and the next)
        self._fitted: dict[int, np.ndarray] = {}
        self._subtitle: tuple[int, object] | None = None

    @property
    def count(self) -> int:
        return self.timeline.frame_count(self.fps)

    def _picture(self, index: int):
        if index not in self._open:
            from PIL import Image

            for old in [k for k in self._open if k < index - 1]:
                del self._open[old]
                self._fitted.pop(old, None)
            with Image.open(self.pictures[index]) as im:
                self._open[index] = im.convert("RGB")
        return self._open[index]

    def _scene_frame(self, index: int, t: float) -> np.ndarray:
        picture = self._picture(index)
        if not self.ken_burns:
            if index not in self._fitted:
                self._fitted[index] = fit(picture, self.size)
            return self._fitted[index]
        shot = self.timeline.shots[index]
        progress = min(1.0, max(0.0, (t - shot.start) / shot.length)) if shot.length else 0.0
        return fit(picture, self.size, ken_burns_box(picture.size, progress, index))

    def frame(self, n: int) -> np.ndarray:
        t = n / self.fps
        scene, following, blend = self.timeline.at(t)
        frame = self._scene_frame(scene, t)
        if following is not None and blend > 0:
            other = self._scene_frame(following, t)
            frame = blend_frames(frame, other, blend)
        shot = self.timeline.shots[scene]
        if self.captions and self.captions[scene] and shot.speech_start <= t < shot.speech_end:
            frame = self._burn(frame, scene)
        return frame

    def _burn(self, frame: np.ndarray, scene: int) -> np.ndarray:
        """The scene's caption drawn on a dark band at the bottom of ``frame``."""
        from PIL import Image, ImageDraw, ImageFont

        if self._subtitle is None or self._subtitle[0] != scene:
            import textwrap

            w, h = self.size
            font_px = max(14, min(w, h) // 20)
            while True:  # the whole narration, in at most 3 lines where a smaller font allows it
                lines = textwrap.wrap(self.captions[scene], max(16, int(w * 0.9 / (font_px * 0.52))))
                if len(lines) <= 3 or font_px <= 14:
                    break
                font_px -= 2
            lines = lines[:8]
            font = ImageFont.load_default(size=font_px)
            band = Image.new("RGBA", (w, (font_px + 8) * len(lines) + 16), (0, 0, 0, 150))
            draw = ImageDraw.Draw(band)
            for i, line in enumerate(lines):
                draw.text((w // 2, 8 + i * (font_px + 8)), line, font=font, fill=(255, 255, 255, 255), anchor="ma")
            self._subtitle = (scene, band)
        band = self._subtitle[1]
        image = Image.fromarray(frame)
        image.paste(band, (0, self.size[1] - band.size[1] - self.size[1] // 20), band)
        return np.asarray(image)

    def __iter__(self) -> Iterator[np.ndarray]:
        for n in range(self.count):
            yield self.frame(n)


@dataclass(frozen=True)
class FilmStats:
    frames: int
    seconds: float  # the film's length
    wall_seconds: float
    encoder: str

    @property
    def speed(self) -> float:
        """Seconds of film written per wall-clock second."""
        return self.seconds / self.wall_seconds if self.wall_seconds else 0.0


def _video_stream(container, fps: int, size: tuple[int, int], preset: str):
    import av

    for name in H264_ENCODERS:
        try:
            stream = container.add_stream(name, rate=fps)
        except (av.error.FFmpegError, ValueError, av.codec.codec.UnknownCodecError):
            continue
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        if name == "libx264":
            stream.options = {"preset": preset, "crf": "20"}
        return stream, name
    raise StudioError("This Studio's FFmpeg (PyAV) has no H.264 encoder; reinstall the av package.")


class _Held:
    """Sound already in memory, read the way the writer reads a :class:`~.mix.Mixer`."""

    def __init__(self, audio: np.ndarray) -> None:
        self.audio = np.asarray(audio, np.float32).reshape(-1, 2)
        self.frames = len(self.audio)

    def chunk(self, start: int, end: int) -> np.ndarray:
        return self.audio[start:end]


def write_mp4(
    path: str | Path,
    frames: Frames,
    audio,
    *,
    metadata: dict[str, str] | None = None,
    cancel: CancelToken | None = None,
    on_progress: Callable[[int, int, float | None], None] | None = None,
    preset: str = "veryfast",
) -> FilmStats:
    """Encode ``frames`` and ``audio`` into the MP4 ``path``: a :class:`~.mix.Mixer` (the sound made a piece
    at a time, as the frames go) or an array of (samples, 2) float32, at :data:`RATE`.

    Atomic: written to a temp file beside ``path`` and renamed when complete; on cancel
    (:class:`~studio.errors.Cancelled`) or any failure the temp file is removed and ``path`` is as it was.
    ``on_progress(done, total, eta_s)`` follows each frame.
    """
    import av

    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file_in(target.parent, target.name)
    os.close(fd)
    total = frames.count
    fps = frames.fps
    t0 = time.perf_counter()
    container = None
    try:
        container = av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"})  # plays while loading
        for key, value in (metadata or {}).items():
            container.metadata[key] = value
        video, encoder = _video_stream(container, fps, frames.size, preset)
        sound = container.add_stream("aac", rate=RATE, layout="stereo")
        sound.codec_context.time_base = Fraction(1, RATE)
        sound_source = audio if hasattr(audio, "chunk") else _Held(audio)
        sent = 0
        last_report = 0.0
        for n, pixels in enumerate(frames):
            if cancel is not None:
                cancel.check()
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = n
            frame.time_base = Fraction(1, fps)
            container.mux(video.encode(frame))
            upto = min(sound_source.frames, int(round((n + 1) * RATE / fps)))
            sent = _send_audio(container, sound, sound_source, sent, upto)
            now = time.perf_counter()
            if on_progress is not None and (now - last_report > 0.1 or n + 1 == total):
                last_report = now
                done = n + 1
                eta = (now - t0) / done * (total - done)
                on_progress(done, total, eta)
        _send_audio(container, sound, sound_source, sent, sound_source.frames)
        container.mux(video.encode(None))
        container.mux(sound.encode(None))
        container.close()
        container = None
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if container is not None:
            try:
                container.close()
            except Exception:  # closing a half-written container may fail too; the file goes anyway
                pass
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    wall = time.perf_counter() - t0
    return FilmStats(total, total / fps, wall, encoder)


def _send_audio(container, stream, source, start: int, end: int, chunk: int = 1024) -> int:
    """Samples ``start``…``end`` of ``source`` to the AAC encoder, made and sent ``chunk`` at a time."""
    import av

    if end <= start:
        return start
    piece = np.ascontiguousarray(source.chunk(start, end).T)  # (2, samples) for "fltp"
    base = start
    while start < end:
        stop = min(end, start + chunk)
        planar = np.ascontiguousarray(piece[:, start - base:stop - base])
        frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout="stereo")
        frame.sample_rate = RATE
        frame.pts = start
        frame.time_base = Fraction(1, RATE)
        container.mux(stream.encode(frame))
        start = stop
    return start
