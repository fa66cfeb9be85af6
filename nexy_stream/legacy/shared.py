"""Legacy buffers in Redis (or Valkey) between calls: ``serve --legacy-store redis://...``.

An old client sends each collect chunk, and its commit, as a call of its own, and a load
balancer may send each to another process or machine. Every process that names the same
Redis keeps an utterance there between its calls, under the same rules as in memory:

- A call restores the session from what the store holds (``Open.collected``: the same
  buffer, counts and age), lets the actor take the call's events, and saves what changed.
  The actor alone decides (stale and repeated chunks, limits, the merge); the store carries
  its state and checks, in one Lua script, that nobody changed it meanwhile: a version
  that moved makes the call start over on the newer state (a few times, then ``ABORTED``).
- A commit pops the buffer atomically (Lua: the version unchanged, no committed marker)
  and leaves a marker in its place, ``running`` while its pipeline runs here, then
  ``committed`` for ``committed_ttl_s``: a commit that arrives twice, at any process, never
  runs twice (``RESOURCE_EXHAUSTED`` while it runs, then ``FAILED_PRECONDITION``, as in
  memory). A commit the actor refuses ends the utterance, marker removed, as in memory.
- Expiry is Redis's: each save sets the key's time to live to the idle timeout, never
  past the session's ``max_duration`` from its first call.
- The byte budget (``max_buffered_bytes``) of a process counts what a call holds in its
  memory (the restored buffer, then the committed utterance while its pipeline runs), as
  for any session, and also the bytes of every buffer this process wrote to Redis, from
  the write until this process replaces or commits it, or until it would have expired:
  another process's write or commit is not seen here, so the count errs on the high side,
  never the low one. So the processes sharing a store together put no more into it than
  their budgets add up to.

Calls for one utterance are serialized within a process; a commit running here is found
in this process's sessions first, so its actor answers late collects and repeated commits
as in memory. InterruptSession reaches every process: the one it lands on stops its own
commits and publishes the request on a channel every process listens on; each stops the
owner's commits it runs and answers with their ids. What this store does not share:
live-session quotas count an utterance only while one of its calls runs, and an utterance
that expires in Redis is reported ended by no process. Keys are ``nexy:legacy:`` and a
hash of the owner and session id (no hardware id in them, nor in an interrupt request).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError, ResponseError

from nexy_stream.legacy.codec import SCREENSHOT_MIME_TYPE
from nexy_stream.legacy.keeper import LegacyCall, LegacySessions
from nexy_stream.legacy.store import Apply, already_processing
from nexy_stream.netaddr import redacted
from nexy_stream.server.admission import already_committed
from nexy_stream.server.live import LiveSession
from nexy_stream.server.registry import Key
from nexy_stream.session import (
    ByteBudget,
    Code,
    Collected,
    Dispatch,
    Owner,
    Screenshot,
    ScreenSize,
    SessionError,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
PREFIX = "nexy:legacy:"
INTERRUPTS = f"{PREFIX}interrupts"  # the channel of InterruptSession requests
INTERRUPT_REPLY_S = 2.0
"""How long InterruptSession waits for the other processes' answers (one that died
meanwhile never answers)."""
RELISTEN_S = 1.0  # the pause before listening again for interrupts after the store failed
ATTEMPTS = 5  # a call starts over this often when concurrent calls changed its state
RUNNING, COMMITTED = b"running", b"committed"

# KEYS: state, marker. The server's time, the marker and the state's fields.
_LOAD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return {tostring(now), redis.call('GET', KEYS[2]) or '', redis.call('HGETALL', KEYS[1])}
"""
# KEYS: state, marker. ARGV: the version read, idle ms, max duration ms, field, value, ...
_SAVE = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 'committed' end
local version = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if version ~= tonumber(ARGV[1]) then return 'conflict' end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local born = tonumber(redis.call('HGET', KEYS[1], 'born') or now)
local ttl = math.min(tonumber(ARGV[2]), born + tonumber(ARGV[3]) - now)
redis.call('DEL', KEYS[1])
if ttl <= 0 then return 'conflict' end
redis.call('HSET', KEYS[1], 'v', version + 1, 'born', born, unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ttl)
return 'saved'
"""
# KEYS: state, marker. ARGV: the version read, the running marker's time to live in ms.
_POP = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 'committed' end
local version = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if version ~= tonumber(ARGV[1]) then return 'conflict' end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], 'running', 'PX', ARGV[2])
return 'popped'
"""


