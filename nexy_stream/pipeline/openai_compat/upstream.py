"""The two upstream calls, each streamed through the official ``openai`` client: the LLM's
answer as text deltas, a sentence's speech as raw PCM. Each hands what arrives to a
callback and returns when its response is complete; cancelling it closes its HTTP request
at once (the client closes the connection of an unfinished response, shielded from the
cancellation), so no request outlives its session."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, cast

import openai
from openai.types.chat import ChatCompletionMessageParam

from nexy_stream.pipeline.openai_compat.errors import upstream_error

TTS_RATE_HZ = 24_000
"""OpenAI-compatible speech in ``pcm`` format: 24 kHz, mono, signed 16-bit little-endian."""


@dataclass(frozen=True, slots=True)
class Upstream:
    """One OpenAI-compatible service: its connection pool and what each request carries."""

    service: str  # how error messages name it
    client: openai.AsyncOpenAI
    timeout_s: float
    headers: dict[str, str | openai.Omit]

    @classmethod
    def connect(
        cls, service: str, base_url: str, api_key: str, timeout_s: float, retries: int
    ) -> Upstream:
        """Retries happen before the response begins (the client retries failed
        connections and 408, 409, 429 and 5xx answers, never a stream that has started),
        so a retry never repeats text the user has seen. Without a key (a local server)
        requests carry no Authorization header."""
        client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or _no_key,
            timeout=openai.Timeout(timeout_s),
            max_retries=retries,
        )
        headers: dict[str, str | openai.Omit] = {} if api_key else {"Authorization": openai.Omit()}
        _ = client.chat.completions, client.audio.speech  # imported now, not in the first session
        return cls(service, client, timeout_s, headers)

    async def aclose(self) -> None:
        await self.client.close()


async def _no_key() -> str:
    return ""


async def stream_answer(
    llm: Upstream,
    model: str,
    messages: list[dict[str, Any]],
    on_text: Callable[[str], Awaitable[None]],
) -> None:
    """Streams one Chat Completions answer, calling ``on_text`` with each piece of text."""
    try:
        stream = await llm.client.chat.completions.create(
            model=model,
            messages=cast(list[ChatCompletionMessageParam], messages),  # the wire format
            stream=True,
            extra_headers=llm.headers,
        )
        async with stream:
            async for chunk in stream:
                text = chunk.choices[0].delta.content if chunk.choices else None
                if text:
                    await on_text(text)
    except openai.APIError as exc:
        raise upstream_error(llm.service, exc, llm.timeout_s) from exc


async def stream_speech(
    tts: Upstream,
    model: str,
    voice: str,
    text: str,
    on_audio: Callable[[bytes], Awaitable[None]],
) -> None:
    """Streams the speech of ``text`` as 24 kHz PCM, calling ``on_audio`` with each piece."""
    try:
        async with tts.client.audio.speech.with_streaming_response.create(
            model=model,
            voice=voice,
            input=text,
            response_format="pcm",
            extra_headers=tts.headers,
        ) as response:
            # An async generator at run time: closed here, not later by the garbage collector.
            pieces = cast(AsyncGenerator[bytes, None], response.iter_bytes())
            async with aclosing(pieces):
                async for piece in pieces:
                    if piece:
                        await on_audio(piece)
    except openai.APIError as exc:
        raise upstream_error(tts.service, exc, tts.timeout_s) from exc
