"""``nexy-stream tail``: follow a server's live sessions (a live table, or JSON lines)."""

from __future__ import annotations

import argparse
import math
import sys
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
        tail, "the server's admin address: its public one unless it runs with --admin-port"
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
    """Writes the feed: a JSON line per event, or the board redrawn on every aggregate."""

    def __init__(self, out: TextIO, as_json: bool, target: str) -> None:
        self._out = out
        self._board = None if as_json else Board()
        self._redraw = REDRAW if is_terminal(out) else "\n"
        self._target = target
        self.shown = 0

    def show(self, event: apb.WatchEvent) -> None:
        self.shown += 1
        if self._board is None:
            line = json_format.MessageToJson(
                event,
                indent=None,
                preserving_proto_field_name=True,
                always_print_fields_with_no_presence=True,
            )
            self._out.write(line + "\n")
        else:
            self._board.apply(event)
            if event.WhichOneof("kind") != "session":
                self._out.write(self._redraw + self._board.render(self._target) + "\n")
        self._out.flush()


async def follow(
    args: argparse.Namespace,
    credentials: grpc.ChannelCredentials | None,
    metadata: CallMetadata,
    out: TextIO,
) -> str | None:
    """Prints the feed until --count, --duration or Ctrl-C (``None``), or until the feed
    cannot be had or is lost (what went wrong)."""
    printer = Printer(out, args.json, args.target)
    async with open_channel(args.target, credentials) as channel:
        watch = channel.unary_stream(
            WATCH_METHOD,
            request_serializer=apb.WatchRequest.SerializeToString,
            response_deserializer=apb.WatchEvent.FromString,
        )
        call = watch(watch_request(args), metadata=metadata)
        try:
            with anyio.move_on_after(math.inf if args.duration is None else args.duration) as until:
                with interrupts(until.cancel):
                    if not await _print_feed(call, printer, args.count):
                        return f"{args.target} ended the feed"
        except grpc.aio.AioRpcError as error:
            what = "lost the feed of" if printer.shown else "cannot watch"
            return f"{what} {args.target}: {error.code().name}: {error.details()}"
        finally:
            call.cancel()
    return None


async def _print_feed(
    call: grpc.aio.UnaryStreamCall[apb.WatchRequest, apb.WatchEvent],
    printer: Printer,
    count: int | None,
) -> bool:
    """Shows events until ``count`` session events were shown (True) or the feed ends."""
    session_events = 0
    while isinstance(event := await call.read(), apb.WatchEvent):  # not EOF
        printer.show(event)
        session_events += event.HasField("session")
        if count is not None and session_events >= count:
            return True
    return False


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    credentials = channel_credentials(args, parser)
    metadata = call_metadata(args, parser)
    problem = anyio.run(follow, args, credentials, metadata, sys.stdout, backend="asyncio")
    return 0 if problem is None else fail(parser, problem)
