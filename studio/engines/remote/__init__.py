"""Remote engines (no Qt): models that run on servers Studio drives, behind the same engine contract as
the local ones. ``openai_text``: any OpenAI-compatible ``/v1`` text server; ``comfyui``: a ComfyUI
server for images; ``keys``: API keys in the OS keyring; ``server_errors``: one wording for failures."""
