"""The Text tab: chat with a local language model."""
