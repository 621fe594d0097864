"""Embeddings cached by content hash, so unchanged text is never embedded twice.

The key is a hash of (embedder id, role, exact text): a different model, prefix or text is a
different key. The store is a SQLite file beside the indexes; several processes may fill it
at once (WAL), which is how a long build is split over cores and resumed after a stop.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SCHEMA = "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)"


def content_key(embedder_id: str, role: str, text: str) -> bytes:
    return hashlib.blake2b(f"{embedder_id}\x00{role}\x00{text}".encode(), digest_size=16).digest()


class EmbeddingCache:
    def __init__(self, path: Path, dim: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.dim = dim
        self._db = sqlite3.connect(path, timeout=60, check_same_thread=False)
        # One connection serves every thread of a server (requests embed queries while the
        # indexer embeds listings): the sqlite3 module does not serialise transactions on a
        # shared connection ("cannot commit - no transaction is active", and worse).
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk
                ).fetchall()
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, items: dict[bytes, np.ndarray]) -> None:
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)",
                [(key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in items.items()],
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