@dataclass(frozen=True, slots=True)
class Stored:
    """What the store held for an utterance when a call read it."""

    version: int  # 0: nothing
    collected: Collected | None
    screen: ScreenSize | None

    @property
    def applied_chunks(self) -> int:
        return self.collected.applied_chunks if self.collected is not None else 0


def _size(collected: Collected | None) -> int:
    if collected is None:
        return 0
    shot = len(collected.screenshot.data) if collected.screenshot is not None else 0
    return len(collected.text.encode()) + shot


class WrittenBytes:
    """The bytes of the buffers this process wrote to the store, held against its budget
    until it replaces or pops them, or until they would have expired (see the module)."""

    def __init__(self, budget: ByteBudget, ttl_s: float) -> None:
        self._budget = budget
        self._ttl_s = ttl_s
        self._written: OrderedDict[str, tuple[int, float]] = OrderedDict()  # -> (bytes, until)

    def lend(self, key: str, now: float) -> int:
        """Gives back what this process counts for ``key`` (a call restores it, and its
        actor holds the bytes meanwhile); how many."""
        self._expire(now)
        size, _ = self._written.pop(key, (0, 0.0))
        self._budget.give_back(size)
        return size

    def keep(self, key: str, size: int, now: float) -> None:
        """Counts ``size`` bytes written for ``key`` (taken over from the call's actor, which
        held them against the budget already)."""
        self._expire(now)
        if size:
            self._budget.take_anyway(size)
            self._written[key] = (size, now + self._ttl_s)

    def _expire(self, now: float) -> None:
        # Every entry lives as long, so the oldest come first.
        while self._written:
            key, (size, until) = next(iter(self._written.items()))
            if until > now:
                return
            del self._written[key]
            self._budget.give_back(size)

    def __len__(self) -> int:
        return len(self._written)


class _Changed(Exception):
    """The stored state changed since the call read it: the call starts over."""


