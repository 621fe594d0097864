"""Live indexes on disk, one engine per listing kind, derived from the database.

``{index_dir}/{offers|demands}/`` holds the lexical index, the vector index and a manifest
naming the embedder, tokeniser and quantisation that built them; opening an index with
different ones is refused (rebuild instead), so vectors of two models never mix.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from techbridge.errors import Conflict
from techbridge.matching.embedders import CachedEmbedder
from techbridge.matching.engine import Engine
from techbridge.matching.lexical import LexicalIndex
from techbridge.matching.lexicon import default_lexicon
from techbridge.matching.tokenize import Tokeniser
from techbridge.matching.vectors import DEFAULT_QUANTISATION, VectorIndex

IndexKind = Literal["offers", "demands"]
INDEX_KINDS: tuple[IndexKind, ...] = ("offers", "demands")
MANIFEST = "manifest.json"
VECTORS = "vectors.usearch"


@dataclass(frozen=True)
class Manifest:
    embedder: str
    tokeniser: str
    quantisation: str
    dim: int
    count: int
    built_at: str

    def check(self, engine: Engine, where: Path) -> None:
        wanted = {
            "embedder": engine.embedder.id,
            "tokeniser": engine.tokeniser.id,
            "quantisation": engine.vectors.quantisation,
        }
        for name, value in wanted.items():
            if getattr(self, name) != value:
                raise Conflict(
                    f"the index in {where} was built with {name} {getattr(self, name)!r}, "
                    f"this installation uses {value!r}: run `techbridge index rebuild`",
                    field=name,
                )


def new_engine(embedder: CachedEmbedder) -> Engine:
    return Engine(
        embedder, Tokeniser(), quantisation=DEFAULT_QUANTISATION, lexicon=default_lexicon()
    )


def load(directory: Path, embedder: CachedEmbedder) -> Engine | None:
    """The saved engine, or None when nothing has been built yet."""
    manifest_path = directory / MANIFEST
    if not manifest_path.exists():
        return None
    engine = new_engine(embedder)
    manifest = Manifest(**json.loads(manifest_path.read_text(encoding="utf-8")))
    manifest.check(engine, directory)
    engine.lexical = LexicalIndex.load(directory)
    engine.vectors = VectorIndex.load(directory / VECTORS, manifest.dim, manifest.quantisation)
    return engine


def version(directory: Path) -> tuple[int, int] | None:
    """Identifies the index on disk now (its manifest's inode and change time): another
    process that saves the index changes it, so a server can tell its copy is stale."""
    try:
        found = (directory / MANIFEST).stat()
    except FileNotFoundError:
        return None
    return found.st_ino, found.st_mtime_ns


def save(engine: Engine, directory: Path) -> None:
    """Write to a sibling folder, then swap it in, so a reader never sees half an index."""
    staging = directory.with_name(directory.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    engine.lexical.save(staging)
    engine.vectors.save(staging / VECTORS)
    manifest = Manifest(
        embedder=engine.embedder.id,
        tokeniser=engine.tokeniser.id,
        quantisation=engine.vectors.quantisation,
        dim=engine.vectors.dim,
        count=len(engine),
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    (staging / MANIFEST).write_text(json.dumps(manifest.__dict__, indent=2), encoding="utf-8")
    retired = directory.with_name(directory.name + ".old")
    shutil.rmtree(retired, ignore_errors=True)
    if directory.exists():
        directory.rename(retired)
    staging.rename(directory)
    shutil.rmtree(retired, ignore_errors=True)
