"""A ranking that learns: a LightGBM ``lambdarank`` reranker over what the engine computes.

The hand-tuned pipeline (``engine``, then ``rerank``'s structured bonuses) ranks first; a
learned ranker, once it exists and has seen enough judged queries
(``TECHBRIDGE_RANKER_MIN_QUERIES``) and ordered the newest of them at least as well as the
hand-tuned ranking (``train_checked``), reorders its top ``RERANK_DEPTH``. Otherwise, or when
the model file was built for other features, the hand-tuned ranking stays.

Features (one row per candidate, see ``text_features`` and ``structured_features``):

- from the engine's ``Scored`` hit: the cosine (``dense``), the neighbours' agreement, the
  lexical share, the standout, the calibrated quality, the fused score, the repetition
  check, whether the listing is in the query's language, and the hit's rank in the
  hand-tuned list; and the same signals relative to the list (gap to the best, z-score
  within the list), so one model reads queries of any length and language;
- live only, from the listings: tag / IPC overlap, the same district, TRL, recency and the
  organisation's kind. Batch evaluation leaves them out (in evaluation sets tags are the very
  labels that define relevance), so the benchmark's model has ``TEXT_FEATURES`` only.

Judgements are graded (``GRADES``): a signed docking 3, an accepted one 2, a match marked
relevant 1; a match marked not relevant, or a docking closed lost for technical fit, 0.

The model file (JSON, written atomically) holds the LightGBM model text and what it was
built from: its feature list, how many queries and pairs it learned from, when, and the
training settings. ``Ranker.load`` refuses a model whose feature list is not the one asked
for (``RankerMismatch``).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, get_args

import lightgbm
import numpy as np

from techbridge.catalog.schemas import OrganisationKind
from techbridge.errors import Invalid, Misconfigured
from techbridge.matching.engine import Query, Scored
from techbridge.matching.rerank import Signals, normalise_tag

log = logging.getLogger(__name__)

FORMAT = "techbridge-ranker/1"
RERANK_DEPTH = 50  # the hand-tuned pipeline's top this many are reordered

# Grades of the judgements the ranker learns from (higher is better).
GRADES = {
    "signed": 3,  # a docking signed
    "accepted": 2,  # an introduction accepted by both sides
    "relevant": 1,  # a suggested match marked relevant
    "not_relevant": 0,  # marked not relevant
    "closed_lost_fit": 0,  # a docking closed lost for technical fit
}
MAX_GRADE = max(GRADES.values())

TEXT_FEATURES: tuple[str, ...] = (
    "dense",
    "neighbours",
    "lexical",
    "standout",
    "quality",
    "score",
    "repetition",
    "same_language",
    "rank",
    "score_gap",
    "dense_gap",
    "neighbours_gap",
    "lexical_gap",
    "dense_z",
    "neighbours_z",
    "lexical_z",
    "best_lexical",
    "known",
    "query_terms",
)
# Organisation kinds as numbers (a tree splits on them like categories).
ORGANISATION_KINDS = {
    kind: number for number, kind in enumerate(get_args(OrganisationKind), start=1)
}  # 0: no organisation or no kind
STRUCTURED_FEATURES: tuple[str, ...] = (
    "tag_overlap",
    "same_district",
    "trl",
    "recency",
    "organisation_kind",
)
LIVE_FEATURES = TEXT_FEATURES + STRUCTURED_FEATURES


class RankerMismatch(Misconfigured):
    """The model file was built for other features than the ones asked for."""


def _z(values: np.ndarray) -> np.ndarray:
    spread = float(values.std())
    return (values - values.mean()) / (spread or 1.0)


def text_features(query: Query, hits: Sequence[Scored]) -> list[dict[str, float]]:
    """One row per hit, in the hand-tuned order (``rank`` counts from 1)."""
    if not hits:
        return []
    dense = np.asarray([hit.dense for hit in hits])
    neighbours = np.asarray([hit.neighbours for hit in hits])
    lexical = np.asarray([hit.lexical for hit in hits])
    best_score = max(hit.score for hit in hits)
    columns = {"dense_z": _z(dense), "neighbours_z": _z(neighbours), "lexical_z": _z(lexical)}
    rows = []
    for rank, hit in enumerate(hits, start=1):
        index = rank - 1
        rows.append(
            {
                "dense": hit.dense,
                "neighbours": hit.neighbours,
                "lexical": hit.lexical,
                "standout": hit.standout,
                "quality": hit.quality,
                "score": hit.score,
                "repetition": hit.repetition,
                "same_language": float(hit.language in ("", query.language)),
                "rank": float(rank),
                "score_gap": best_score - hit.score,
                "dense_gap": float(dense.max() - hit.dense),
                "neighbours_gap": float(neighbours.max() - hit.neighbours),
                "lexical_gap": float(lexical.max() - hit.lexical),
                **{name: float(values[index]) for name, values in columns.items()},
                "best_lexical": float(lexical.max()),
                "known": hit.features.get("known", 0.0),
                "query_terms": float(len(set(query.tokens))),
            }
        )
    return rows


def structured_features(
    query: Signals, candidate: Signals, organisation_kind: str | None, today: date
) -> dict[str, float]:
    """What the listings say beyond their text (live only)."""
    left = {normalise_tag(tag) for tag in query.tags}
    right = {normalise_tag(tag) for tag in candidate.tags}
    union = left | right
    age = None
    if candidate.listed_on is not None:
        age = max(0.0, (today - candidate.listed_on).days / 365.25)
    return {
        "tag_overlap": len(left & right) / len(union) if union else 0.0,
        "same_district": float(bool(query.district) and query.district == candidate.district),
        "trl": float(candidate.trl) if candidate.trl is not None else float("nan"),
        "recency": float("nan") if age is None else max(0.0, 1 - age / 5),
        "organisation_kind": float(ORGANISATION_KINDS.get(organisation_kind or "", 0)),
    }


@dataclass(frozen=True)
class TrainingSettings:
    """LightGBM settings, chosen once on the dev clicks of ``cn_patents`` (three click
    seeds; docs/benchmarks.md) and the same for every set: small trees and few rounds, since
    a few hundred judged queries teach little, starting from the hand-tuned order."""

    rounds: int = 100
    learning_rate: float = 0.03
    leaves: int = 3
    min_rows_in_leaf: int = 50
    truncation: int = 20  # lambdarank_truncation_level
    seed: int = 7
    position_debiasing: bool = True  # learn the clicks' position bias (LightGBM ≥ 4.1)
    # The trees learn corrections to the hand-tuned order, not an order from nothing: every
    # candidate starts from −prior × ln(its hand-tuned rank) (0: no prior).
    prior: float = 3.0


@dataclass
class Group:
    """One judged query: its candidates' feature rows, their grades, and where each was
    shown (1 = first; for position debiasing)."""

    rows: list[dict[str, float]]
    grades: list[int]
    positions: list[int] = field(default_factory=list)

    @property
    def informative(self) -> bool:
        """Only a query whose candidates differ in grade teaches an order."""
        return len(set(self.grades)) > 1


@dataclass
class Ranker:
    booster: Any  # lightgbm.Booster
    features: tuple[str, ...]
    meta: dict[str, Any]

    @property
    def queries(self) -> int:
        return int(self.meta.get("queries", 0))

    @property
    def checked(self) -> bool:
        """Whether it ordered the newest judged queries at least as well as the hand-tuned
        ranking (``train_checked``); a model trained without the check counts as checked."""
        return bool(self.meta.get("check", {}).get("passed", True))

    def matrix(self, rows: Sequence[dict[str, float]]) -> np.ndarray:
        return _matrix(rows, self.features)

    def scores(self, rows: Sequence[dict[str, float]]) -> np.ndarray:
        if not rows:
            return np.zeros(0)
        learned = np.asarray(self.booster.predict(self.matrix(rows), num_threads=1))
        return learned + _prior(rows, float(self.meta.get("settings", {}).get("prior", 0.0)))

    def order(self, rows: Sequence[dict[str, float]]) -> list[int]:
        """Indexes of ``rows`` best first (ties keep the hand-tuned order)."""
        scores = self.scores(rows)
        return sorted(range(len(rows)), key=lambda index: (-scores[index], index))

    # --- the model file ------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "features": list(self.features),
            **self.meta,
            "model": self.booster.model_to_string(),
        }

    def save(self, path: Path) -> None:
        """Written to a temporary file and renamed: a reader never sees half a model."""
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".ranker-", suffix=".json")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(self.to_json(), out, ensure_ascii=False)
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: Path, features: Sequence[str]) -> Ranker:
        """The model at ``path``; ``RankerMismatch`` when it was built for other features
        than ``features`` (in that order), ``Misconfigured`` when it is not a model file."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise Misconfigured(f"cannot read the ranker model {path}: {error}") from error
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise Misconfigured(f"{path} is not a {FORMAT} model file")
        built_for = tuple(data.get("features", ()))
        if built_for != tuple(features):
            missing = sorted(set(features) - set(built_for))
            extra = sorted(set(built_for) - set(features))
            raise RankerMismatch(
                f"the ranker model {path} was built for other features "
                f"(missing {missing or 'none'}, extra {extra or 'none'}"
                f"{', other order' if not missing and not extra else ''}); retrain it with "
                "`techbridge match train`"
            )
        try:
            booster = lightgbm.Booster(model_str=data["model"])
        except (KeyError, TypeError, lightgbm.basic.LightGBMError) as error:
            raise Misconfigured(f"{path} holds no readable LightGBM model: {error}") from error
        meta = {
            key: value for key, value in data.items() if key not in ("format", "features", "model")
        }
        return cls(booster, built_for, meta)


