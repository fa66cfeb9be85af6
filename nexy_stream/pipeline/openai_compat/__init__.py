"""The ``openai`` pipeline: any OpenAI-compatible LLM (Chat Completions, streamed) and
speech service (``/audio/speech``, raw PCM), so hosted APIs and local servers (Ollama, vLLM,
llama.cpp's server) answer the user alike.

This module only declares the settings: the HTTP client and the image library are imported
when the pipeline is built, so ``serve --help`` and the client tools stay fast.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nexy_stream.pipeline.registry import PipelineFactory, setting

if TYPE_CHECKING:
    from nexy_stream.pipeline.openai_compat.pipeline import OpenAIPipeline

logger = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You are a voice assistant. Your answer is read aloud: answer in a few short, plain "
    "sentences, without markdown or lists. A screenshot of the user's screen may come with "
    "the question."
)


@dataclass(frozen=True, slots=True)
class OpenAISettings:
    llm_base_url: str = setting(
        "https://api.openai.com/v1", "OpenAI-compatible API of the LLM (Chat Completions)"
    )
    llm_model: str = setting("gpt-4o-mini", "the LLM's model")
    llm_api_key: str = setting(
        "", "the LLM's API key (none for a local server)", secret=True, env=("OPENAI_API_KEY",)
    )
    system_prompt: str = setting(SYSTEM_PROMPT, "the system message of every request")
    max_image_side: int = setting(
        1280,
        "the screenshot is scaled down to at most this many pixels on its longer side "
        "(0: never send it, for a model that cannot see)",
    )
    tts_base_url: str = setting(
        "", "OpenAI-compatible API of the speech service (/audio/speech); unset: the LLM's"
    )
    tts_model: str = setting("gpt-4o-mini-tts", "the speech model")
    tts_voice: str = setting("alloy", "the voice")
    tts_api_key: str = setting("", "the speech service's API key (unset: the LLM's)", secret=True)
    no_tts: bool = setting(False, "answer with text only (no speech requests)")
    speculate_tts: bool = setting(
        False,
        "with serve --speculate, also speak the first sentence of a prepared answer before "
        "the commit (a speech request thrown away when the commit differs); otherwise speech "
        "waits for the commit",
    )
    upstream_timeout: float = setting(
        30.0, "seconds to connect to, and then between bytes from, the LLM or speech service"
    )
    upstream_retries: int = setting(
        2,
        "retries of a request that failed before its answer began (connection error, "
        "408, 409, 429, 5xx); never once text has come",
    )


def _build(settings: OpenAISettings) -> OpenAIPipeline:
    if not settings.llm_model:
        raise ValueError("--llm-model must name a model")
    if not settings.no_tts and not (settings.tts_model and settings.tts_voice):
        raise ValueError("--tts-model and --tts-voice must be set (or --no-tts)")
    if settings.max_image_side < 0:
        raise ValueError(f"--max-image-side must not be negative, got {settings.max_image_side}")
    if settings.upstream_timeout <= 0:
        raise ValueError(f"--upstream-timeout must be positive, got {settings.upstream_timeout}")
    if settings.upstream_retries < 0:
        raise ValueError(
            f"--upstream-retries must not be negative, got {settings.upstream_retries}"
        )
    from nexy_stream.pipeline.openai_compat.pipeline import OpenAIPipeline

    s = settings
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        # The HTTP client logs every request at INFO: a line per sentence drowns the server's.
        for client_logger in ("httpx", "httpx2"):
            logging.getLogger(client_logger).setLevel(logging.WARNING)
    keyed = {True: "with a key", False: "without a key"}
    logger.info("LLM %s at %s, %s", s.llm_model, s.llm_base_url, keyed[bool(s.llm_api_key)])
    if not s.no_tts:
        logger.info(
            "speech %s (%s) at %s, %s",
            s.tts_model,
            s.tts_voice,
            s.tts_base_url or s.llm_base_url,
            keyed[bool(s.tts_api_key or s.llm_api_key)],
        )
    return OpenAIPipeline(settings)


factory = PipelineFactory(
    "openai",
    OpenAISettings,
    _build,
    "an OpenAI-compatible LLM, streamed, spoken sentence by sentence by an OpenAI-compatible "
    "speech service",
)
