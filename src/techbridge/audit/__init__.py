"""The audit log (审计日志): who did what to which record, and what changed.

Every domain writes here through :func:`record`; nothing here imports a domain, so any
domain may. Entries are append-only. Who acted is a typed :class:`Actor`, never a string to
be parsed.
"""

from techbridge.audit.actor import Actor, ActorKind
from techbridge.audit.models import AuditEntry
from techbridge.audit.service import last_at, page, record, trail

__all__ = ["Actor", "ActorKind", "AuditEntry", "last_at", "page", "record", "trail"]
