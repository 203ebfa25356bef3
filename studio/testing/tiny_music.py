"""Tiny MusicGen models for the music tests and benchmarks, built offline from configs (random weights).

Each is saved with ``save_pretrained`` (safetensors) next to its processor, so the engine loads
it through ``from_pretrained`` exactly as a downloaded ``facebook/musicgen-*`` snapshot. The
codec runs at 3.2 kHz with a hop of 64 samples: 50 frames per second, as the real 32 kHz models.
The model's window (``generation_config.max_length``) is 2.04 s, so a 2.5 s request needs
several windows and the tests stay fast.
"""

from __future__ import annotations

SAMPLE_RATE = 3200
HOP = 64  # 8 × 8
FRAME_RATE = SAMPLE_RATE // HOP  # 50
CODEBOOK_SIZE = 64
WINDOW_LENGTH = 104  # generation_config.max_length: 1 start token + 102 frames (2.04 s) + 1 codebook delay

_CORPUS = [
    "lo-fi hip hop with warm piano, 80 bpm",
    "epic orchestral soundtrack with strings and brass",
    "calm ambient synth pads, slow and dreamy",
    "upbeat electronic dance music with a heavy bass",
] * 10


def _t5_tokenizer():
    """A tiny Unigram tokenizer shaped like T5's (pad 0, eos 1, unk 2), trained here, offline."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import T5TokenizerFast

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=120, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>")
    tok.train_from_iterator(_CORPUS, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", tok.token_to_id("</s>"))]
    )
    return T5TokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", extra_ids=0)


def _configs(tokenizer, *, stereo: bool):
    from transformers import EncodecConfig, T5Config

    text = T5Config(
        vocab_size=len(tokenizer),
        d_model=16,
        d_kv=8,
        d_ff=32,
        num_layers=1,
        num_heads=2,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    codec = EncodecConfig(
        sampling_rate=SAMPLE_RATE,
        target_bandwidths=[0.6],  # 600 bit/s ÷ (50 frames/s × 6 bits) = 2 codebooks
        codebook_size=CODEBOOK_SIZE,
        upsampling_ratios=[8, 8],
        hidden_size=8,
        num_filters=4,
        num_lstm_layers=1,
        audio_channels=1,
        normalize=False,
        chunk_length_s=None,
        overlap=None,
    )
    num_codebooks = codec.num_quantizers * (2 if stereo else 1)
    return text, codec, num_codebooks


def _decoder_settings(num_codebooks: int, channels: int) -> dict:
    """The tiny decoder both builders share (MusicGen and MusicGen-Melody configs take the same names)."""
    return dict(
        vocab_size=CODEBOOK_SIZE,
        max_position_embeddings=512,
        num_hidden_layers=1,
        ffn_dim=32,
        num_attention_heads=2,
        hidden_size=16,
        num_codebooks=num_codebooks,
        audio_channels=channels,
        pad_token_id=CODEBOOK_SIZE,
        bos_token_id=CODEBOOK_SIZE,
        decoder_start_token_id=CODEBOOK_SIZE,
        # at the usual 0.02 init a 16-wide decoder barely hears its text or chroma condition
        initializer_factor=1.0,
    )


def _finish(model, window_length: int = WINDOW_LENGTH) -> None:
    """Random codebook vectors (EnCodec starts them at zero, so every code would decode alike) and
    generation settings as the hub's MusicGen checkpoints have them, with a short window."""
    import torch

    with torch.no_grad():
        for name, buffer in model.audio_encoder.named_buffers():
            if name.endswith("codebook.embed"):
                buffer.copy_(torch.randn_like(buffer))
    gen = model.generation_config
    gen.decoder_start_token_id = CODEBOOK_SIZE
    gen.pad_token_id = CODEBOOK_SIZE
    gen.bos_token_id = CODEBOOK_SIZE
    gen.max_length = window_length
    gen.do_sample = True
    gen.guidance_scale = 3.0
    gen.top_k = 250


def build_tiny_musicgen(folder, *, stereo: bool = False, melody: bool = False,
                        window_length: int = WINDOW_LENGTH) -> str:
    """Save a random-weight MusicGen (or, with ``melody``, MusicGen-Melody with chroma conditioning)
    and its processor to ``folder``."""
    import torch
    import transformers as tf

    tokenizer = _t5_tokenizer()
    text, codec, num_codebooks = _configs(tokenizer, stereo=stereo)
    channels = 2 if stereo else 1
    if melody:
        decoder = tf.MusicgenMelodyDecoderConfig(**_decoder_settings(num_codebooks, channels))
        config = tf.MusicgenMelodyConfig(
            text_encoder=text, audio_encoder=codec, decoder=decoder, num_chroma=12, chroma_length=50
        )
        model_class, processor_class = tf.MusicgenMelodyForConditionalGeneration, tf.MusicgenMelodyProcessor
        extractor = tf.MusicgenMelodyFeatureExtractor(
            feature_size=12, sampling_rate=SAMPLE_RATE, hop_length=HOP * 2, n_fft=256, chunk_length=2, num_chroma=12
        )
    else:
        decoder = tf.MusicgenDecoderConfig(**_decoder_settings(num_codebooks, channels))
        config = tf.MusicgenConfig(text_encoder=text, audio_encoder=codec, decoder=decoder)
        model_class, processor_class = tf.MusicgenForConditionalGeneration, tf.MusicgenProcessor
        extractor = tf.EncodecFeatureExtractor(feature_size=channels, sampling_rate=SAMPLE_RATE, padding_value=0.0)
    config.decoder_start_token_id = CODEBOOK_SIZE
    config.pad_token_id = CODEBOOK_SIZE
    torch.manual_seed(0)
    model = model_class(config).eval()
    _finish(model, window_length)
    model.save_pretrained(folder, safe_serialization=True)
    processor_class(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(folder)
    return str(folder)
