"""Audio tabs and the widgets they share: waveform, player (QtMultimedia), the audio panel with export."""
