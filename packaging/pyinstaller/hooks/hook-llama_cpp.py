# llama-cpp-python loads libllama/libggml with ctypes from llama_cpp/lib: PyInstaller's import scan cannot see them.
from PyInstaller.utils.hooks import collect_data_files, collect_dynamic_libs

binaries = collect_dynamic_libs("llama_cpp")
datas = collect_data_files("llama_cpp")
