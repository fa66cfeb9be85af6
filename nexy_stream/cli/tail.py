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
    channel_credentials,
    connection_targets,
)
from nexy_stream.client.channel import open_channel
from nexy_stream.session import Outcome

REDRAW = "\x1b[H\x1b[2J"  # cursor home, clear screen
WATCH_METHOD = f"/{apb.DESCRIPTOR.services_by_name['AdminService'].full_name}/Watch"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tail = commands.add_parser("tail", help="follow the live sessions of a running server")
    add_connection_options(
        tail,
        "the server's admin address: its public one unless it runs with --admin-port; "
        "repeat it to follow several (the workers of serve --workers N)",
        several=True,
    )
    tail.add_argument(
        "--json", action="store_true", help="print one JSON object per feed event (for jq)"
    )
    tail.add_argument("--device", default="", help="only the sessions of this device id")
    tail.add_argument(
        "--outcome",
        action="append",
        default=[],
        choices=[outcome.value for outcome in Outcome],
        help="only the sessions that ended so (repeatable); live ones are then left out",
    )
    tail.add_argument(
        "--interval", type=float, default=1.0, help="seconds between figures and redraws"
    )
    tail.add_argument("--count", type=int, help="stop after this many session events")
    tail.add_argument("--duration", type=float, help="stop after this many seconds")
    tail.set_defaults(run=run)


def watch_request(args: argparse.Namespace) -> apb.WatchRequest:
    interval = Duration()
    interval.FromNanoseconds(round(args.interval * 1e9))
    return apb.WatchRequest(
        device_id=args.device,
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
        self._redraw = REDRAW if out.isatty() else "\n"
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
    args: argparse.Namespace, credentials: grpc.ChannelCredentials | None, out: TextIO
) -> int:
    """Prints the feeds of every target until --count or --duration is reached (0), or
    until one of them is lost (1)."""
    targets = connection_targets(args)
    printer = Printer(out, args.json, targets, args.count)
    request = watch_request(args)
    status = 0

    async def watch(source: int) -> None:
        nonlocal status
        status = await _follow_one(targets[source], source, credentials, request, printer)
        tasks.cancel_scope.cancel()

    with anyio.move_on_after(math.inf if args.duration is None else args.duration):
        async with anyio.create_task_group() as tasks:
            for source in range(len(targets)):
                tasks.start_soon(watch, source)
    return status


async def _follow_one(
    target: str,
    source: int,
    credentials: grpc.ChannelCredentials | None,
    request: apb.WatchRequest,
    printer: Printer,
) -> int:
    """Shows one target's feed until the count is reached (0) or the feed is lost (1)."""
    async with open_channel(target, credentials) as channel:
        watch = channel.unary_stream(
            WATCH_METHOD,
            request_serializer=apb.WatchRequest.SerializeToString,
            response_deserializer=apb.WatchEvent.FromString,
        )
        call = watch(request)
        shown = 0
        try:
            while isinstance(event := await call.read(), apb.WatchEvent):  # not EOF
                shown += 1
                if printer.show(event, source):
                    return 0
            print(f"nexy-stream tail: {target} ended the feed", file=sys.stderr)
        except grpc.aio.AioRpcError as error:
            what = "lost the feed of" if shown else "cannot watch"
            print(
                f"nexy-stream tail: {what} {target}: {error.code().name}: {error.details()}",
                file=sys.stderr,
            )
        finally:
            call.cancel()
    return 1


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.interval <= 0 or (args.count is not None and args.count <= 0):
        parser.error("--interval and --count must be positive")
    try:
        credentials = channel_credentials(args, parser)
        return anyio.run(follow, args, credentials, sys.stdout, backend="asyncio")
    except KeyboardInterrupt:
        return 0