class RedisStore:
    """Legacy utterances kept in Redis between their calls (the module says how)."""

    def __init__(self, sessions: LegacySessions, client: Redis, committed_ttl_s: float) -> None:
        self._sessions = sessions
        self._client = client
        self._limits = sessions.limits
        self._committed_ttl_ms = int(committed_ttl_s * 1000)
        self._now = sessions.clock.now
        self._written = WrittenBytes(sessions.budget, self._limits.idle_timeout_s)
        self._locks: dict[Key, tuple[anyio.Lock, int]] = {}  # -> (lock, calls using it)
        self._load = client.register_script(_LOAD)
        self._save = client.register_script(_SAVE)
        self._pop = client.register_script(_POP)
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None

    @classmethod
    async def connect(
        cls, url: str, sessions: LegacySessions, committed_ttl_s: float
    ) -> RedisStore:
        """A store on ``url`` once it answers; ``OSError`` saying why not."""
        client = Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10)
        store = cls(sessions, client, committed_ttl_s)
        try:
            await client.ping()
            await store._listen_for_interrupts()
        except RedisError as exc:
            await store.aclose()
            raise OSError(f"cannot reach the legacy store {redacted(url)}: {exc}") from exc
        return store

    @property
    def sessions(self) -> LegacySessions:
        return self._sessions

    # -- calls -------------------------------------------------------------------------------

    async def collect(
        self, call: LegacyCall, apply: Apply[SessionError | None]
    ) -> SessionError | None:
        async def once(stored: Stored) -> SessionError | None:
            return await self._collect_once(call, stored, apply)

        return await self._attempts(call, apply, once)

    async def commit(
        self, call: LegacyCall, apply: Apply[Dispatch | SessionError]
    ) -> tuple[LiveSession, Dispatch] | SessionError:
        def refused(running: LiveSession) -> SessionError:
            dispatched = apply(running)
            assert isinstance(dispatched, SessionError), "a running session ran twice"
            return dispatched

        async def once(stored: Stored) -> tuple[LiveSession, Dispatch] | SessionError:
            return await self._commit_once(call, stored, apply)

        return await self._attempts(call, refused, once)

    async def _attempts(
        self,
        call: LegacyCall,
        answer_running: Callable[[LiveSession], T],
        once: Callable[[Stored], Awaitable[T]],
    ) -> T | SessionError:
        """One call: answered by the actor of its commit running in this process, or by
        ``once`` on what the store holds, started over while other calls change that."""
        async with self._one_call_at_a_time(call.key):
            for _ in range(ATTEMPTS):
                running = self._sessions.found(call.key)
                if running is not None:
                    return answer_running(running)
                stored = await self._read(call)
                if isinstance(stored, SessionError):
                    return stored
                try:
                    return await once(stored)
                except _Changed:
                    continue
        return SessionError(
            Code.ABORTED,
            f"session {call.session_id} kept changing under concurrent calls; send the call again",
        )

    async def _collect_once(
        self, call: LegacyCall, stored: Stored, apply: Apply[SessionError | None]
    ) -> SessionError | None:
        """Restores, applies, saves what changed; :class:`_Changed` if another call did."""
        names = _names(call)
        restored = self._restore(names, call, stored)
        if isinstance(restored, SessionError):
            return restored
        session, lent = restored
        try:
            problem = apply(session)
            if session.ended or session.actor.applied_chunks == stored.applied_chunks:
                self._written.keep(names.state, lent, self._now())  # nothing new to keep
                return problem
            collected = session.actor.collected(self._now())
            saved = await self._write(names, stored, collected, stored.screen or call.screen)
            if isinstance(saved, SessionError):  # the store still holds what it held
                self._written.keep(names.state, lent, self._now())
                return saved
            if saved == b"conflict":
                raise _Changed
            if saved != b"saved":
                return already_committed(call.session_id)
            self._written.keep(names.state, _size(collected), self._now())
            return problem
        finally:
            self._sessions.hand_over(session)

    async def _commit_once(
        self, call: LegacyCall, stored: Stored, apply: Apply[Dispatch | SessionError]
    ) -> tuple[LiveSession, Dispatch] | SessionError:
        """Restores, pops, commits; :class:`_Changed` if another call changed the state."""
        names = _names(call)
        restored = self._restore(names, call, stored)
        if isinstance(restored, SessionError):
            return restored
        session, lent = restored
        # Popped before the actor decides: a commit it refuses ends the utterance anyway.
        popped = await self._guarded(
            self._pop(keys=names.keys, args=[stored.version, self._running_ttl_ms()])
        )
        if popped != b"popped":
            self._sessions.hand_over(session)
            if isinstance(popped, SessionError):  # the store still holds what it held
                self._written.keep(names.state, lent, self._now())
                return popped
            if popped == b"conflict":
                raise _Changed
            return already_committed(call.session_id)
        dispatched = apply(session)
        if isinstance(dispatched, SessionError):  # refused: the utterance ended, as in memory
            session.close()
            await self._guarded(self._client.delete(names.marker))
            return dispatched
        return session, dispatched

    async def interrupt(self, owner: Owner) -> list[str]:
        """Stops the owner's commits here, then asks every process that shares the store
        (a balancer may have sent the commit call to any) and gathers what they stopped.
        With the store unreachable only this process's commits are stopped."""
        stopped = set(self._sessions.interrupt(owner))
        reply = f"{PREFIX}i:{secrets.token_hex(12)}"
        request = json.dumps({"owner": _owner_digest(owner), "reply": reply})
        listeners = await self._guarded(self._client.publish(INTERRUPTS, request))
        if isinstance(listeners, SessionError):
            logger.warning("InterruptSession reached this process only: %s", listeners.message)
            return sorted(stopped)
        deadline = anyio.current_time() + INTERRUPT_REPLY_S
        for _ in range(listeners):
            left = deadline - anyio.current_time()
            answer = await self._guarded(self._client.blpop([reply], timeout=max(left, 0.01)))
            if not isinstance(answer, list | tuple):  # none in time, or the store failed
                break
            stopped.update(answer[1].decode().split())
        await self._guarded(self._client.delete(reply))
        return sorted(stopped)

    async def _listen_for_interrupts(self) -> None:
        """Subscribes to the interrupt channel, then answers its requests in a task of
        this store's own (it is started and stopped by different tasks of the server)."""
        self._pubsub = self._client.pubsub()
        await self._pubsub.subscribe(INTERRUPTS)
        self._listener = asyncio.get_running_loop().create_task(self._answer_interrupts())

    async def _answer_interrupts(self) -> None:
        """Listens for ever; a store that fails is retried every ``RELISTEN_S``, with one
        line when it fails and one when it is back."""
        assert self._pubsub is not None
        failing = False
        while True:
            try:
                await self._pubsub.subscribe(INTERRUPTS)  # again after a lost connection
                if failing:
                    logger.warning("legacy store: listening for interrupts again")
                    failing = False
                async for message in self._pubsub.listen():
                    if message["type"] == "message":
                        await self._answer_interrupt(message["data"])
            except RedisError as exc:
                if not failing:
                    logger.warning("legacy store: not listening for interrupts (%s)", exc)
                    failing = True
                await anyio.sleep(RELISTEN_S)

    async def _answer_interrupt(self, data: bytes) -> None:
        """Stops the commits this process runs for the requested owner; answers with their
        ids (an empty answer too, so the asking process need not wait)."""
        try:
            request = json.loads(data)
            digest, reply = str(request["owner"]), str(request["reply"])
        except (ValueError, KeyError, TypeError):
            logger.warning("legacy store: an unreadable interrupt request was ignored")
            return
        if not reply.startswith(f"{PREFIX}i:"):
            logger.warning(
                "legacy store: an interrupt request with a foreign reply key was ignored"
            )
            return
        stopped = [
            session_id
            for owner in self._sessions.running_owners()
            if _owner_digest(owner) == digest
            for session_id in self._sessions.interrupt(owner)
        ]
        await self._guarded(self._client.rpush(reply, " ".join(stopped)))
        await self._guarded(self._client.pexpire(reply, int(INTERRUPT_REPLY_S * 1000) + 1000))

    async def ran(self, session: LiveSession) -> None:
        """The commit's run ended, however: its marker says ``committed`` from now on."""
        marker = _names_of(session.actor.owner, session.actor.session_id).marker
        if self._committed_ttl_ms > 0:
            await self._guarded(self._client.set(marker, COMMITTED, px=self._committed_ttl_ms))
        else:
            await self._guarded(self._client.delete(marker))

    async def held(self) -> int:
        count = 0
        async for _ in self._client.scan_iter(match=f"{PREFIX}s:*", count=1000):
            count += 1
        return count

    async def aclose(self) -> None:
        self._sessions.close_all()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # redis lacks hints
        await self._client.aclose()

    # -- the store ---------------------------------------------------------------------------

    async def _read(self, call: LegacyCall) -> Stored | SessionError:
        """What the store holds for the utterance, or why a call cannot go on with it."""
        found = await self._guarded(self._load(keys=_names(call).keys))
        if isinstance(found, SessionError):
            return found
        now_ms, marker, flat = found
        if marker == RUNNING:
            return already_processing(call.session_id)
        if marker:
            return already_committed(call.session_id)
        return _stored(dict(zip(flat[::2], flat[1::2], strict=True)), int(now_ms))

    async def _write(
        self, names: _Names, stored: Stored, collected: Collected, screen: ScreenSize | None
    ) -> Any:
        idle_ms = int(self._limits.idle_timeout_s * 1000)
        duration_ms = int(self._limits.max_duration_s * 1000)
        args: list[str | int | bytes] = [stored.version, idle_ms, duration_ms]
        args += [b"text", collected.text.encode()]
        args += [b"seq", collected.highest_applied_seq, b"chunks", collected.applied_chunks]
        if collected.screenshot is not None:
            shot = collected.screenshot
            args += [b"shot", shot.data, b"shot_w", shot.width, b"shot_h", shot.height]
        if screen is not None:
            args += [b"screen_w", screen.width, b"screen_h", screen.height]
        return await self._guarded(self._save(keys=names.keys, args=args))

    def _restore(
        self, names: _Names, call: LegacyCall, stored: Stored
    ) -> tuple[LiveSession, int] | SessionError:
        """The call's session, opened here with what the store held (the screen of its
        first call, as in memory), and the bytes this process counted for its buffer (its
        actor holds them now)."""
        lent = self._written.lend(names.state, self._now())
        if stored.screen is not None:
            call = dataclasses.replace(call, screen=stored.screen)
        session = self._sessions.open(call, stored.collected)
        if isinstance(session, SessionError):
            self._written.keep(names.state, lent, self._now())
            return session
        return session, lent

    def _running_ttl_ms(self) -> int:
        """How long a running marker outlives a process that dies mid-run."""
        return int(self._limits.max_duration_s * 1000) + max(self._committed_ttl_ms, 1000)

    async def _guarded(self, reply: Awaitable[Any]) -> Any:
        """The store's reply, or the error a client gets when the store fails."""
        try:
            return await reply
        except ResponseError as exc:
            if str(exc).startswith("OOM"):
                return SessionError(
                    Code.RESOURCE_EXHAUSTED,
                    "the legacy store is full (its maxmemory); retry shortly or send less",
                )
            return _unavailable(exc)
        except RedisError as exc:
            return _unavailable(exc)

    @contextlib.asynccontextmanager
    async def _one_call_at_a_time(self, key: Key) -> AsyncIterator[None]:
        """Serializes the calls of one utterance within this process (another process's
        are serialized by the version check)."""
        lock, users = self._locks.get(key, (anyio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


@dataclass(frozen=True, slots=True)
class _Names:
    state: str
    marker: str

    @property
    def keys(self) -> list[str]:
        return [self.state, self.marker]


def _names(call: LegacyCall) -> _Names:
    return _names_of(call.owner, call.session_id)


def _names_of(owner: Owner, session_id: str) -> _Names:
    """Keys that name no hardware id or principal: a hash of the owner and session id."""
    identity = "\x00".join((owner.principal, owner.hardware_id, session_id)).encode()
    digest = hashlib.blake2b(identity, digest_size=16).hexdigest()
    return _Names(f"{PREFIX}s:{digest}", f"{PREFIX}c:{digest}")


def _owner_digest(owner: Owner) -> str:
    """Names an owner in an interrupt request without its hardware id."""
    identity = "\x00".join((owner.principal, owner.hardware_id)).encode()
    return hashlib.blake2b(identity, digest_size=16).hexdigest()


def _stored(fields: dict[bytes, bytes], now_ms: int) -> Stored:
    if not fields:
        return Stored(0, None, None)
    shot = None
    if b"shot" in fields:
        width, height = int(fields[b"shot_w"]), int(fields[b"shot_h"])
        shot = Screenshot(fields[b"shot"], SCREENSHOT_MIME_TYPE, width, height)
    screen = None
    if b"screen_w" in fields:
        screen = ScreenSize(int(fields[b"screen_w"]), int(fields[b"screen_h"]))
    collected = Collected(
        fields[b"text"].decode(),
        shot,
        int(fields[b"seq"]),
        int(fields[b"chunks"]),
        max(now_ms - int(fields[b"born"]), 0) / 1000,
    )
    return Stored(int(fields[b"v"]), collected, screen)


def _unavailable(exc: Exception) -> SessionError:
    return SessionError(Code.UNAVAILABLE, f"the legacy store is unreachable ({exc}); retry")