def _prior(rows: Sequence[dict[str, float]], weight: float) -> np.ndarray:
    """Where each candidate starts: −weight × ln(its hand-tuned rank)."""
    return -weight * np.log(np.asarray([max(row.get("rank", 1.0), 1.0) for row in rows]))


def _matrix(rows: Sequence[dict[str, float]], features: Sequence[str]) -> np.ndarray:
    return np.asarray(
        [[row.get(name, float("nan")) for name in features] for row in rows], dtype=np.float64
    )


HOLDOUT = 0.2  # the newest share of judged queries a model is checked on before it is used
CHECK_AT = 10


def ndcg(grades: Sequence[int], order: Sequence[int], k: int = CHECK_AT) -> float:
    """nDCG@k of the candidates in ``order`` (indexes into ``grades``), gains 2^grade − 1."""
    gains = [2.0**grade - 1 for grade in grades]
    ideal = sorted(gains, reverse=True)[:k]
    best = sum(gain / np.log2(rank + 2) for rank, gain in enumerate(ideal))
    got = sum(gains[index] / np.log2(rank + 2) for rank, index in enumerate(order[:k]))
    return got / best if best else 0.0


def train_checked(
    groups: Sequence[Group],
    features: Sequence[str],
    settings: TrainingSettings | None = None,
    *,
    source: str = "",
) -> Ranker:
    """A model learned from every group, and whether it is fit to use: a model learned from
    the older 80 % of the informative groups (they come in time order) must order the newest
    20 % at least as well as the hand-tuned ranking did (mean nDCG@10 of their judgements).
    A model that fails is still written (with the check's numbers) but never used."""
    kept = [group for group in groups if group.informative]
    cut = round(len(kept) * (1 - HOLDOUT))
    held = kept[cut:]
    check: dict[str, Any] = {"queries": len(held)}
    if cut and held:
        trial = train(kept[:cut], features, settings)
        hand = [ndcg(group.grades, range(len(group.rows))) for group in held]
        learned = [ndcg(group.grades, trial.order(group.rows)) for group in held]
        check |= {
            "hand_tuned_ndcg@10": round(float(np.mean(hand)), 4),
            "learned_ndcg@10": round(float(np.mean(learned)), 4),
        }
        check["passed"] = check["learned_ndcg@10"] >= check["hand_tuned_ndcg@10"]
    else:
        check["passed"] = False  # too few queries to check a model on
    model = train(kept, features, settings, source=source)
    model.meta["check"] = check
    return model


