"""The admin gRPC service: ``Watch`` streams the feed to one watcher.

With authentication on, only an admin credential may watch (a user credential gets
PERMISSION_DENIED), wherever the service is served; the feed shows every session's device
id, so only admins ever see device ids. With authentication off anyone who reaches the
port may watch, which is why the server listens beyond loopback only when told to.
"""

from __future__ import annotations

from typing import Any

import anyio
import grpc

from nexy_stream._proto.nexy.admin.v1 import admin_pb2 as apb
from nexy_stream.auth import Authenticator, AuthError
from nexy_stream.ops import codec
from nexy_stream.ops.feed import FeedClosed, FeedHub, Watcher, WatchFilter
from nexy_stream.ops.live import LiveSessions
from nexy_stream.ops.stats import Rollup
from nexy_stream.server.requests import decoded
from nexy_stream.session import SessionError
from nexy_stream.status import grpc_status

ADMIN_SERVICE = apb.DESCRIPTOR.services_by_name["AdminService"].full_name
WATCH_METHOD = f"/{ADMIN_SERVICE}/Watch"
MIN_INTERVAL_S, MAX_INTERVAL_S, DEFAULT_INTERVAL_S = 0.1, 3600.0, 1.0
MAX_DEVICE_ID_CHARS = 128
_OUTCOMES = {number: outcome for outcome, number in codec.OUTCOMES.items()}


def watch_options(request: apb.WatchRequest) -> tuple[WatchFilter, float]:
    """The filter and aggregate interval a request asks for; ``ValueError`` says what is wrong."""
    if len(request.device_id) > MAX_DEVICE_ID_CHARS:
        raise ValueError(
            f"device_id has {len(request.device_id)} characters, over {MAX_DEVICE_ID_CHARS}"
        )
    unknown = [number for number in request.outcomes if number not in _OUTCOMES]
    if unknown:
        raise ValueError(f"outcomes holds {unknown[0]}, which is not an Outcome to filter by")
    interval = DEFAULT_INTERVAL_S
    if request.HasField("aggregate_interval"):
        interval = request.aggregate_interval.ToNanoseconds() / 1e9
        if not MIN_INTERVAL_S <= interval <= MAX_INTERVAL_S:
            raise ValueError(
                f"aggregate_interval is {interval:g}s, outside {MIN_INTERVAL_S:g}s.."
                f"{MAX_INTERVAL_S:g}s"
            )
    outcomes = frozenset(_OUTCOMES[number] for number in request.outcomes)
    return WatchFilter(request.device_id, outcomes), interval


class AdminService:
    def __init__(
        self,
        hub: FeedHub,
        live: LiveSessions,
        rollup: Rollup,
        authenticator: Authenticator | None,
    ) -> None:
        self._hub = hub
        self._live = live
        self._rollup = rollup
        self._authenticator = authenticator  # None: authentication is off

    def handler(self) -> grpc.GenericRpcHandler[Any, Any]:
        return grpc.method_handlers_generic_handler(
            ADMIN_SERVICE,
            {
                "Watch": grpc.unary_stream_rpc_method_handler(
                    self.watch,
                    request_deserializer=None,  # bytes: decoded by the handler
                    response_serializer=apb.WatchEvent.SerializeToString,
                )
            },
        )

    async def watch(self, raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        """The credential is checked first, then the request, which is decoded here: grpcio's
        own failure to decode would be an UNKNOWN status and a traceback in the log."""
        if self._authenticator is not None:
            try:
                self._authenticator.authenticate_admin(context.invocation_metadata())
            except AuthError as refused:
                await context.abort(refused.code, refused.message)
        request = decoded(apb.WatchRequest, raw)
        if isinstance(request, SessionError):
            await context.abort(grpc_status(int(request.code)), request.message)
        try:
            wants, interval = watch_options(request)
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        try:
            with self._hub.watch(wants) as watcher:
                # The sender may be stuck writing to a watcher that does not read; ending
                # the watcher cancels it, so the status still goes out. grpcio sends the
                # initial metadata with the first write and counts it sent only once that
                # write completes: a status sent after a cancelled first write would repeat
                # it, which gRPC refuses (TOO_MANY_OPERATIONS) and the call would hang.
                await context.send_initial_metadata(())
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(self._send, watcher, context)
                    tasks.start_soon(self._aggregate, watcher, interval)
                    await watcher.ended.wait()
                    tasks.cancel_scope.cancel()
                assert watcher.reason is not None
                raise watcher.reason
        except FeedClosed as closed:
            await context.abort(closed.code, closed.message)

    @staticmethod
    async def _send(watcher: Watcher, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        """Writes the watcher's events until it ends.

        A write fails once the watcher has gone: grpcio raises its internals before it
        cancels the handler. The sender then stops, and that cancellation ends the call
        quietly; raising would turn a disconnect into a traceback in the log.
        """
        while (queued := await watcher.take()) is not None:
            try:
                await context.write(queued.event())
            except Exception:
                return

    async def _aggregate(self, watcher: Watcher, interval: float) -> None:
        previous = self._rollup.totals()
        while True:
            await anyio.sleep(interval)
            current = self._rollup.totals()
            text, screenshots = self._live.buffered_bytes()
            watcher.offer(
                codec.aggregate(
                    previous,
                    current,
                    self._live.counts(),
                    self._live.awaiting_resume(),
                    text + screenshots,
                    self._rollup.latencies(),
                    self._rollup.window_s,
                )
            )
            previous = current
