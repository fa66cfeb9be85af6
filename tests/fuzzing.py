"""Malformed requests for the fuzz run, from any message type's descriptor: random bytes,
valid messages with extreme values, and fields re-encoded with the wrong wire type.

Seeded (``random.Random``), so a failing run is replayed by its seed.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

F = FieldDescriptor
_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5
_INT_RANGES = {
    F.TYPE_INT32: (-(2**31), 2**31 - 1),
    F.TYPE_SINT32: (-(2**31), 2**31 - 1),
    F.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    F.TYPE_ENUM: (-(2**31), 2**31 - 1),  # open enums: any number is a valid value
    F.TYPE_INT64: (-(2**63), 2**63 - 1),
    F.TYPE_SINT64: (-(2**63), 2**63 - 1),
    F.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    F.TYPE_UINT32: (0, 2**32 - 1),
    F.TYPE_FIXED32: (0, 2**32 - 1),
    F.TYPE_UINT64: (0, 2**64 - 1),
    F.TYPE_FIXED64: (0, 2**64 - 1),
}
_WIRE_TYPES = {
    **dict.fromkeys((F.TYPE_STRING, F.TYPE_BYTES, F.TYPE_MESSAGE), _LENGTH),
    **dict.fromkeys((F.TYPE_DOUBLE, F.TYPE_FIXED64, F.TYPE_SFIXED64), _FIXED64),
    **dict.fromkeys((F.TYPE_FLOAT, F.TYPE_FIXED32, F.TYPE_SFIXED32), _FIXED32),
}
_STRINGS = (
    "",
    "unknown",
    "UNKNOWN",
    " ",
    "\x00",
    "\u202e\u200b",
    "é" * 64,
    "🙂" * 33,
    "image/webp",
    "text/plain",
    "{00000000-0000-0000-0000-000000000000}",
    "not a uuid",
)


class Fuzzer:
    """Malformed encodings of one message type, none larger than ``frame_limit`` + 1."""

    def __init__(self, rng: random.Random, frame_limit: int) -> None:
        self.rng = rng
        self.frame_limit = frame_limit

    def any(self, kind: type[Message]) -> bytes:
        """One malformed request: a third each of random bytes, extreme values and wrong
        wire types."""
        makers: tuple[Callable[[type[Message]], bytes], ...] = (
            self.random_bytes,
            self.extreme,
            self.wrong_types,
        )
        return self.rng.choice(makers)(kind)

    def random_bytes(self, _kind: type[Message]) -> bytes:
        size = self.rng.choice((0, 1, 2, 3, 5, 8, 16, 64, 256, 4096))
        return self.rng.randbytes(self.rng.randint(0, size))

    def extreme(self, kind: type[Message]) -> bytes:
        """A valid message whose fields hold extreme values; now and then one string or
        bytes field, at any depth, makes it as large as a frame may be (or one byte more)."""
        message = kind()
        self._fill(message, depth=0)
        if self.rng.random() < 0.03:
            self._make_giant(message)
        return message.SerializeToString()

    def wrong_types(self, kind: type[Message]) -> bytes:
        return self._wrong(kind.DESCRIPTOR, depth=0)

    # -- extreme values ------------------------------------------------------------------

    def _fill(self, message: Message, depth: int) -> None:
        descriptor = message.DESCRIPTOR
        # One member of each oneof; a proto3 `optional` is a oneof of one (set or not).
        chosen = {oneof.name: self.rng.choice(oneof.fields) for oneof in descriptor.oneofs}
        for field in descriptor.fields:
            oneof = field.containing_oneof
            if oneof is not None and len(oneof.fields) > 1:
                if chosen[oneof.name] is not field:
                    continue
            elif self.rng.random() < 0.3:
                continue  # left unset
            if field.type == F.TYPE_MESSAGE:
                if depth < 4:
                    self._fill_message(message, field, depth)
            elif field.is_repeated:
                values = [self._value(field) for _ in range(self.rng.randint(1, 50))]
                getattr(message, field.name).extend(values)
            else:
                setattr(message, field.name, self._value(field))

    def _fill_message(self, message: Message, field: FieldDescriptor, depth: int) -> None:
        if field.is_repeated:
            for _ in range(self.rng.randint(1, 5)):
                self._fill(getattr(message, field.name).add(), depth + 1)
            return
        inner = getattr(message, field.name)
        self._fill(inner, depth + 1)
        inner.SetInParent()

    def _value(self, field: FieldDescriptor) -> object:
        rng = self.rng
        if field.type in _INT_RANGES:
            low, high = _INT_RANGES[field.type]
            return rng.choice((low, high, 0, 1, -1 if low else 2, rng.randint(low, high)))
        if field.type == F.TYPE_BOOL:
            return rng.random() < 0.5
        if field.type in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
            return rng.choice((0.0, -1.0, float("inf"), float("nan"), 1e308))
        if field.type == F.TYPE_STRING:
            return rng.choice((*_STRINGS, str(uuid.UUID(int=rng.getrandbits(128)))))
        return rng.randbytes(rng.choice((0, 1, 16, 1024)))  # bytes

    def _make_giant(self, message: Message) -> None:
        """Grows one string or bytes field until the message is ``frame_limit`` bytes, or
        one more (a few tries: the length prefixes grow with it)."""
        *outer, field = self.rng.choice(list(_string_paths(message.DESCRIPTOR)))
        holder = message
        for step in outer:
            holder = getattr(holder, step.name)
        target = self.frame_limit + (1 if self.rng.random() < 0.2 else 0)
        size = 0
        for _ in range(4):
            setattr(holder, field.name, "a" * size if field.type == F.TYPE_STRING else b"a" * size)
            size = max(size + target - message.ByteSize(), 0)

    # -- wrong wire types ----------------------------------------------------------------

    def _wrong(self, descriptor: Descriptor, depth: int) -> bytes:
        """Some fields of ``descriptor`` encoded with a wire type other than theirs; nested
        messages keep theirs at times, so the error sits deeper."""
        rng = self.rng
        out = bytearray()
        fields = list(descriptor.fields)
        for field in rng.sample(fields, rng.randint(1, len(fields))):
            if field.type == F.TYPE_MESSAGE and depth < 3 and rng.random() < 0.5:
                inner = self._wrong(field.message_type, depth + 1)
                out += _tag(field.number, _LENGTH) + _varint(len(inner)) + inner
                continue
            right = _WIRE_TYPES.get(field.type, _VARINT)
            wire = rng.choice([w for w in (_VARINT, _FIXED64, _LENGTH, _FIXED32) if w != right])
            out += _tag(field.number, wire) + self._payload(wire)
        return bytes(out)

    def _payload(self, wire: int) -> bytes:
        rng = self.rng
        if wire == _VARINT:
            return _varint(rng.getrandbits(rng.choice((1, 7, 32, 64))))
        if wire == _FIXED64:
            return rng.randbytes(8)
        if wire == _FIXED32:
            return rng.randbytes(4)
        body = rng.randbytes(rng.randint(0, 32))
        return _varint(len(body)) + body


def _string_paths(descriptor: Descriptor, depth: int = 0) -> Iterator[tuple[FieldDescriptor, ...]]:
    """Every single string or bytes field, by the message fields that lead to it."""
    for field in descriptor.fields:
        if field.is_repeated:
            continue
        if field.type in (F.TYPE_STRING, F.TYPE_BYTES):
            yield (field,)
        elif field.type == F.TYPE_MESSAGE and depth < 3:
            for path in _string_paths(field.message_type, depth + 1):
                yield (field, *path)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _tag(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)
