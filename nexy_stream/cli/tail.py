"""``nexy-stream tail``: follow a server's live sessions (a live table, or JSON lines)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import TextIO

import anyio
import grpc
from google.protobuf import json_format
from google.protobuf.duration_pb2 import Duration

from nexy_stream._proto.nexy.admin.v1 import admin_pb2 as apb
from nexy_stream.cli.board import Board
from nexy_stream.cli.connection import (
    add_connection_options,
    call_metadata,
    channel_credentials,
    connection_targets,
)
from nexy_stream.cli.options import positive_float, positive_int
from nexy_stream.cli.process import fail, interrupts, is_terminal
from nexy_stream.client.channel import CallMetadata, open_channel
from nexy_stream.session import Outcome

REDRAW = "\x1b[H\x1b[2J"  # cursor home, clear screen
WATCH_METHOD = f"/{apb.DESCRIPTOR.services_by_name['AdminService'].full_name}/Watch"


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    tail = commands.add_parser(
        "tail",
        help="follow the live sessions of a running server",
        description="Follows the admin feed: in a terminal a table redrawn in place, else "
        "one plain table per interval (or --json lines). Exit status: 0 when stopped (Ctrl-C, "
        "--count, --duration), 1 when the feed cannot be had or is lost, 2 a bad flag.",
    )
    add_connection_options(
        tail,
        "the server's admin address: its public one unless it runs with --admin-port; "
        "repeat it to follow several (the workers of serve --workers N)",
        several=True,
    )
    tail.add_argument(
        "--json", action="store_true", help="print one JSON object per feed event (for jq)"
    )
    tail.add_argument("--device-id", default="", help="only the sessions of this device id")
    tail.add_argument(
        "--outcome",
        action="append",
        default=[],
        choices=[outcome.value for outcome in Outcome],
        help="only the sessions that ended so (repeatable); live ones are then left out",
    )
    tail.add_argument(
        "--interval", type=positive_float, default=1.0, help="seconds between figures and redraws"
    )
    tail.add_argument("--count", type=positive_int, help="stop after this many session events")
    tail.add_argument("--duration", type=positive_float, help="stop after this many seconds")
    return tail


def watch_request(args: argparse.Namespace) -> apb.WatchRequest:
    interval = Duration()
    interval.FromNanoseconds(round(args.interval * 1e9))
    return apb.WatchRequest(
        device_id=args.device_id,
        outcomes=[apb.Outcome.Value(f"OUTCOME_{name.upper()}") for name in args.outcome],  # type: ignore[misc]  # the stubs type Value loosely
        aggregate_interval=interval,
    )


class Printer:
    """Writes the feeds: a JSON line per event (with its ``target`` when there are several),
    or the board redrawn on every aggregate."""

    def __init__(self, out: TextIO, as_json: bool, targets: Sequence[str], count: int | None):
        self._out = out
        self._targets = list(targets)
        self._board = None if as_json else Board(targets)
        self._redraw = REDRAW if is_terminal(out) else "\n"
        self._count = count
        self._session_events = 0

    def show(self, event: apb.WatchEvent, source: int) -> bool:
        """Shows one event; True once ``count`` session events were shown."""
        if self._board is None:
            line = json_format.MessageToDict(
                event,
                preserving_proto_field_name=True,
                always_print_fields_with_no_presence=True,
            )
            if len(self._targets) > 1:
                line["target"] = self._targets[source]
            self._out.write(json.dumps(line) + "\n")
        else:
            self._board.apply(event, source)
            if event.WhichOneof("kind") != "session":
                self._out.write(self._redraw + self._board.render() + "\n")
        self._out.flush()
        self._session_events += event.HasField("session")
        return self._count is not None and self._session_events >= self._count


async def follow(
    args: argparse.Namespace,
    targets: Sequence[str],
    credentials: grpc.ChannelCredentials | None,
    metadata: CallMetadata,
    out: TextIO,
) -> str | None:
    """Prints the feeds of every target until --count, --duration or Ctrl-C (``None``), or
    until one of them cannot be had, ends or is lost (what went wrong)."""
    printer = Printer(out, args.json, targets, args.count)
    request = watch_request(args)
    problem: str | None = None

    async def watch(source: int) -> None:
        nonlocal problem
        problem = await _follow_one(
            targets[source], source, credentials, metadata, request, printer
        )
        tasks.cancel_scope.cancel()

    with anyio.move_on_after(math.inf if args.duration is None else args.duration) as until:
        with interrupts(until.cancel):
            async with anyio.create_task_group() as tasks:
                for source in range(len(targets)):
                    tasks.start_soon(watch, source)
    return problem


async def _follow_one(
    target: str,
    source: int,
    credentials: grpc.ChannelCredentials | None,
    metadata: CallMetadata,
    request: apb.WatchRequest,
    printer: Printer,
) -> str | None:
    """Shows one target's feed until the count is reached (``None``), or says why it ended."""
    async with open_channel(target, credentials) as channel:
        watch = channel.unary_stream(
            WATCH_METHOD,
            request_serializer=apb.WatchRequest.SerializeToString,
            response_deserializer=apb.WatchEvent.FromString,
        )
        call = watch(request, metadata=metadata)
        shown = 0
        try:
            while isinstance(event := await call.read(), apb.WatchEvent):  # not EOF
                shown += 1
                if printer.show(event, source):
                    return None
            return f"{target} ended the feed"
        except grpc.aio.AioRpcError as error:
            what = "lost the feed of" if shown else "cannot watch"
            return f"{what} {target}: {error.code().name}: {error.details()}"
        finally:
            call.cancel()


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    targets = connection_targets(args, parser)
    credentials = channel_credentials(args, parser)
    metadata = call_metadata(args, parser)
    problem = anyio.run(follow, args, targets, credentials, metadata, sys.stdout, backend="asyncio")
    return 0 if problem is None else fail(parser, problem)