def train(
    groups: Iterable[Group],
    features: Sequence[str],
    settings: TrainingSettings | None = None,
    *,
    source: str = "",
) -> Ranker:
    """A lambdarank model over the informative groups; ``Invalid`` when there is none."""
    settings = settings or TrainingSettings()
    kept = [group for group in groups if group.informative]
    if not kept:
        raise Invalid("no judged query has both a better and a worse candidate to learn from")
    rows = [row for group in kept for row in group.rows]
    grades = [min(grade, MAX_GRADE) for group in kept for grade in group.grades]
    dataset_options: dict[str, Any] = {}
    debias = settings.position_debiasing and all(
        len(group.positions) == len(group.rows) for group in kept
    )
    if debias:
        dataset_options["position"] = np.asarray(
            [min(position, 50) - 1 for group in kept for position in group.positions]
        )
    dataset = lightgbm.Dataset(
        _matrix(rows, features),
        label=np.asarray(grades),
        group=[len(group.rows) for group in kept],
        feature_name=list(features),
        init_score=_prior(rows, settings.prior),
        free_raw_data=True,
        **dataset_options,
    )
    params = {
        "objective": "lambdarank",
        "metric": "ndcg",
        "eval_at": [10],
        "learning_rate": settings.learning_rate,
        "num_leaves": settings.leaves,
        "min_data_in_leaf": settings.min_rows_in_leaf,
        "lambdarank_truncation_level": settings.truncation,
        "label_gain": [float(2**grade - 1) for grade in range(MAX_GRADE + 1)],
        "seed": settings.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 1,
        "verbosity": -1,
    }
    booster = lightgbm.train(params, dataset, num_boost_round=settings.rounds)
    meta = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "queries": len(kept),
        "pairs": len(rows),
        "judged": sum(1 for grade in grades if grade > 0),
        "source": source,
        "position_debiased": debias,
        "settings": asdict(settings),
        "lightgbm": lightgbm.__version__,
    }
    return Ranker(booster, tuple(features), meta)


class RankerFile:
    """The installation's model file, read when it changes: ``current()`` is the ranker to
    use, or None — no file, a model for other features (logged once per file version), one
    that has seen fewer than ``min_queries`` judged queries, or one that failed its check on
    the newest judged queries (``train_checked``)."""

    def __init__(self, path: Path, features: Sequence[str], min_queries: int) -> None:
        self.path = path
        self.features = tuple(features)
        self.min_queries = min_queries
        self._version: tuple[int, int] | None = None
        self._ranker: Ranker | None = None
        self._lock = threading.Lock()

    def current(self) -> Ranker | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        version = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if version != self._version:
                self._version, self._ranker = version, None
                try:
                    self._ranker = Ranker.load(self.path, self.features)
                except Misconfigured as error:
                    log.warning("hand-tuned ranking kept: %s", error)
            ranker = self._ranker
        if ranker is None or ranker.queries < self.min_queries or not ranker.checked:
            return None
        return ranker
