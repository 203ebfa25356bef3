"""``studio serve``: an OpenAI-compatible HTTP API (FastAPI + uvicorn) over Studio's own engines, a front
door beside the GUI and the CLI, through the same job queue (:mod:`studio.jobs`). ``schemas``: the request
bodies; ``app``: the routes; ``bridge``: event loop ↔ job queue; ``server``: uvicorn on a thread."""
