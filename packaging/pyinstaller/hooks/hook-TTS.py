# coqui-tts reads its model list (.models.json), VERSION and configs as files, and imports model classes by name.
from PyInstaller.utils.hooks import collect_data_files, collect_submodules, copy_metadata

datas = collect_data_files("TTS") + copy_metadata("coqui-tts")
hiddenimports = collect_submodules("TTS.tts.models") + collect_submodules("TTS.vocoder.models")
