"""The ``openai`` pipeline: the LLM's answer streamed as text, spoken sentence by sentence.

Two workers run at once behind the pulled generator (:func:`nexy_stream.pipeline.merged`):
the writer streams the LLM's text to the client and cuts it into sentences; the speaker
turns each sentence into speech, one request at a time, while the writer goes on. So the
first sentence is heard while the LLM still writes, each sentence's audio follows its text,
and a client that reads slowly holds both workers back (bounded buffers, nothing piles up).

Prepared before the commit (``serve --speculate``), the run is the same but for speech: the
LLM request starts at once (its text is held by the server, and thrown away with the run if
the commit differs), while the speaker waits for the commit before its first request, as
nothing heard may come from a request the user did not make; with ``--speculate-tts`` it
speaks the first sentence at once too, and waits before the second.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from functools import partial
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from nexy_stream.pipeline.audio import PcmConverter
from nexy_stream.pipeline.base import AudioOutput, CommitSignal, Item, StageTiming, TextOutput
from nexy_stream.pipeline.openai_compat import OpenAISettings
from nexy_stream.pipeline.openai_compat.image import data_url
from nexy_stream.pipeline.openai_compat.sentences import SentenceSplitter
from nexy_stream.pipeline.openai_compat.upstream import (
    TTS_RATE_HZ,
    Upstream,
    stream_answer,
    stream_speech,
)
from nexy_stream.pipeline.workers import Emit, merged
from nexy_stream.session.values import CommittedRequest, Stage

OUTPUT_RATE_HZ = 48_000
"""What clients play: 48 kHz mono."""

SENTENCES_AHEAD = 16
"""Sentences written but not yet spoken before the writer waits for the speaker."""


class OpenAIPipeline:
    """Answers with an OpenAI-compatible LLM and speech service (see the module's doc)."""

    name = "openai"

    def __init__(self, settings: OpenAISettings) -> None:
        self.settings = settings
        s = settings
        limits = (s.upstream_timeout, s.upstream_retries)
        self._llm = Upstream.connect("LLM", s.llm_base_url, s.llm_api_key, *limits)
        self._tts: Upstream | None = None
        if not s.no_tts:
            tts_place = (s.tts_base_url or s.llm_base_url, s.tts_api_key or s.llm_api_key)
            self._tts = Upstream.connect("speech service", *tts_place, *limits)

    async def aclose(self) -> None:
        """Closes the connection pools (``serve`` calls it after the server has stopped)."""
        await self._llm.aclose()
        if self._tts is not None:
            await self._tts.aclose()

    async def run(self, request: CommittedRequest) -> AsyncGenerator[Item, None]:
        async with aclosing(self._answer(request, None)) as items:
            async for item in items:
                yield item

    async def prepare(
        self, request: CommittedRequest, committed: CommitSignal
    ) -> AsyncGenerator[Item, None]:
        """The run, begun before the commit: speech waits for ``committed`` (see above)."""
        async with aclosing(self._answer(request, committed)) as items:
            async for item in items:
                yield item

    async def _answer(
        self, request: CommittedRequest, committed: CommitSignal | None
    ) -> AsyncGenerator[Item, None]:
        if self._tts is None:
            workers = [partial(self._write, request, None)]
        else:
            to_speak, spoken = anyio.create_memory_object_stream[str](SENTENCES_AHEAD)
            workers = [
                partial(self._write, request, to_speak),
                partial(self._speak, spoken, committed),
            ]
        async with aclosing(merged(*workers)) as items:
            async for item in items:
                yield item

    async def _write(
        self,
        request: CommittedRequest,
        sentences: MemoryObjectSendStream[str] | None,
        emit: Emit,
    ) -> None:
        """Streams the LLM's answer to the client; hands each finished sentence on."""
        splitter = SentenceSplitter()
        messages = await self._messages(request)
        started: float | None = time.perf_counter()

        async def on_text(text: str) -> None:
            nonlocal started
            if started is not None:
                await emit(StageTiming(Stage.LLM_FIRST_TOKEN, time.perf_counter() - started))
                started = None
            await emit(TextOutput(text))
            if sentences is not None:
                for sentence in splitter.feed(text):
                    await sentences.send(sentence)

        if sentences is None:
            await stream_answer(self._llm, self.settings.llm_model, messages, on_text)
            return
        with sentences:
            await stream_answer(self._llm, self.settings.llm_model, messages, on_text)
            if rest := splitter.flush():
                await sentences.send(rest)

    async def _speak(
        self,
        sentences: MemoryObjectReceiveStream[str],
        committed: CommitSignal | None,
        emit: Emit,
    ) -> None:
        """Speaks each sentence in turn, resampled to the client's rate; a preparation's
        only once committed (its first sentence before, with ``speculate_tts``)."""
        assert self._tts is not None
        converter = PcmConverter(OUTPUT_RATE_HZ)
        first_sentence = True
        with sentences:
            async for sentence in sentences:
                early = first_sentence and self.settings.speculate_tts
                if committed is not None and not early:
                    await committed.wait()
                started: float | None = time.perf_counter() if first_sentence else None
                first_sentence = False

                async def on_audio(data: bytes) -> None:
                    nonlocal started
                    if started is not None:
                        seconds = time.perf_counter() - started
                        await emit(StageTiming(Stage.TTS_FIRST_BYTE, seconds))
                        started = None
                    if converted := await converter.convert(data, TTS_RATE_HZ, 1):
                        await emit(AudioOutput(converted, OUTPUT_RATE_HZ, 1))

                s = self.settings
                await stream_speech(self._tts, s.tts_model, s.tts_voice, sentence, on_audio)
                if tail := await converter.finish():
                    await emit(AudioOutput(tail, OUTPUT_RATE_HZ, 1))

    async def _messages(self, request: CommittedRequest) -> list[dict[str, Any]]:
        user: str | list[dict[str, Any]] = request.text
        if request.screenshot is not None and self.settings.max_image_side > 0:
            url = await data_url(request.screenshot, self.settings.max_image_side)
            user = [
                {"type": "text", "text": request.text},
                {"type": "image_url", "image_url": {"url": url}},
            ]
        return [
            {"role": "system", "content": self.settings.system_prompt},
            {"role": "user", "content": user},
        ]
