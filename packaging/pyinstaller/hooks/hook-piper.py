# piper phonemizes through espeakbridge.so with the espeak-ng-data folder next to the package.
from PyInstaller.utils.hooks import collect_data_files, collect_dynamic_libs

binaries = collect_dynamic_libs("piper")
datas = collect_data_files("piper", includes=["espeak-ng-data/**/*", "*.so"])
