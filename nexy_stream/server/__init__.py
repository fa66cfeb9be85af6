"""The thin I/O layer that hosts session actors on gRPC calls.

Assembling a whole server (legacy endpoint, operations, health) is the composition root's
job: :mod:`nexy_stream.app`.
"""
