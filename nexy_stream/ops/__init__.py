"""What operators see while the server runs: metrics, the admin feed, session-end logs.

Everything here is fed by one session observer (:mod:`nexy_stream.ops.lifecycle`); no
transport knows about it.
"""

# The server package assembles these modules into every server, and they import parts of
# it: load it first, so that importing an ops module on its own does not run in a circle.
import nexy_stream.server  # noqa: F401
