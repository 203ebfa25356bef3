"""``studio story render``: a story file made into a film, headless.

Stable flags::

    studio story render STORY.json --out FILM.mp4 [--device D] [--dtype T] [--no-library] [-q] [--json]

Writes FILM.mp4 (H.264 + AAC) and FILM.srt beside it; every picture, narration clip and music bed
it makes is saved in the library with its parameters, and kept under a hash of its request
(``story-assets.json`` in the library folder), so a second render makes only what changed; a Story tab
document's own assets are used as they are. The story
file, its pictures and ``--out`` are all checked before any model loads. The written paths go to
stdout, progress to stderr; Ctrl+C stops cleanly and leaves no partial film (exit 130).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import tempfile

from ..engines import engine_for
from ..engines.base import CancelToken, drive
from ..engines.preflight import preflight as preflight_request
from ..errors import Cancelled
from ..events import Notice, Output, Progress, Status
from ..story import document
from ..story.assets import AssetIndex, library_index_path
from ..story.render import export, preflight
from ..story import assets as story_assets
from .common import InterruptHandler, ProgressLine, add_runtime_flags, make_runtime, open_library, path_arg, quiet_libraries


def add_parser(sub) -> None:
    p = sub.add_parser("story", help="make a film from a story: pictures, narration and music")
    story_sub = p.add_subparsers(dest="story_command", required=True, parser_class=type(p))
    r = story_sub.add_parser("render", help="render a story file to FILM.mp4 and FILM.srt")
    r.add_argument("story", metavar="STORY.json", type=path_arg, help="the story file (JSON, or a .studio-story document)")
    r.add_argument("--out", metavar="FILM.mp4", type=path_arg, required=True,
                   help="the film to write (.mp4); its subtitles go to FILM.srt beside it")
    add_runtime_flags(r)
    r.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    story = document.load(args.story)
    targets = preflight(story, args.out, check=preflight_request)  # before any library, runtime or model
    if args.quiet:
        quiet_libraries()
    library = open_library(args)
    scratch = None
    if library is None:  # --no-library: the assets live only as long as this render
        from ..library.store import Library

        scratch = tempfile.TemporaryDirectory(prefix="studio-story-")
        library = Library(scratch.name)
        index = AssetIndex()
    else:
        index = AssetIndex.open(library_index_path(library.root))
    for key, entry in story.assets.items():  # a .studio-story document names the assets it was cut from
        if isinstance(entry, dict) and index.get(key) is None:
            index.entries[key] = entry
    runtime = make_runtime(args)
    cancel = CancelToken()
    line = ProgressLine("frame", quiet=args.quiet)
    steps = ProgressLine("step", quiet=args.quiet)

    def say(ev) -> None:
        if args.quiet:
            return
        if isinstance(ev, Progress):
            (line if ev.stage == "export" else steps).show(ev)
        elif isinstance(ev, (Status, Notice)):
            steps.close()
            line.close()
            print(ev.message, file=sys.stderr)

    def run_request(request) -> list:
        preflight_request(request)
        saved = []

        def handle(ev) -> None:
            if isinstance(ev, Output):
                saved.append(library.save(ev))
            elif isinstance(ev, Progress):
                say(ev)

        drive(engine_for(request.kind).run(request, runtime, cancel), handle)
        steps.close()
        return saved

    previous = signal.signal(signal.SIGINT, InterruptHandler(cancel))
    # --json: stdout carries the JSON object only; whatever a library prints goes to stderr
    redirect = contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext()
    try:
        with redirect:
            made = story_assets.ensure(story, index, run_request, cancel=cancel, on_event=say)
            stats, timeline = export(story, made, targets, index=index, cancel=cancel, on_event=say)
    except Cancelled:
        raise KeyboardInterrupt from None
    finally:
        signal.signal(signal.SIGINT, previous)
        line.close()
        steps.close()
        if scratch is not None:
            scratch.cleanup()
    if args.json:
        print(json.dumps({"kind": "story", "outputs": [str(targets.film), str(targets.subtitles)],
                          "scenes": len(story.scenes), "film_seconds": round(timeline.length, 3),
                          "frames": stats.frames, "seconds": round(stats.wall_seconds, 3),
                          "assets_made": made.made, "encoder": stats.encoder}))
        return 0
    print(targets.film)
    print(targets.subtitles)
    if not args.quiet:
        print(f"{len(story.scenes)} scene(s), {timeline.length:.1f} s of film, {made.made} asset(s) made, "
              f"written at {stats.speed:.1f}× real time ({stats.encoder})", file=sys.stderr)
    return 0
