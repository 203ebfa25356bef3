"""Tiny coqui VITS voices built from a VitsConfig (random weights, characters, no phonemizer).

Saved the way a downloaded coqui model looks (``model.pth`` + ``config.json`` in a folder) and loaded
back by the tests through Studio's public model path, like any downloaded model.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

CHARACTERS = "abcdefghijklmnopqrstuvwxyz"
PUNCTUATIONS = "!'(),-.:;? "


def build_tiny_vits(folder: str | Path, *, speakers: tuple[str, ...] = (), seed: int = 0) -> Path:
    """Write ``model.pth`` and ``config.json`` of a random-weight VITS into ``folder``; returns the folder."""
    import torch
    from TTS.tts.configs.shared_configs import CharactersConfig
    from TTS.tts.configs.vits_config import VitsConfig
    from TTS.tts.models.vits import Vits, VitsArgs

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    args = VitsArgs(
        hidden_channels=16,
        hidden_channels_ffn_text_encoder=32,
        num_heads_text_encoder=2,
        num_layers_text_encoder=1,
        num_layers_posterior_encoder=1,
        num_layers_flow=1,
        resblock_kernel_sizes_decoder=[3],
        resblock_dilation_sizes_decoder=[[1, 3, 5]],
        upsample_rates_decoder=[8, 8, 4],
        upsample_initial_channel_decoder=16,
        upsample_kernel_sizes_decoder=[16, 16, 8],
        periods_multi_period_discriminator=[2],
        init_discriminator=False,
        use_sdp=False,
        use_speaker_embedding=bool(speakers),
        speaker_embedding_channels=8,
        out_channels=129,
    )
    config = VitsConfig(
        model_args=args,
        use_phonemes=False,
        phonemizer=None,
        text_cleaner="basic_cleaners",
        characters=CharactersConfig(
            characters_class="TTS.tts.utils.text.characters.Graphemes",
            pad="_", eos="&", bos="*", blank="#",
            characters=CHARACTERS, punctuations=PUNCTUATIONS,
        ),
        add_blank=True,
        use_speaker_embedding=bool(speakers),
    )
    config.audio.sample_rate = 16000
    config.audio.fft_size = 256
    config.audio.win_length = 256
    config.audio.hop_length = 256
    config.audio.num_mels = 20
    config.audio.do_trim_silence = False  # random weights: the trimmer would cut at random places
    torch.manual_seed(seed)
    if speakers:
        (folder / "speakers.json").write_text(json.dumps({s: i for i, s in enumerate(speakers)}))
        config.model_args.speakers_file = str(folder / "speakers.json")
        config.speakers_file = str(folder / "speakers.json")
    model = Vits.init_from_config(config)
    with torch.no_grad():  # every symbol lasts two frames: the length of the audio follows the text
        model.duration_predictor.proj.weight.zero_()
        model.duration_predictor.proj.bias.fill_(math.log(2.0))
    torch.save({"model": model.state_dict()}, folder / "model.pth")
    config.save_json(str(folder / "config.json"))
    return folder
