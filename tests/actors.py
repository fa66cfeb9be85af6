"""Session actors opened the way a host opens them: the open frame, then admission."""

from __future__ import annotations

from nexy_stream.session import Accept, Admit, Admitted, Open, SessionActor


def admit(actor: SessionActor, opening: Open, now: float = 0.0) -> Accept:
    """Opens ``actor`` with ``opening`` and admits it, as a host with room does."""
    assert isinstance(actor.handle(opening, now), Admit)
    accepted = actor.handle(Admitted(), now)
    assert isinstance(accepted, Accept)
    return accepted
