"""Pipelines as a user writes them, for the registry and `serve --pipeline module:factory`."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

from nexy_stream.pipeline import Output, PipelineFactory, TextOutput, setting
from nexy_stream.session import CommittedRequest


@dataclass(frozen=True, slots=True)
class ShoutSettings:
    shout_marks: int = setting(1, "exclamation marks after the answer")
    shout_prefix: str = setting("", "said before the answer")
    shout_whisper: bool = setting(False, "lower case instead")
    shout_token: str = setting("", "a secret token", secret=True, env=("SHOUT_TOKEN",))


class Shout:
    name = "shout"

    def __init__(self, settings: ShoutSettings) -> None:
        self.settings = settings

    async def run(self, request: CommittedRequest) -> AsyncGenerator[Output, None]:
        s = self.settings
        text = request.text.lower() if s.shout_whisper else request.text.upper()
        token = f" [{s.shout_token}]" if s.shout_token else ""
        yield TextOutput(f"{s.shout_prefix}{text}{'!' * s.shout_marks}{token}")


def _shout(settings: ShoutSettings) -> Shout:
    if settings.shout_marks < 0:
        raise ValueError(f"--shout-marks must not be negative, got {settings.shout_marks}")
    return Shout(settings)


shout = PipelineFactory("shout", ShoutSettings, _shout, "the question, shouted back")


@dataclass(frozen=True, slots=True)
class PortSettings:
    port: int = setting(80, "a setting named like a flag of serve")


clashing = PipelineFactory("clashing", PortSettings, lambda _: Plain())


class Plain:
    """A pipeline class without settings: its own factory."""

    async def run(self, request: CommittedRequest) -> AsyncGenerator[Output, None]:
        yield TextOutput("plain")


def failing() -> Plain:
    raise RuntimeError("no GPU on this machine")


def not_a_pipeline() -> object:
    return 42


NUMBER = 42
