"""Contract and meeting files of a docking.

Only PDF, DOCX, PNG and JPEG are kept, recognised by their content (magic bytes; a DOCX is
a ZIP holding ``[Content_Types].xml`` and ``word/``), never by the name or the type the
client claims. An upload is copied in chunks to a temporary file while it is hashed and
counted, and refused as soon as it passes the limit; the bytes are then stored once under
``<data dir>/attachments/ab/cdef…`` by their SHA-256 and the name given is kept as
metadata. Files are served only to the docking's parties, its tech manager and
administrators.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from techbridge import audit
from techbridge.authz import Principal, require
from techbridge.authz import deals as rules
from techbridge.deals.models import Attachment, Meeting
from techbridge.deals.schemas import AttachmentPurpose
from techbridge.deals.service.dockings import get_docking
from techbridge.errors import Invalid, NotFound

CHUNK = 1024 * 1024
MAX_NAME = 255
ACCEPTED = "only PDF, DOCX, PNG and JPEG files are accepted"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


@dataclass(frozen=True)
class FileStore:
    """Where files go and how large one may be (from the settings, at the edge)."""

    root: Path  # <data dir>/attachments
    max_bytes: int

    def path_of(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:]


def media_type_of(path: Path) -> str | None:
    """The media type the content shows, or None when it is none of the accepted ones."""
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError):
            return None
        if "[Content_Types].xml" in names and any(name.startswith("word/") for name in names):
            return DOCX
    return None


def clean_name(name: str | None) -> str:
    """The name given, as metadata: its last part, without control characters, at most
    255 characters."""
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", name or ""))[-1]
    cleaned = _UNSAFE.sub("", base).strip()
    return cleaned[:MAX_NAME] or "file"


def upload_attachment(
    session: Session,
    principal: Principal,
    docking_id: int,
    store: FileStore,
    *,
    stream: BinaryIO,
    filename: str | None,
    purpose: AttachmentPurpose,
    meeting_id: int | None = None,
) -> Attachment:
    docking = get_docking(session, principal, docking_id)
    require(rules.can_upload(principal, docking), principal, "add files to this docking")
    if meeting_id is not None:
        meeting = session.get(Meeting, meeting_id)
        if meeting is None or meeting.docking_id != docking.id:
            raise Invalid(f"meeting {meeting_id} is not one of this docking's", field="meeting_id")
        if purpose != "meeting":
            raise Invalid("a file of a meeting has the purpose 'meeting'", field="purpose")
    sha256, size, media_type, temporary = _receive(store, stream)
    try:
        target = store.path_of(sha256)
        if target.exists():
            temporary.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    attachment = Attachment(
        docking_id=docking.id,
        meeting_id=meeting_id,
        purpose=purpose,
        sha256=sha256,
        size=size,
        media_type=media_type,
        original_name=clean_name(filename),
        uploaded_by=principal.user_id,
    )
    session.add(attachment)
    session.flush()
    audit.record(
        session,
        principal.actor,
        action="docking_attachment",
        entity_type="docking",
        entity_id=docking.id,
        changes={"attachment_id": attachment.id, "sha256": sha256, "size": size},
    )
    return attachment


def _receive(store: FileStore, stream: BinaryIO) -> tuple[str, int, str, Path]:
    """Copy the upload to a temporary file, hashing and counting, refusing it mid-stream
    once it passes the limit; then check what its content is."""
    spool = store.root / "incoming"
    spool.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    handle = tempfile.NamedTemporaryFile(dir=spool, delete=False)  # noqa: SIM115
    temporary = Path(handle.name)
    try:
        with handle:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > store.max_bytes:
                    raise Invalid(
                        f"the file is larger than the limit of {_size(store.max_bytes)}",
                        field="file",
                    )
                digest.update(chunk)
                handle.write(chunk)
        if size == 0:
            raise Invalid("the file is empty", field="file")
        media_type = media_type_of(temporary)
        if media_type is None:
            raise Invalid(f"{ACCEPTED} (checked by content, not by name)", field="file")
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return digest.hexdigest(), size, media_type, temporary


def _size(count: int) -> str:
    if count % (1024 * 1024) == 0:
        return f"{count // (1024 * 1024)} MiB"
    return f"{count} bytes"


def open_attachment(
    session: Session, principal: Principal, docking_id: int, attachment_id: int, store: FileStore
) -> tuple[Attachment, Path]:
    """The file and where its bytes are, for those who may download it; for anyone else it
    does not exist."""
    docking = get_docking(session, principal, docking_id)
    attachment = session.get(Attachment, attachment_id)
    if (
        attachment is None
        or attachment.docking_id != docking.id
        or not rules.can_download(principal, docking)
    ):
        raise NotFound(f"file {attachment_id} does not exist", field="attachment_id")
    path = store.path_of(attachment.sha256)
    if not path.is_file():
        raise NotFound(f"the bytes of file {attachment_id} are missing", field="attachment_id")
    return attachment, path
