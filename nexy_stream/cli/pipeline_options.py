"""The pipeline flags of ``nexy-stream serve``: which pipeline answers, and its settings.

Added by :func:`prepare` when ``serve`` parses its arguments, never before: only ``serve``
loads a pipeline's module. ``serve --help`` lists every built-in pipeline's settings, and
those of the one ``--pipeline`` names; a setting of a pipeline that does not run is refused
rather than silently ignored.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from nexy_stream.cli.options import env_name, env_option, env_switch, env_value

if TYPE_CHECKING:
    from nexy_stream.pipeline.registry import PipelineFactory, PipelineRecipe, SettingSpec

DEFAULT = "echo"


def prepare(serve: argparse.ArgumentParser, args: list[str]) -> None:
    """Adds ``--pipeline`` and the settings of the pipelines ``serve --help`` shows."""
    from nexy_stream.pipeline.registry import BUILT_IN, PipelineLoadError, installed, load

    chosen = _chosen(serve, args)
    if ":" in chosen and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # module:factory from the current directory, too
    known = [*BUILT_IN, *installed()]
    env_option(
        serve,
        "--pipeline",
        str,
        DEFAULT,
        f"what answers: {', '.join(known)}, or package.module:factory",
    )
    try:
        factories = {name: load(name) for name in dict.fromkeys([chosen, *BUILT_IN])}
        taken = {spec.field for spec in factories[chosen].setting_specs()}
        for name, factory in factories.items():
            _add_settings(serve, factory, runs=name == chosen, taken=taken)
    except PipelineLoadError as exc:
        serve.exit(2, f"{serve.prog}: {exc}\n")
    serve.set_defaults(pipeline_factory=factories[chosen], pipeline_others=factories)


def recipe(args: argparse.Namespace) -> PipelineRecipe:
    """The chosen pipeline and its settings (flags, then the environment), to be built
    where it runs (``recipe.build()``).

    Raises :class:`nexy_stream.pipeline.registry.PipelineLoadError` when a setting of
    another pipeline was given; building raises it when the pipeline cannot be built.
    """
    from nexy_stream.pipeline.registry import PipelineLoadError, PipelineRecipe

    chosen: PipelineFactory[Any] = args.pipeline_factory
    for factory in args.pipeline_others.values():
        if factory is chosen:
            continue
        for spec in factory.setting_specs():
            if not spec.secret and getattr(args, spec.field, None) is not None:
                raise PipelineLoadError(
                    f"{spec.flag} is a setting of the {factory.name} pipeline, and this server "
                    f"runs {chosen.name} (--pipeline {factory.name} to run it)"
                )
    values = {spec.field: _value(args, spec) for spec in chosen.setting_specs()}
    return PipelineRecipe(args.pipeline, values)


def _chosen(serve: argparse.ArgumentParser, args: list[str]) -> str:
    """``--pipeline`` ahead of the full parse, which needs the chosen pipeline's settings."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--pipeline", default=env_value(env_name("--pipeline"), DEFAULT))
    found, _ = early.parse_known_args(args)
    return str(found.pipeline)


def _add_settings(
    serve: argparse.ArgumentParser, factory: PipelineFactory[Any], runs: bool, taken: set[str]
) -> None:
    specs = factory.setting_specs()
    if not specs:
        return
    secrets = [
        f"{' or '.join([env_name(spec.flag), *spec.env])}, {spec.help}"
        for spec in specs
        if spec.secret
    ]
    description = " ".join(
        part
        for part in (
            factory.summary and factory.summary[0].upper() + factory.summary[1:] + ".",
            secrets and "From the environment only, never a flag: " + "; ".join(secrets) + ".",
        )
        if part
    )
    group = serve.add_argument_group(
        f"the {factory.name} pipeline (--pipeline {factory.name})", description or None
    )
    for spec in specs:
        if spec.secret or (not runs and spec.field in taken):
            continue
        try:
            if spec.kind is bool:
                env_switch(serve, spec.flag, spec.help, group, listed_only=not runs)
            else:
                env_option(serve, spec.flag, spec.kind, spec.default, spec.help, group, not runs)
        except argparse.ArgumentError:
            from nexy_stream.pipeline.registry import PipelineLoadError

            raise PipelineLoadError(
                f"pipeline {factory.name}: its setting {spec.flag} clashes with a flag of serve"
            ) from None


def _value(args: argparse.Namespace, spec: SettingSpec) -> object:
    if not spec.secret:
        return getattr(args, spec.field)
    for env in (env_name(spec.flag), *spec.env):
        if os.environ.get(env):
            return os.environ[env]
    return spec.default
