"""The README documents every setting and every command (so a reader can trust it)."""

from __future__ import annotations

from pathlib import Path

import typer

from techbridge.cli import app
from techbridge.config import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")


def test_every_setting_is_in_the_readme() -> None:
    missing = [
        f"TECHBRIDGE_{name.upper()}"
        for name in Settings.model_fields
        if f"TECHBRIDGE_{name.upper()}" not in README
    ]
    assert missing == []


def _commands(group: typer.Typer, prefix: str = "techbridge") -> list[str]:
    found = [
        f"{prefix} {command.name or command.callback.__name__}"
        for command in group.registered_commands
    ]  # type: ignore[union-attr]
    for sub in group.registered_groups:
        found += _commands(sub.typer_instance, f"{prefix} {sub.name}")  # type: ignore[arg-type]
    return found


def test_every_command_is_in_the_readme() -> None:
    commands = _commands(app)
    assert "techbridge users add" in commands and "techbridge match batch" in commands
    assert [command for command in commands if command not in README] == []


def test_design_names_every_package() -> None:
    """docs/design.md is the map of the source: a new package (a domain, a core module
    folder) without its line there is not done."""
    design = (Path(__file__).resolve().parents[2] / "docs" / "design.md").read_text("utf-8")
    source = Path(__file__).resolve().parents[2] / "src" / "techbridge"
    packages = sorted(
        path.name
        for path in source.iterdir()
        if (path / "__init__.py").exists() and path.name != "migrations"
    )
    assert {"audit", "authz", "catalog", "web"} <= set(packages)
    assert [
        name for name in packages if f"`{name}`" not in design and f"`{name}/`" not in design
    ] == []
