"""Who acted, as the audit log records it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar


class ActorKind(StrEnum):
    USER = "user"  # a logged-in user (a browser session or one of their API tokens)
    IP = "ip"  # someone not logged in, known only by their address (a failed login, a sign-up)
    OPERATOR = "operator"  # the installation's operator, at the command line


@dataclass(frozen=True)
class Actor:
    """Build one with :meth:`user`, :meth:`ip` or use :attr:`OPERATOR`."""

    kind: ActorKind
    user_id: int | None = None
    address: str | None = None

    OPERATOR: ClassVar[Actor]

    def __post_init__(self) -> None:
        expected = (self.kind is ActorKind.USER, self.kind is ActorKind.IP)
        if (self.user_id is not None, self.address is not None) != expected:
            raise ValueError(f"an actor of kind {self.kind} takes exactly its own identifier")

    @classmethod
    def user(cls, user_id: int) -> Actor:
        return cls(ActorKind.USER, user_id=user_id)

    @classmethod
    def ip(cls, address: str) -> Actor:
        return cls(ActorKind.IP, address=address)

    def __str__(self) -> str:
        """The label lists and the JSON API show: ``user:7``, ``ip:203.0.113.9``, ``operator``."""
        if self.kind is ActorKind.USER:
            return f"user:{self.user_id}"
        if self.kind is ActorKind.IP:
            return f"ip:{self.address}"
        return "operator"


Actor.OPERATOR = Actor(ActorKind.OPERATOR)
