"""A docking's files: only PDF, DOCX, PNG and JPEG by content, not empty, not above the
limit (``TECHBRIDGE_ATTACHMENT_MAX_BYTES``), stored once by SHA-256 under the data
directory, and served as downloads to the parties, the tech manager and administrators."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

import factories
from factories import bearer
from support import TestClient, committed
from techbridge.config import Settings
from techbridge.deals.models import Attachment

from .conftest import PDF, World, ask

BASE = "/api/v1/dockings"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200  # a Windows program


def docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return buffer.getvalue()


def accepted(client: TestClient, database_url: str, world: World) -> int:
    """A docking of the public demand and the lab's offer, accepted by the lab."""
    asked = ask(client, bearer(database_url, world.demander), world.public_demand, world.offer)
    docking_id: int = asked.json()["docking_id"]
    body = {"action": "accept", "version": 1}
    supplier = bearer(database_url, world.supplier)
    assert client.post(f"{BASE}/{docking_id}/moves", json=body, headers=supplier).status_code == 200
    return docking_id


def upload(
    client: TestClient,
    headers: dict[str, str],
    docking_id: int,
    content: bytes,
    name: str = "合同.pdf",
    media_type: str = "application/pdf",
    **data: Any,
) -> Any:
    return client.post(
        f"{BASE}/{docking_id}/attachments",
        files={"file": (name, content, media_type)},
        data={"purpose": "contract", **data},
        headers=headers,
    )


def stored_files(settings: Settings) -> list[Path]:
    root = settings.attachments_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_files_are_kept_by_content_and_served_to_the_docking_only(
    client: TestClient, database_url: str, world: World, settings: Settings
) -> None:
    docking_id = accepted(client, database_url, world)
    supplier = bearer(database_url, world.supplier)
    for content, name, media_type in (
        (PDF, "合同.pdf", "application/pdf"),
        (
            docx(),
            "纪要.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (PNG, "照片.png", "image/png"),
        (JPEG, "扫描.jpg", "image/jpeg"),
    ):
        # The name and the claimed type are ignored: the content decides.
        sent = upload(client, supplier, docking_id, content, name, "application/octet-stream")
        assert sent.status_code == 201, sent.text
        assert (sent.json()["media_type"], sent.json()["original_name"]) == (media_type, name)
    again = upload(client, supplier, docking_id, PDF, "副本.pdf")
    assert again.status_code == 201
    digest = hashlib.sha256(PDF).hexdigest()
    assert again.json()["sha256"] == digest
    # Stored once by its digest, at attachments/ab/cdef….
    files = stored_files(settings)
    assert len(files) == 4
    assert settings.attachments_dir / digest[:2] / digest[2:] in files

    url = f"{BASE}/{docking_id}/attachments/{again.json()['id']}"
    for user_id in (world.demander, world.supplier, world.admin):
        got = client.get(url, headers=bearer(database_url, user_id))
        assert got.status_code == 200 and got.content == PDF
        assert got.headers["content-disposition"].startswith("attachment;")
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-type"] == "application/pdf"
    for user_id in (world.outsider, world.operator, world.manager):
        assert client.get(url, headers=bearer(database_url, user_id)).status_code == 404
    assert client.get(url).status_code == 401
    # A file of another docking is not reached through this one.
    other = ask(client, bearer(database_url, world.demander), world.secret_demand, world.offer)
    other_url = f"{BASE}/{other.json()['docking_id']}/attachments/{again.json()['id']}"
    assert client.get(other_url, headers=bearer(database_url, world.demander)).status_code == 404
    # Nor can the rival or an anonymous caller upload.
    rival = bearer(database_url, world.outsider)
    assert upload(client, rival, docking_id, PDF).status_code == 404
    assert upload(client, {}, docking_id, PDF).status_code == 401


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (EXE, "contract.pdf"),  # a renamed program posing as a PDF
        (plain_zip(), "contract.docx"),  # a ZIP that is no Word document
        (b"<html><script>alert(1)</script></html>", "page.png"),
        (b"", "empty.pdf"),
    ],
)
def test_what_is_not_an_accepted_file_is_refused_and_nothing_is_kept(
    client: TestClient,
    database_url: str,
    world: World,
    settings: Settings,
    content: bytes,
    name: str,
) -> None:
    docking_id = accepted(client, database_url, world)
    refused = upload(client, bearer(database_url, world.supplier), docking_id, content, name)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "file"
    expected = "empty" if not content else "only PDF, DOCX, PNG and JPEG"
    assert expected in refused.json()["error"]["message"]
    assert stored_files(settings) == []
    with committed(database_url) as session:
        assert session.query(Attachment).count() == 0


def test_a_file_above_the_limit_is_refused(
    database_url: str, world: World, settings: Settings
) -> None:
    limit = 64 * 1024
    with factories.client(settings, attachment_max_bytes=limit) as client:
        docking_id = accepted(client, database_url, world)
        supplier = bearer(database_url, world.supplier)
        just = PDF + b"\x00" * (limit - len(PDF))
        assert upload(client, supplier, docking_id, just).status_code == 201
        over = upload(client, supplier, docking_id, just + b"\x00")
        assert over.status_code == 422
        assert over.json()["error"]["field"] == "file"
        assert (
            "64 KiB" in over.json()["error"]["message"]
            or "65536" in over.json()["error"]["message"]
        )
        # Far above the limit, the body itself is refused before it is read.
        huge = upload(client, supplier, docking_id, PDF + b"\x00" * (9 * 1024 * 1024))
        assert huge.status_code == 413
    assert len(stored_files(settings)) == 1


def test_a_21_mb_file_is_refused_at_the_default_limit(
    client: TestClient, database_url: str, world: World, settings: Settings
) -> None:
    docking_id = accepted(client, database_url, world)
    content = PDF + b"\x00" * (21 * 1000 * 1000)
    refused = upload(client, bearer(database_url, world.supplier), docking_id, content)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "file"
    assert "20 MiB" in refused.json()["error"]["message"]
    assert stored_files(settings) == []


def test_files_open_only_once_both_sides_consented(
    client: TestClient, database_url: str, world: World
) -> None:
    asked = ask(client, bearer(database_url, world.demander), world.public_demand, world.offer)
    refused = upload(client, bearer(database_url, world.demander), asked.json()["docking_id"], PDF)
    assert refused.status_code == 403
