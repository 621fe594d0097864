"""The ``techbridge users`` commands, and the verification mail they queue (both engines)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support import committed
from techbridge.accounts import service as accounts
from techbridge.accounts.schemas import Login
from techbridge.cli import app as cli
from techbridge.web.auth import check_login

from .conftest import NEW_PASSWORD


def test_users_commands(
    env: dict[str, str], database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    runner = CliRunner()
    added = runner.invoke(
        cli,
        [
            "users",
            "add",
            "Admin@TechBridge.example",
            "--name",
            "Admin",
            "--role",
            "administrator",
            "--verified",
            "--if-missing",
        ],
    )
    assert added.exit_code == 0, added.output
    password = re.search(r"^password: (\S+)$", added.output, re.MULTILINE)
    assert password and len(password.group(1)) >= 20
    with committed(database_url) as session:
        context = accounts.Context(base_url="http://x")
        data = Login(email="admin@techbridge.example", password=password.group(1))
        admin = check_login(session, data, context)
        assert admin is not None and admin.roles == ["administrator"]

    again = runner.invoke(
        cli, ["users", "add", "admin@techbridge.example", "--name", "Admin", "--if-missing"]
    )
    assert again.exit_code == 0 and "already exists" in again.output
    assert "password" not in again.output
    duplicate = runner.invoke(cli, ["users", "add", "admin@techbridge.example", "--name", "A"])
    assert duplicate.exit_code == 5 and "already exists" in duplicate.output

    chosen = runner.invoke(
        cli,
        [
            "users",
            "add",
            "wang@example.com",
            "--name",
            "王工",
            "--role",
            "demander",
            "--organisation",
            "新材料有限公司",
            "--password-stdin",
        ],
        input=f"{NEW_PASSWORD}\n",
    )
    assert chosen.exit_code == 0, chosen.output
    assert "password:" not in chosen.output and "verification link is queued" in chosen.output
    short = runner.invoke(
        cli, ["users", "add", "x@example.com", "--name", "X", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 2 and "password" in short.output
    # email-validator refuses special-use domains such as .local: the login form would too.
    local = runner.invoke(cli, ["users", "add", "admin@techbridge.local", "--name", "A"])
    assert local.exit_code == 2 and "not an e-mail address" in local.output
    bad_role = runner.invoke(
        cli, ["users", "add", "x@example.com", "--name", "X", "--role", "king"]
    )
    assert bad_role.exit_code == 2 and "unknown role" in bad_role.output

    granted = runner.invoke(cli, ["users", "grant", "wang@example.com", "tech_manager"])
    assert granted.exit_code == 0 and "demander, tech_manager" in granted.output
    revoked = runner.invoke(cli, ["users", "revoke", "wang@example.com", "demander"])
    assert revoked.exit_code == 0
    missing = runner.invoke(cli, ["users", "grant", "ghost@example.com", "demander"])
    assert missing.exit_code == 3

    listed = runner.invoke(cli, ["users", "list", "--json"])
    assert listed.exit_code == 0
    users = {user["email"]: user for user in json.loads(listed.output)}
    assert users["wang@example.com"]["roles"] == ["tech_manager"]
    assert users["wang@example.com"]["organisation_id"] is not None
    assert users["wang@example.com"]["email_verified_at"] is None
    assert "王工" in runner.invoke(cli, ["users", "list"]).output

    # No SMTP server configured: the queued verification mail becomes an .eml file, and its
    # link is logged (the console is how a demo user gets it).
    with caplog.at_level("WARNING", logger="techbridge.mail"):
        sent = runner.invoke(cli, ["mail", "send"])
    assert sent.exit_code == 0 and "mail: 1 sent, 0 waiting" in sent.output
    (eml,) = (Path(env["TECHBRIDGE_DATA_DIR"]) / "mail").glob("*.eml")
    assert "wang@example.com" in eml.read_text()
    assert "/verify?token=" in caplog.text
