"""Choosing a pipeline by name, and what each pipeline declares about its settings.

A name is a built-in (``echo``, ``openai``), the name of an installed package's entry point
in the ``nexy_stream.pipelines`` group, or ``package.module:attribute``. The attribute is a
:class:`PipelineFactory` (a pipeline with settings), or anything that builds a pipeline
when called with no arguments (a class, a function), or a pipeline itself.

Loading a factory imports only the module that declares it: heavy dependencies (an HTTP
client, an image library) are imported when the factory builds its pipeline, so listing the
settings (``serve --help``) stays fast. Every failure is a :class:`PipelineLoadError` whose
message is one line that names what went wrong.
"""

from __future__ import annotations

import dataclasses
import importlib
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from nexy_stream.pipeline.base import Pipeline

ENTRY_POINT_GROUP = "nexy_stream.pipelines"
BUILT_IN = {
    "echo": "nexy_stream.pipeline.echo:factory",
    "openai": "nexy_stream.pipeline.openai_compat:factory",
}
SettingKind = type[str] | type[int] | type[float] | type[bool]
S = TypeVar("S")
T = TypeVar("T")


class PipelineLoadError(Exception):
    """A pipeline could not be found, loaded or built; the message is one line."""


def setting(default: T, help: str, *, secret: bool = False, env: tuple[str, ...] = ()) -> T:
    """Declares one field of a pipeline's settings dataclass.

    The field ``llm_model`` is the flag ``--llm-model`` and the environment variable
    ``NEXY_STREAM_LLM_MODEL`` (a flag wins). A ``secret`` (an API key) has no flag, so it
    never shows in a process list: it comes from the environment only, from
    ``NEXY_STREAM_<FIELD>`` and then from each of ``env`` in turn. A ``bool`` setting is a
    flag that is off unless given.
    """
    metadata = {"help": help, "secret": secret, "env": env}
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """One setting as the command line shows it."""

    field: str
    kind: SettingKind
    default: object
    help: str
    secret: bool
    env: tuple[str, ...]

    @property
    def flag(self) -> str:
        return "--" + self.field.replace("_", "-")


@dataclass(frozen=True, slots=True)
class NoSettings:
    """The settings of a pipeline that has none."""


@dataclass(frozen=True, slots=True)
class PipelineFactory(Generic[S]):
    """How to build one kind of pipeline.

    ``settings`` is a frozen dataclass whose fields are declared with :func:`setting`;
    ``build`` gets an instance of it and returns the pipeline, raising ``ValueError`` for
    settings that make no sense (its message is shown to the operator as is).
    """

    name: str
    settings: type[S]
    build: Callable[[S], Pipeline]
    summary: str = ""

    def setting_specs(self) -> list[SettingSpec]:
        kinds = typing.get_type_hints(self.settings)
        specs = []
        for field in dataclasses.fields(self.settings):  # type: ignore[arg-type]
            kind = kinds[field.name]
            if kind not in (str, int, float, bool):
                raise PipelineLoadError(
                    f"setting {field.name} of pipeline {self.name} is a {kind}; "
                    "settings are str, int, float or bool"
                )
            if kind is bool and field.default is not False:
                raise PipelineLoadError(
                    f"setting {field.name} of pipeline {self.name}: a bool setting is a flag, "
                    "off by default"
                )
            specs.append(
                SettingSpec(
                    field.name,
                    kind,
                    field.default,
                    field.metadata.get("help", ""),
                    field.metadata.get("secret", False),
                    field.metadata.get("env", ()),
                )
            )
        return specs


def installed() -> dict[str, str]:
    """Installed packages' pipelines: entry-point name -> ``module:attribute``."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load(name: str) -> PipelineFactory[Any]:
    """The factory a name refers to (see the module's docstring)."""
    if name in BUILT_IN:
        return _factory(name, _import(BUILT_IN[name]))
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if found:
        try:
            target = found[0].load()
        except Exception as exc:
            raise PipelineLoadError(
                f"pipeline {name} ({found[0].value}, an installed entry point) does not load: "
                f"{_one_line(exc)}"
            ) from exc
        return _factory(name, target)
    if ":" not in name:
        known = ", ".join([*BUILT_IN, *installed()])
        raise PipelineLoadError(
            f"no pipeline named {name!r} (known: {known}); or give package.module:factory"
        )
    return _factory(name, _import(name))


def build(factory: PipelineFactory[Any], values: Mapping[str, object]) -> Pipeline:
    """The pipeline ``factory`` builds from these settings, checked to be a Pipeline."""
    try:
        pipeline = factory.build(factory.settings(**values))
    except ValueError as exc:
        raise PipelineLoadError(f"pipeline {factory.name}: {exc}") from exc
    except Exception as exc:
        raise PipelineLoadError(
            f"pipeline {factory.name} failed to start: {_one_line(exc)}"
        ) from exc
    if not isinstance(pipeline, Pipeline):
        raise PipelineLoadError(
            f"pipeline {factory.name} made a {type(pipeline).__name__}, which is not a "
            "Pipeline (it needs a method run(request) that is an async generator)"
        )
    return pipeline


@dataclass(frozen=True, slots=True)
class PipelineRecipe:
    """A pipeline chosen and configured but not built: a name :func:`load` knows and the
    values of its settings. It crosses a process boundary (pickled), so each worker of
    ``serve --workers N`` builds a pipeline of its own, on its own event loop."""

    name: str
    values: Mapping[str, object]

    def build(self) -> Pipeline:
        return build(load(self.name), self.values)


def _import(reference: str) -> object:
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise PipelineLoadError(f"{reference!r} is not package.module:factory")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise PipelineLoadError(f"cannot import {module_name}: {_one_line(exc)}") from exc
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise PipelineLoadError(f"module {module_name} has no {attribute}") from None


def _factory(name: str, target: object) -> PipelineFactory[Any]:
    if isinstance(target, PipelineFactory):
        return target
    if callable(target):
        return PipelineFactory(name, NoSettings, lambda _: target())
    if isinstance(target, Pipeline):
        return PipelineFactory(name, NoSettings, lambda _: target)
    raise PipelineLoadError(
        f"{name} is a {type(target).__name__}, not a PipelineFactory, a callable that "
        "returns a Pipeline, or a Pipeline"
    )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
