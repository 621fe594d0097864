"""``techbridge import …`` and ``techbridge export …``: JSON Lines in and out of the catalog."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from techbridge.authz import SYSTEM
from techbridge.catalog import service
from techbridge.catalog.jsonl import read_records, write_records
from techbridge.catalog.kinds import ListingKind
from techbridge.catalog.schemas import DemandRecord, OfferRecord
from techbridge.cli_support import console, err_console, progress_bar, session_scope

import_app = typer.Typer(help="Import offers or demands from JSON Lines (.jsonl or .jsonl.gz).")
export_app = typer.Typer(help="Export offers or demands as JSON Lines, in the import format.")

FileArgument = Annotated[
    Path,
    typer.Argument(
        help="A .jsonl or .jsonl.gz file, one listing per line (docs/design.md, Data formats)."
    ),
]


def _import(
    ctx: typer.Context,
    path: Path,
    kind: ListingKind,
    record_model: type[OfferRecord] | type[DemandRecord],
    importer: Callable[..., service.ImportResult],
) -> None:
    with progress_bar() as bar:
        size = path.stat().st_size if path.exists() and path.suffix != ".gz" else None
        reading = bar.add_task(f"checking {path.name}", total=size)
        records = read_records(path, record_model, progress=lambda n: bar.advance(reading, n))
        bar.update(reading, completed=size or 1, total=size or 1)
        writing = bar.add_task(f"importing {kind}", total=len(records))
        with session_scope(ctx) as session:
            result = importer(session, SYSTEM, records, progress=lambda n: bar.advance(writing, n))
    console.print(
        f"{kind}: {result.created} created, {result.updated} updated, "
        f"{result.unchanged} unchanged; {result.organisations_created} organisations created"
    )


@import_app.command("offers")
def import_offers(ctx: typer.Context, file: FileArgument) -> None:
    """Import offers (技术供给). Upserts by (source, id); a bad line rejects the whole file."""
    _import(ctx, file, ListingKind.OFFER, OfferRecord, service.import_offers)


@import_app.command("demands")
def import_demands(ctx: typer.Context, file: FileArgument) -> None:
    """Import demands (技术需求). Upserts by (source, id); a bad line rejects the whole file."""
    _import(ctx, file, ListingKind.DEMAND, DemandRecord, service.import_demands)


OutOption = Annotated[
    Path | None, typer.Option("--out", "-o", help="Write to this file instead of standard output.")
]
AllOption = Annotated[
    bool,
    typer.Option(
        "--all",
        help="Include drafts, withdrawn and confidential listings (operators only: the file then "
        "holds confidential text).",
    ),
]


def _export(ctx: typer.Context, kind: ListingKind, out: Path | None, include_all: bool) -> None:
    exporter = service.export_offers if kind is ListingKind.OFFER else service.export_demands
    with session_scope(ctx) as session:
        lines = exporter(session, public_only=not include_all)
        if out is None:
            count = write_records(sys.stdout, lines)
        else:
            with out.open("w", encoding="utf-8") as handle:
                count = write_records(handle, lines)
    err_console.print(f"{count} {kind} exported")


@export_app.command("offers")
def export_offers(
    ctx: typer.Context, out: OutOption = None, include_all: AllOption = False
) -> None:
    """Export offers; by default only published ones."""
    _export(ctx, ListingKind.OFFER, out, include_all)


@export_app.command("demands")
def export_demands(
    ctx: typer.Context, out: OutOption = None, include_all: AllOption = False
) -> None:
    """Export demands; by default only published, non-confidential ones."""
    _export(ctx, ListingKind.DEMAND, out, include_all)
