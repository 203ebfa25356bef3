"""Studio: an offline desktop creative studio (text, images, speech, music) on local models."""

__version__ = "0.1.0"
