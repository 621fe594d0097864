"""Checkpoints of the live indexes on disk, derived from the database.

``{index_dir}/checkpoint-{position}-{id}/`` holds, for offers and demands, the lexical index,
the vector index and the digests of the indexed texts, and a manifest naming the outbox
position it covers, its generation (how many rebuilds it descends from: a rebuild
supersedes every checkpoint of an older generation, whatever its position), the embedder,
tokeniser and quantisation that built it (opening it with different ones is refused:
rebuild instead, so vectors of two models never mix) and a checksum of every file.

A checkpoint is written into a staging folder of its own, each file flushed to disk, then
renamed into place in one step and the folder itself flushed: a reader finds a whole
checkpoint or none. A checkpoint that is torn anyway (a crash of the disk, a file cut short)
fails its checksums and is passed over for the newest good one; the outbox replays what the
older one lacks.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from techbridge.catalog.kinds import LISTING_KINDS, ListingKind
from techbridge.errors import Conflict
from techbridge.matching.embedders import CachedEmbedder
from techbridge.matching.engine import Engine
from techbridge.matching.lexical import LexicalIndex, LexicalLayers
from techbridge.matching.lexicon import default_lexicon
from techbridge.matching.tokenize import Tokeniser
from techbridge.matching.vectors import DEFAULT_QUANTISATION, VectorIndex, VectorLayers

MANIFEST = "manifest.json"
VECTORS = "vectors.usearch"
DIGESTS = "digests.npz"
KEEP = 2  # good checkpoints kept: the newest, and one to fall back on
LEGACY_FOLDERS = ("offers", "demands", "offers.new", "demands.new", "offers.old", "demands.old")
_NAME = re.compile(r"^checkpoint-(\d{12,})-([0-9a-f]{8})$")


@dataclass(frozen=True)
class Manifest:
    position: int  # every outbox event up to here is in the checkpoint
    generation: int  # rebuilds it descends from; a higher one supersedes any position
    embedder: str
    tokeniser: str
    quantisation: str
    dim: int
    counts: dict[str, int]
    saved_at: str
    files: dict[str, str] = field(default_factory=dict)  # relative path → SHA-256

    def check(self, engine: Engine, where: Path) -> None:
        wanted = {
            "embedder": engine.embedder.id,
            "tokeniser": engine.tokeniser.id,
            "quantisation": engine.quantisation,
        }
        for name, value in wanted.items():
            if getattr(self, name) != value:
                raise Conflict(
                    f"the index in {where} was built with {name} {getattr(self, name)!r}, "
                    f"this installation uses {value!r}: run `techbridge index rebuild`",
                    field=name,
                )


@dataclass(frozen=True)
class Saved:
    """What a checkpoint holds, once loaded."""

    manifest: Manifest
    engines: dict[ListingKind, Engine]
    digests: dict[ListingKind, dict[int, int]]
    path: Path


def new_engine(embedder: CachedEmbedder) -> Engine:
    return Engine(
        embedder, Tokeniser(), quantisation=DEFAULT_QUANTISATION, lexicon=default_lexicon()
    )


def checkpoints(index_dir: Path) -> list[tuple[Manifest, Path]]:
    """Checkpoints whose manifest can be read, newest first: highest generation, then
    highest position, then latest written. Files are not verified here."""
    if not index_dir.is_dir():
        return []
    found = []
    for entry in index_dir.iterdir():
        if _NAME.match(entry.name) and entry.is_dir():
            manifest = _read_manifest(entry, verify=False)
            if manifest is not None:
                found.append((manifest, entry.stat().st_mtime_ns, entry))
    found.sort(key=lambda item: (-item[0].generation, -item[0].position, -item[1]))
    return [(manifest, path) for manifest, _, path in found]


def newest(index_dir: Path) -> tuple[str, int, int, str] | None:
    """(folder, generation, position, saved_at) of the newest checkpoint, unverified."""
    found = checkpoints(index_dir)
    if not found:
        return None
    manifest, path = found[0]
    return path.name, manifest.generation, manifest.position, manifest.saved_at


def load(index_dir: Path, embedder: CachedEmbedder) -> Saved | None:
    """The newest good checkpoint that this installation can read, or None when there is
    none. Torn ones (files that fail their checksums, or vanish while read because another
    process pruned them) are passed over; one built by another embedder too, and if no
    other is left the refusal says to rebuild."""
    refused: Conflict | None = None
    for manifest, path in checkpoints(index_dir):
        if _read_manifest(path) is None:
            continue
        try:
            manifest.check(new_engine(embedder), path)
            return _load(manifest, path, embedder)
        except Conflict as error:
            refused = refused or error
        except (OSError, ValueError, KeyError):
            continue
    if refused is not None:
        raise refused
    return None


def _load(manifest: Manifest, path: Path, embedder: CachedEmbedder) -> Saved:
    engines: dict[ListingKind, Engine] = {}
    digests: dict[ListingKind, dict[int, int]] = {}
    for kind in LISTING_KINDS:
        engine = new_engine(embedder)
        engine.lexical = LexicalLayers(LexicalIndex.load(path / kind))
        engine.vectors = VectorLayers(
            VectorIndex.load(path / kind / VECTORS, manifest.dim, manifest.quantisation)
        )
        engines[kind] = engine
        with np.load(path / kind / DIGESTS) as arrays:
            digests[kind] = dict(
                zip(arrays["keys"].tolist(), arrays["digests"].tolist(), strict=True)
            )
    return Saved(manifest, engines, digests, path)


def save(
    index_dir: Path,
    engines: dict[ListingKind, Engine],
    digests: dict[ListingKind, dict[int, int]],
    *,
    position: int,
    generation: int,
) -> Path:
    """Write a checkpoint of fully compacted ``engines``; older ones beyond ``KEEP`` go."""
    index_dir.mkdir(parents=True, exist_ok=True)
    staging = index_dir / f".staging-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        for kind, engine in engines.items():
            folder = staging / kind
            engine.lexical.base.save(folder)
            engine.vectors.base.save(folder / VECTORS)
            keys = np.fromiter(digests[kind], dtype=np.int64, count=len(digests[kind]))
            values = np.fromiter(digests[kind].values(), dtype=np.int64, count=len(keys))
            np.savez(folder / DIGESTS, keys=keys, digests=values)
        some = next(iter(engines.values()))
        manifest = Manifest(
            position=position,
            generation=generation,
            embedder=some.embedder.id,
            tokeniser=some.tokeniser.id,
            quantisation=some.quantisation,
            dim=some.vectors.dim,
            counts={kind: len(engine) for kind, engine in engines.items()},
            saved_at=datetime.now(UTC).isoformat(timespec="seconds"),
            files={name: _sha256(staging / name) for name in _files(staging)},
        )
        for name in manifest.files:
            _fsync(staging / name)
        (staging / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2), encoding="utf-8")
        _fsync(staging / MANIFEST)
        for kind in engines:
            _fsync(staging / kind)
        _fsync(staging)
        final = index_dir / f"checkpoint-{position:012d}-{uuid.uuid4().hex[:8]}"
        staging.rename(final)
        _fsync(index_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _prune(index_dir, keep=final)
    return final


def _prune(index_dir: Path, keep: Path) -> None:
    """Drop torn checkpoints, stale staging folders of dead writers and all but ``KEEP``
    good checkpoints (the caller holds the writer's lock, so no staging folder is live)."""
    for entry in index_dir.glob(".staging-*"):
        shutil.rmtree(entry, ignore_errors=True)
    for legacy in LEGACY_FOLDERS:  # the layout before checkpoints, replaced by the first one
        shutil.rmtree(index_dir / legacy, ignore_errors=True)
    readable = checkpoints(index_dir)
    for entry in index_dir.iterdir():
        if _NAME.match(entry.name) and entry not in {path for _, path in readable}:
            shutil.rmtree(entry, ignore_errors=True)  # its manifest cannot even be read
    good = 0
    for _, path in readable:
        if path == keep or (good < KEEP and _read_manifest(path) is not None):
            good += 1
            continue
        shutil.rmtree(path, ignore_errors=True)


def _read_manifest(path: Path, verify: bool = True) -> Manifest | None:
    try:
        manifest = Manifest(**json.loads((path / MANIFEST).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    if verify:
        for name, digest in manifest.files.items():
            try:
                if _sha256(path / name) != digest:
                    return None
            except OSError:
                return None
    return manifest


def _files(folder: Path) -> Iterator[str]:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield path.relative_to(folder).as_posix()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    """Flush a file or a folder (its entries) to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
