"""The SDK's betterproto2 messages and the server's protobuf messages agree on the wire.

Hypothesis draws a frame as a plain tree of field values (walking the protobuf
descriptors, so every field of every message is covered); the same tree is built with
each library independently, and each side's bytes must equal and parse back to the
other's message.

One known gap, by design of betterproto2: it carries ``google.protobuf.Duration`` as a
``datetime.timedelta``, which holds microseconds; durations are drawn at that precision
(the server's timings are far coarser).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.duration_pb2 import Duration
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexy_stream._proto.nexy.stream.v1 import session_pb2 as pb
from nexy_stream.client._messages.nexy.stream import v1 as wire

Tree = dict[str, Any]

_SCALARS: dict[int, st.SearchStrategy[Any]] = {
    FieldDescriptor.TYPE_STRING: st.text(max_size=20),
    FieldDescriptor.TYPE_BYTES: st.binary(max_size=20),
    FieldDescriptor.TYPE_BOOL: st.booleans(),
    FieldDescriptor.TYPE_INT32: st.integers(-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT32: st.integers(0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: st.integers(0, 2**64 - 1),
}
_DURATIONS = st.tuples(st.integers(0, 10**6), st.integers(0, 999_999))  # seconds, micros


def values(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_ENUM:
        return st.sampled_from([v.number for v in field.enum_type.values])
    if field.message_type is Duration.DESCRIPTOR:
        return _DURATIONS
    if field.message_type is not None:
        return st.deferred(lambda: trees(field.message_type))
    return _SCALARS[field.type]


def trees(descriptor: Descriptor) -> st.SearchStrategy[Tree]:
    """A subset of the plain fields and at most one member of each oneof."""
    plain = {f.name: values(f) for f in descriptor.fields if f.containing_oneof is None}
    parts = [st.fixed_dictionaries({}, optional=plain)]
    for oneof in descriptor.oneofs:
        members = [values(f).map(lambda v, name=f.name: {name: v}) for f in oneof.fields]
        parts.append(st.one_of(st.just({}), *members))
    return st.tuples(*parts).map(lambda dicts: {k: v for d in dicts for k, v in d.items()})


def build(tree: Tree, descriptor: Descriptor) -> tuple[Any, Any]:
    """The same message with protobuf and with betterproto2."""
    pb_fields: Tree = {}
    bp_fields: Tree = {}
    for name, value in tree.items():
        field = descriptor.fields_by_name[name]
        if field.message_type is Duration.DESCRIPTOR:
            seconds, micros = value
            pb_fields[name] = Duration(seconds=seconds, nanos=micros * 1000)
            bp_fields[name] = timedelta(seconds=seconds, microseconds=micros)
        elif field.message_type is not None:
            pb_fields[name], bp_fields[name] = build(value, field.message_type)
        elif field.enum_type is not None:
            pb_fields[name] = value
            bp_fields[name] = getattr(wire, field.enum_type.name)(value)
        else:
            pb_fields[name] = bp_fields[name] = value
    pb_class = getattr(pb, descriptor.name)
    bp_class = getattr(wire, descriptor.name)
    return pb_class(**pb_fields), bp_class(**bp_fields)


def check_both_ways(tree: Tree, descriptor: Descriptor) -> None:
    pb_message, bp_message = build(tree, descriptor)
    pb_bytes = pb_message.SerializeToString(deterministic=True)
    bp_bytes = bytes(bp_message)
    assert bp_bytes == pb_bytes
    assert type(pb_message).FromString(bp_bytes) == pb_message
    assert type(bp_message).parse(pb_bytes) == bp_message


# The first draw of st.text() in a fresh checkout builds Hypothesis's Unicode tables.
unicode_tables = settings(suppress_health_check=[HealthCheck.too_slow])


@unicode_tables
@given(trees(pb.ClientFrame.DESCRIPTOR))
def test_client_frames_are_byte_compatible(tree: Tree) -> None:
    check_both_ways(tree, pb.ClientFrame.DESCRIPTOR)


@unicode_tables
@given(trees(pb.ServerFrame.DESCRIPTOR))
def test_server_frames_are_byte_compatible(tree: Tree) -> None:
    check_both_ways(tree, pb.ServerFrame.DESCRIPTOR)
