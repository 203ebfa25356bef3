"""Story: scenes, pictures, narration and a music bed joined into one film (no Qt).

* :mod:`.document` — the story file (``studio story render`` JSON and the GUI's ``.studio-story``),
  read strictly: unknown keys refused by name, every limit checked before anything runs.
* :mod:`.assets`   — the requests a story needs (one picture and one narration per scene, one music
  bed), keyed by a hash of the request, run through an injected ``run(request) -> paths`` callable
  (the CLI drives the engines, the GUI the job queue); the Story code never imports an engine.
* :mod:`.timing`   — when each scene starts and ends, the cross-fades, the subtitle cues.
* :mod:`.mix`      — narration clips and the music bed, ducked under the voice, faded out at the end,
  made a piece at a time as the film is written.
* :mod:`.film`     — frames streamed to H.264 + AAC in an MP4 (PyAV), written atomically, cancellable.
* :mod:`.render`   — all of it in order, for the CLI, the GUI and the benchmark.
* :mod:`.writing`  — what the Story tab asks the text model, and how its replies become scenes and prompts.
"""
