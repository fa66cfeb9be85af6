"""The speculation flags of ``nexy-stream serve``: answers prepared during collect."""

from __future__ import annotations

import argparse

from nexy_stream.cli.options import env_option, env_switch, non_negative_float, positive_int
from nexy_stream.cli.sizes import byte_size
from nexy_stream.session import Speculation

_DEFAULT = Speculation()
_TUNING = {
    "--speculate-after": ("speculate_after", _DEFAULT.after_s),
    "--speculate-max": ("speculate_max", _DEFAULT.max_per_session),
    "--speculate-held-bytes": ("speculate_held_bytes", _DEFAULT.max_held_bytes),
}


def register(serve: argparse.ArgumentParser) -> None:
    group = serve.add_argument_group(
        "speculation",
        "Prepare the answer while the user is still talking: once the interim text has stayed "
        "the same for a moment (or the client marks it stable), the pipeline starts on it and "
        "the server holds what it produces; if the commit is that request (the same text "
        "after normalisation, the same screenshot) the prepared run is the answer, else it is "
        "dropped and the commit runs afresh. Needs a pipeline that can prepare (openai).",
    )
    env_switch(serve, "--speculate", "prepare answers during collect", group)
    d = _DEFAULT
    env_option(
        serve,
        "--speculate-after",
        non_negative_float,
        d.after_s,
        "seconds the interim text must stay the same before its answer is prepared",
        group,
    )
    env_option(
        serve, "--speculate-max", positive_int, d.max_per_session, "preparations per session", group
    )
    env_option(
        serve,
        "--speculate-held-bytes",
        byte_size,
        d.max_held_bytes,
        "output a preparation may hold before it waits for the commit: plain bytes or 256KiB, 1MiB",
        group,
    )


def config_from(args: argparse.Namespace) -> Speculation | None:
    """The speculation the flags ask for (``None``: off); ``ValueError`` when they do not go
    together."""
    if not args.speculate:
        for flag, (name, default) in _TUNING.items():
            if getattr(args, name) != default:
                raise ValueError(f"{flag} needs --speculate")
        return None
    if args.speculate_held_bytes <= 0:
        raise ValueError(f"--speculate-held-bytes must be above 0, got {args.speculate_held_bytes}")
    return Speculation(args.speculate_after, args.speculate_max, args.speculate_held_bytes)
