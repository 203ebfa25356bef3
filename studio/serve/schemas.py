"""The request bodies ``studio serve`` accepts (OpenAI's shapes, checked by pydantic) and the Studio
requests they become.

pydantic checks the types strictly (a string where a number belongs is a 400, not a guess); the ranges
are the Studio request's own (``validate()``, the same rules as the GUI and the CLI). Fields OpenAI
clients send that Studio has no use for (``user``, ``logprobs`` …) are accepted and ignored.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from ..errors import InvalidRequest
from ..requests import ChatMessage, ImageRequest, SpeechRequest, TextRequest

Number = StrictFloat | StrictInt
MAX_IMAGES = 10  # n, as OpenAI's own limit
MAX_MESSAGES = 1000
MAX_STOPS = 4
_SIZE = re.compile(r"^\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*$")


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextPart(_Body):
    type: StrictStr
    text: StrictStr = ""


class MessageIn(_Body):
    role: Literal["system", "developer", "user", "assistant"]
    content: StrictStr | Annotated[list[TextPart], Field(max_length=100)] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        for part in self.content:
            if part.type != "text":
                raise InvalidRequest(f"messages: content parts of type '{part.type}' are not supported, only text.")
        return "".join(part.text for part in self.content)


class _Sampling(_Body):
    model: StrictStr = ""
    temperature: Number | None = None
    top_p: Number | None = None
    max_tokens: StrictInt | None = None
    seed: StrictInt | None = None
    stop: StrictStr | Annotated[list[StrictStr], Field(max_length=MAX_STOPS)] | None = None
    n: StrictInt = 1
    stream: StrictBool = False
    stream_options: dict | None = None

    def stops(self) -> list[str]:
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return [s for s in stops if s]

    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.get("include_usage") is True)

    def check_n(self) -> None:
        if self.n != 1:
            raise InvalidRequest("n must be 1: Studio writes one reply per request (send several requests).")

    def sampling(self) -> dict:
        out: dict = {}
        if self.temperature is not None:
            out["temperature"] = float(self.temperature)
        if self.top_p is not None:
            out["top_p"] = float(self.top_p)
        if self.max_tokens is not None:
            out["max_new_tokens"] = self.max_tokens
        if self.seed is not None:
            out["seed"] = self.seed
        return out


class ChatBody(_Sampling):
    messages: Annotated[list[MessageIn], Field(min_length=1, max_length=MAX_MESSAGES)]
    max_completion_tokens: StrictInt | None = None

    def to_request(self) -> TextRequest:
        self.check_n()
        system = "\n\n".join(m.text() for m in self.messages if m.role in ("system", "developer") and m.text())
        chat = tuple(ChatMessage(m.role, m.text()) for m in self.messages if m.role in ("user", "assistant"))
        if not chat:
            raise InvalidRequest("messages: there is no user message.")
        sampling = self.sampling()
        if self.max_completion_tokens is not None:
            sampling["max_new_tokens"] = self.max_completion_tokens
        request = TextRequest(messages=chat, system_prompt=system, model=self.model.strip(), stop=tuple(self.stops()),
                              **sampling)
        request.validate()
        return request


class CompletionBody(_Sampling):
    prompt: StrictStr | Annotated[list[StrictStr], Field(min_length=1, max_length=1)]

    def to_request(self) -> TextRequest:
        """The prompt continued as written (``raw``: no chat template), as OpenAI's completions mean."""
        self.check_n()
        prompt = self.prompt if isinstance(self.prompt, str) else self.prompt[0]
        request = TextRequest(messages=(ChatMessage("user", prompt),), model=self.model.strip(), raw=True,
                              stop=tuple(self.stops()), **self.sampling())
        request.validate()
        return request


def parse_size(size: str) -> tuple[int, int]:
    match = _SIZE.match(size)
    if not match:
        raise InvalidRequest(f"size must be WIDTHxHEIGHT in pixels, such as 512x512 (got {size[:40]!r}).")
    return int(match.group(1)), int(match.group(2))


class ImageBody(_Body):
    prompt: StrictStr
    model: StrictStr = ""
    n: StrictInt = 1
    size: StrictStr | None = None
    response_format: StrictStr = "b64_json"
    seed: StrictInt | None = None
    steps: StrictInt | None = None
    guidance: Number | None = None
    negative_prompt: StrictStr = ""

    def to_request(self) -> ImageRequest:
        if self.response_format != "b64_json":
            raise InvalidRequest("response_format must be b64_json: Studio returns the PNG in the response.")
        if not 1 <= self.n <= MAX_IMAGES:
            raise InvalidRequest(f"n must be between 1 and {MAX_IMAGES} (got {self.n}).")
        kwargs: dict = {}
        if self.size is not None:
            kwargs["width"], kwargs["height"] = parse_size(self.size)
        if self.seed is not None:
            kwargs["seed"] = self.seed
        if self.steps is not None:
            kwargs["num_inference_steps"] = self.steps
        if self.guidance is not None:
            kwargs["guidance_scale"] = float(self.guidance)
        request = ImageRequest(
            prompt=self.prompt, negative_prompt=self.negative_prompt, model=self.model.strip(), batch_count=self.n,
            **kwargs,
        )
        request.validate()
        return request


class SpeechBody(_Body):
    input: StrictStr
    model: StrictStr = ""
    voice: StrictStr = ""
    response_format: StrictStr = "wav"
    speed: Number | None = None

    def to_request(self) -> SpeechRequest:
        if self.response_format not in ("wav", "flac"):
            raise InvalidRequest(f"response_format must be wav or flac (got {self.response_format[:20]!r}).")
        # a voice is a speech model (empty: the bundled one); with a model named too, it is that model's speaker
        model, speaker = self.model.strip(), self.voice.strip()
        if not model:
            model, speaker = speaker, ""
        kwargs: dict = {}
        if self.speed is not None:
            kwargs["speed"] = float(self.speed)
        request = SpeechRequest(text=self.input, model=model, speaker=speaker, **kwargs)
        request.validate()
        return request
