"""Who is calling, as the transports ask it: the owner a call's sessions belong to.

The transports know nothing of credentials (``nexy_stream.auth`` sits beside this
package); the composition root hands them an :data:`Authenticate` that turns a call's
metadata into its :class:`Owner`, or into the error that refuses the call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from nexy_stream.session import ANONYMOUS, Owner, SessionError

Metadata = Iterable[tuple[str, str | bytes]] | None
Authenticate = Callable[[Metadata], Owner | SessionError]


def anyone(_metadata: Metadata) -> Owner:
    """Authentication off: every caller is the anonymous owner."""
    return ANONYMOUS
