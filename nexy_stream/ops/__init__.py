"""What operators see while the server runs: metrics, the admin feed, session-end logs.

Everything here is fed by one session observer (:mod:`nexy_stream.ops.lifecycle`); no
transport knows about it.
"""
