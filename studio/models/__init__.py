"""Models layer (no Qt): catalog, resolution, downloads, the loaded-model cache, device/dtype."""
