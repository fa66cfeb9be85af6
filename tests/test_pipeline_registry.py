"""Finding, loading and building pipelines by name; what a pipeline declares as settings."""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass

import pytest

from nexy_stream.pipeline import EchoPipeline, TextOutput, pipeline_name, setting
from nexy_stream.pipeline.registry import (
    NoSettings,
    PipelineFactory,
    PipelineLoadError,
    build,
    load,
)
from nexy_stream.session import CommittedRequest
from tests.custom_pipelines import Plain, Shout

pytestmark = pytest.mark.anyio


async def answer(pipeline: object) -> str:
    async with aclosing(pipeline.run(CommittedRequest("s", "d", "hello"))) as items:  # type: ignore[attr-defined]
        return "".join([item.text async for item in items if isinstance(item, TextOutput)])


async def test_the_built_in_echo_is_built_from_its_settings():
    factory = load("echo")
    pipeline = build(factory, {"echo_word_delay": 0.0})
    assert isinstance(pipeline, EchoPipeline) and pipeline_name(pipeline) == "echo"
    assert [s.flag for s in factory.setting_specs()] == ["--echo-word-delay"]


def test_the_openai_pipeline_declares_its_settings_without_importing_its_client():
    specs = {spec.flag: spec for spec in load("openai").setting_specs()}
    assert {"--llm-base-url", "--llm-model", "--tts-voice", "--no-tts"} <= set(specs)
    assert specs["--max-image-side"].kind is int and specs["--max-image-side"].default == 1280
    assert specs["--no-tts"].kind is bool
    key = specs["--llm-api-key"]
    assert key.secret and key.env == ("OPENAI_API_KEY",)


async def test_module_factory_with_settings():
    factory = load("tests.custom_pipelines:shout")
    pipeline = build(factory, {"shout_marks": 3, "shout_prefix": "> ", "shout_whisper": False})
    assert isinstance(pipeline, Shout) and pipeline_name(pipeline) == "shout"
    assert await answer(pipeline) == "> HELLO!!!"


async def test_a_class_is_its_own_factory_and_is_named_after_itself():
    factory = load("tests.custom_pipelines:Plain")
    assert factory.settings is NoSettings and factory.setting_specs() == []
    pipeline = build(factory, {})
    assert isinstance(pipeline, Plain) and pipeline_name(pipeline) == "Plain"
    assert await answer(pipeline) == "plain"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nosuch", "no pipeline named 'nosuch' (known: echo, openai"),
        (
            "no_such_module_xyz:factory",
            "cannot import no_such_module_xyz: ModuleNotFoundError: "
            "No module named 'no_such_module_xyz'",
        ),
        ("tests.custom_pipelines:missing", "module tests.custom_pipelines has no missing"),
        ("tests.custom_pipelines:NUMBER", "is a int, not a PipelineFactory"),
        (":factory", "':factory' is not package.module:factory"),
    ],
)
def test_what_cannot_be_loaded_is_said_in_one_line(name, message):
    with pytest.raises(PipelineLoadError) as caught:
        load(name)
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "values", "message"),
    [
        (
            "tests.custom_pipelines:failing",
            {},
            "pipeline tests.custom_pipelines:failing failed to start: "
            "RuntimeError: no GPU on this machine",
        ),
        (
            "tests.custom_pipelines:not_a_pipeline",
            {},
            "pipeline tests.custom_pipelines:not_a_pipeline made a int, which is not a Pipeline",
        ),
        (
            "echo",
            {"echo_word_delay": -1.0},
            "pipeline echo: --echo-word-delay must not be negative, got -1.0",
        ),
        ("openai", {"llm_model": ""}, "pipeline openai: --llm-model must name a model"),
    ],
)
def test_what_cannot_be_built_is_said_in_one_line(name, values, message):
    with pytest.raises(PipelineLoadError, match="^" + message.replace("(", r"\(")):
        build(load(name), values)


def test_settings_are_plain_values_and_switches_are_off_by_default():
    @dataclass(frozen=True)
    class Listed:
        ids: tuple[str, ...] = setting((), "not a plain value")

    @dataclass(frozen=True)
    class On:
        loud: bool = setting(True, "on unless said otherwise")

    with pytest.raises(PipelineLoadError, match="settings are str, int, float or bool"):
        PipelineFactory("listed", Listed, lambda _: Plain()).setting_specs()
    with pytest.raises(PipelineLoadError, match="a bool setting is a flag, off by default"):
        PipelineFactory("on", On, lambda _: Plain()).setting_specs()
