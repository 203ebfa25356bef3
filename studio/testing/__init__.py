"""Tiny models built offline from configs (random weights) and small helpers, shared by the tests
and the benchmarks. No Qt; torch, transformers and diffusers are imported when a builder runs."""
