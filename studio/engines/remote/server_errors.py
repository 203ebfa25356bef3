"""What a failed call to a server becomes: one :class:`~studio.errors.ServerError` that says what
happened and what to do next (the same wording for the OpenAI-compatible and the ComfyUI engines)."""

from __future__ import annotations

from ...errors import ServerError


def unreachable(url: str, detail: str = "") -> ServerError:
    why = f" ({detail})" if detail else ""
    return ServerError(
        f"Could not connect to the server at {url}{why}. Check that it is running and that the address and port "
        "are right (a server on another machine must listen on its network address, not only 127.0.0.1).",
        status=0,
    )


def timed_out(url: str, seconds: float) -> ServerError:
    return ServerError(
        f"The server at {url} did not answer within {seconds:.0f} s. It may still be loading the model or be busy "
        "with other requests: try again in a moment, or check its log.",
        status=0,
    )


def refused_key(url: str, status: int, has_key: bool) -> ServerError:
    if has_key:
        step = "Check the API key (Models → Servers → Edit…, or the variable --api-key-env names)."
    else:
        step = "This server needs an API key: add it in Models → Servers → Edit…, or set $STUDIO_API_KEY for the CLI."
    what = "refused the API key" if status == 401 else "does not allow this key to use it"
    return ServerError(f"The server at {url} {what} ({status}). {step}", status=status)


def unknown_model(url: str, model: str, known: list[str]) -> ServerError:
    if known:
        shown = ", ".join(known[:8]) + (f" and {len(known) - 8} more" if len(known) > 8 else "")
        step = f"It has: {shown}."
    else:
        step = "Check the model name (GET /v1/models lists them) and that the URL ends in /v1."
    return ServerError(f"The server at {url} has no model '{model}' (404). {step}", status=404)


def rate_limited(url: str, retry_after: str | None) -> ServerError:
    wait = f"wait {retry_after} s" if retry_after and retry_after.isdigit() else "wait a little"
    return ServerError(
        f"The server at {url} is limiting requests (429: too many requests or the quota is used up). "
        f"{wait.capitalize()} and try again.",
        status=429,
    )


def server_failed(url: str, status: int, detail: str) -> ServerError:
    why = f": {detail}" if detail else ""
    return ServerError(
        f"The server at {url} failed ({status}{why}). Try again; if it keeps failing, check the server's log.",
        status=status,
    )


def rejected(url: str, status: int, detail: str) -> ServerError:
    why = f": {detail}" if detail else ""
    return ServerError(f"The server at {url} rejected the request ({status}{why}).", status=status)


def died_mid_reply(url: str, kept: bool) -> ServerError:
    part = "The partial reply was kept. " if kept else ""
    return ServerError(
        f"The server at {url} closed the connection in the middle of the reply. {part}"
        "Check that the server is still running, then try again.",
        status=0,
    )


def short(text: object, limit: int = 200) -> str:
    """A server's message as one short line (servers echo whole pages)."""
    line = " ".join(str(text or "").split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
