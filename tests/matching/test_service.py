"""The matching engine and service on both engines: the lexical index, fusion, indexes kept in
step with the catalog, confidentiality, bad queries, filters inside retrieval."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import pytest

import factories
from techbridge.authz import ANONYMOUS, SYSTEM, Principal
from techbridge.catalog import service as catalog
from techbridge.catalog.kinds import ListingKind
from techbridge.catalog.schemas import DemandUpdate
from techbridge.config import Settings
from techbridge.db import engine_for, unit_of_work
from techbridge.errors import Conflict, Invalid, NotFound
from techbridge.matching import service, store
from techbridge.matching.embedders import CachedEmbedder, create_embedder
from techbridge.matching.engine import Engine, PipelineSettings, Query, ambiguity
from techbridge.matching.explain import key_terms
from techbridge.matching.lexical import LexicalIndex, LexicalLayers
from techbridge.matching.lexicon import default_lexicon
from techbridge.matching.tokenize import Tokeniser

from .conftest import OFFERS, REVEALED, SECRET

# --- lexical index ------------------------------------------------------------------------


def test_bm25_matches_bm25s_and_survives_edits() -> None:
    tokeniser = Tokeniser()
    texts = [f"{title} {body}" for title, body, _, _ in OFFERS]
    tokens = [tokeniser.tokens(text) for text in texts]
    index = LexicalIndex(tokeniser.id)
    index.add_many(enumerate(tokens))
    reference = bm25s.BM25(method="lucene", k1=1.2, b=0.75)
    reference.index(tokens, show_progress=False)
    query = tokeniser.tokens("电池回收 battery recycling")
    assert np.allclose(index.scores(query), reference.get_scores(query), atol=1e-5)

    # Removing and re-adding in any order ranks like a fresh build after a merge.
    index.remove(0)
    index.add(7, tokens[0])
    index.add(2, tokens[2])  # replace in place
    index.merge()
    fresh = LexicalIndex(tokeniser.id)
    fresh.add_many([(1, tokens[1]), (2, tokens[2]), (3, tokens[3]), (4, tokens[4]), (7, tokens[0])])
    got, want = index.search(query, 5), fresh.search(query, 5)
    assert [key for key, _ in got] == [key for key, _ in want]
    assert [score for _, score in got] == pytest.approx([score for _, score in want])
    assert 0 not in [key for key, _ in index.search(query, 10)]


def test_lexical_index_round_trips(tmp_path: Path) -> None:
    tokeniser = Tokeniser()
    index = LexicalIndex(tokeniser.id)
    index.add_many((n, tokeniser.tokens(title)) for n, (title, _, _, _) in enumerate(OFFERS))
    index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    query = tokeniser.tokens("电池")
    assert loaded.search(query, 3) == index.search(query, 3)


def test_tokeniser_handles_both_languages_and_traditional_chinese() -> None:
    tokens = Tokeniser().tokens("鋰電池 Batteries recycling, the LED")
    assert "锂电池" in tokens and "batteri" in tokens and "led" in tokens and "the" not in tokens


# --- fusion -------------------------------------------------------------------------------


def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def _toward(query: np.ndarray, cosine: float, direction: np.ndarray) -> np.ndarray:
    """A unit vector at ``cosine`` to ``query`` (both unit, ``direction`` orthogonal to it)."""
    return _unit(cosine * query + np.sqrt(1 - cosine**2) * direction)


def test_neighbours_lift_a_document_whose_neighbours_agree_only_when_the_query_is_ambiguous() -> (
    None
):
    embedder = CachedEmbedder(create_embedder(), None)  # vectors are given: it never runs
    dim = embedder.dim
    basis = np.eye(dim, dtype=np.float32)
    query = basis[0]
    # The single best cosine, but its nearest fellows match the query poorly ...
    lone = _toward(query, 0.86, basis[3])
    strays = [_toward(query, 0.70, _unit(basis[3] + 0.3 * basis[40 + n])) for n in range(12)]
    # ... while these, a little lower each, have each other: all match the query well.
    cluster = _unit(basis[1] + basis[2])
    members = [
        _toward(query, 0.855 - 0.0005 * n, _unit(cluster + 0.2 * basis[10 + n])) for n in range(12)
    ]
    vectors = np.stack([lone, *members, *strays])

    def ranking(clarity_gap: float) -> list[int]:
        engine = Engine(embedder, settings=PipelineSettings(clarity_gap=clarity_gap))
        engine.add([(key, f"doc {key}") for key in range(len(vectors))], vectors=vectors)
        return [hit.key for hit in engine.search(Query("q", [], query), 3)]

    # The top cosines are within 0.01 of each other: ambiguous, so the cluster wins.
    assert ranking(clarity_gap=0.05)[0] == 1
    # Same cosines judged clear (the gap exceeds clarity_gap): plain cosine order.
    assert ranking(clarity_gap=0.001)[0] == 0


def test_key_terms_leave_out_boilerplate_once_the_index_can_tell() -> None:
    engine = Engine(CachedEmbedder(create_embedder(), None))
    index = LexicalIndex(engine.tokeniser.id)
    index.add_many((n, ["方法", f"topic{n % 50}"]) for n in range(10))
    engine.lexical = LexicalLayers(index)
    assert "方法" in key_terms(engine, ["方法", "topic1"], 5)  # 10 listings: too few to judge
    index.add_many((n, ["方法", f"topic{n % 50}"]) for n in range(10, 300))
    engine.lexical = LexicalLayers(index)
    assert key_terms(engine, ["方法", "topic1"], 5) == ["topic1"]


def test_ambiguity_falls_with_the_gap_between_the_best_and_the_rest() -> None:
    assert ambiguity(np.array([0.9, 0.9, 0.9, 0.9]), 0.02) == 1.0
    assert ambiguity(np.array([0.95, 0.9, 0.9, 0.9]), 0.02) == 0.0
    assert ambiguity(np.array([0.91, 0.9, 0.9, 0.9]), 0.02) == pytest.approx(0.5)
    assert ambiguity(np.array([0.9]), 0.02) == 1.0


# --- service ------------------------------------------------------------------------------


def test_publishing_indexes_and_withdrawing_removes(
    settings: Settings, listings: dict[str, Any]
) -> None:
    indexes: service.Indexes = listings["indexes"]
    offers = indexes.engine("offers")
    assert len(offers) == len(OFFERS)
    # Of the confidential demands only the public summary that one of them has is indexed.
    assert len(indexes.engine("demands")) == 2
    with unit_of_work(engine_for(settings.resolved_database_url)) as session:
        catalog.withdraw_offer(session, SYSTEM, listings["offers"][0])
    assert indexes.catch_up() == 1
    assert listings["offers"][0] not in indexes.engine("offers").vectors
    # A search that had the earlier snapshot keeps reading it unchanged.
    assert listings["offers"][0] in offers.vectors and len(offers) == len(OFFERS)
    # A fresh process replays the outbox; after a checkpoint it starts from there.
    replaying = service.Indexes(settings)
    replaying.catch_up()
    assert len(replaying.engine("offers")) == len(OFFERS) - 1
    indexes.checkpoint(force=True)
    reopened = service.Indexes(settings)
    assert reopened.position == indexes.position
    assert len(reopened.engine("offers")) == len(OFFERS) - 1


def test_a_server_picks_up_an_index_another_process_saved(
    settings: Settings, listings: dict[str, Any]
) -> None:
    """Found in review: a server kept ranking on its own copy after the CLI had made a
    demand confidential, so the hidden text still decided where it ranked."""
    server: service.Indexes = listings["indexes"]
    assert listings["public"] in server.engine("demands").vectors
    with unit_of_work(engine_for(settings.resolved_database_url)) as session:  # the CLI
        catalog.update_demand(session, SYSTEM, listings["public"], DemandUpdate(confidential=True))
    server.start()  # the server's indexer thread, which the search waits for
    try:
        with unit_of_work(engine_for(settings.resolved_database_url)) as session:
            snapshot = server.fresh(session)
    finally:
        server.stop()
    assert listings["public"] not in snapshot.engines["demands"].vectors


def test_rolled_back_edit_never_reaches_the_index(
    settings: Settings, listings: dict[str, Any]
) -> None:
    indexes: service.Indexes = listings["indexes"]
    with (
        pytest.raises(RuntimeError),
        unit_of_work(engine_for(settings.resolved_database_url)) as session,
    ):
        catalog.withdraw_offer(session, SYSTEM, listings["offers"][1])
        session.flush()
        raise RuntimeError("boom")
    assert indexes.catch_up() == 0
    assert listings["offers"][1] in indexes.engine("offers").vectors


def test_demand_finds_offers_across_languages_with_explanations(
    settings: Settings, listings: dict[str, Any]
) -> None:
    with unit_of_work(engine_for(settings.resolved_database_url)) as session:
        result = service.match_listing(
            session, ANONYMOUS, listings["indexes"], ListingKind.DEMAND, listings["public"], k=5
        )
    titles = [match.title for match in result.matches]
    assert titles[0] == "一种锂离子电池回收方法"
    assert titles.index("Lithium-ion battery recycling process") < titles.index("一种水稻插秧机")
    best = result.matches[0].explanation
    assert best is not None and "回收" in best.shared_terms and best.shared_tags == ["H01M"]
    assert best.sentence_pair is not None
    assert set(best.components) >= {"dense", "lexical", "tags"}


def test_explanations_show_words_as_written_not_stems(
    settings: Settings, listings: dict[str, Any]
) -> None:
    with unit_of_work(engine_for(settings.resolved_database_url)) as session:
        result = service.search(
            session, listings["indexes"], "recycling spent batteries", kinds=["offers"], k=1
        )
    explanation = result.matches[0].explanation
    assert explanation is not None
    assert "recycling" in explanation.shared_terms and "recycl" not in explanation.shared_terms


def test_dictionary_lets_a_chinese_query_match_english_words(
    settings: Settings, listings: dict[str, Any]
) -> None:
    lexicon = default_lexicon()
    assert "batteri" in lexicon.translate(["电池"]) and "电池" in lexicon.translate(["batteri"])
    with unit_of_work(engine_for(settings.resolved_database_url)) as session:
        result = service.search(session, listings["indexes"], "废旧电池回收", kinds=["offers"], k=5)
    (english,) = [m for m in result.matches if m.title.startswith("Lithium-ion")]
    assert english.components["lexical"] > 0  # BM25 found it by "battery" and "recycling"
    assert english.explanation is not None
    assert ("电池", "battery") in english.explanation.term_pairs


def test_confidential_demand_is_for_its_owner_only(
    settings: Settings, listings: dict[str, Any]
) -> None:
    indexes = listings["indexes"]
    with unit_of_work(engine_for(settings.resolved_database_url)) as session:
        for viewer in (
            ANONYMOUS,
            Principal(user_id=2, organisation_id=listings["rival"], roles=frozenset({"supplier"})),
        ):
            with pytest.raises(NotFound):
                service.match_listing(
                    session, viewer, indexes, ListingKind.DEMAND, listings["secret"]
                )
        owner = Principal(
            user_id=1, organisation_id=listings["owner"], roles=frozenset({"demander"})
        )
        mine = service.match_listing(
            session, owner, indexes, ListingKind.DEMAND, listings["secret"], k=3
        )
        assert mine.matches[0].title == "一种石墨烯隔膜制备方法"
        # Suppliers matching their offers, and searchers, never meet the confidential text.
        seen = []
        for offer_id in listings["offers"]:
            seen.append(
                service.match_listing(
                    session, ANONYMOUS, indexes, ListingKind.OFFER, offer_id, k=10
                )
            )
        seen.append(service.search(session, indexes, "石墨烯改性隔膜", k=10))
    dumped = json.dumps([str(result) for result in seen], ensure_ascii=False)
    assert SECRET not in dumped and "石墨烯改性工艺" not in dumped
    assert all(m.id != listings["secret"] for r in seen for m in r.matches if m.kind == "demand")


def test_supplier_sees_only_the_revealed_summary_of_a_confidential_demand(
    settings: Settings, listings: dict[str, Any]
) -> None:
    graphene = listings["offers"][4]
    with unit_of_work(engine_for(settings.resolved_database_url)) as session:
        found = service.match_listing(
            session, ANONYMOUS, listings["indexes"], ListingKind.OFFER, graphene, k=5
        )
    (match,) = [m for m in found.matches if m.id == listings["revealed"]]
    assert match.confidential and match.title == REVEALED
    assert match.explanation is not None and match.explanation.shared_tags == []
    assert "tags" not in match.components and "recency" not in match.components
    dumped = json.dumps(str(found), ensure_ascii=False)
    assert SECRET not in dumped and "固态电池" not in dumped and "改性工艺" not in dumped
    with factories.client(settings) as client:
        api = client.get(f"/api/v1/offers/{graphene}/matches").json()
        page = client.get(f"/offers/{graphene}").text
        assert client.get(f"/demands/{listings['revealed']}").status_code == 404
    assert any(m["confidential"] and m["title"] == REVEALED for m in api["matches"])
    assert REVEALED in page and f'href="/demands/{listings["revealed"]}"' not in page
    for text in (json.dumps(api, ensure_ascii=False), page):
        assert SECRET not in text and "固态电池" not in text


@pytest.mark.parametrize("query", ["", "   \n", "！？。…", "😀🚀", "x" * 1_000_000])
def test_bad_queries_are_refused(settings: Settings, listings: dict[str, Any], query: str) -> None:
    with (
        unit_of_work(engine_for(settings.resolved_database_url)) as session,
        pytest.raises(Invalid) as error,
    ):
        service.search(session, listings["indexes"], query)
    assert error.value.field == "q"


def test_index_built_by_another_embedder_is_refused(
    settings: Settings, listings: dict[str, Any]
) -> None:
    """Vectors of two models never mix: a checkpoint of another embedder is passed over,
    and with none other left the refusal says to rebuild."""
    older = listings["indexes"].checkpoint(force=True)
    for directory in [path for _, path in store.checkpoints(settings.resolved_index_dir)]:
        manifest = json.loads((directory / store.MANIFEST).read_text())
        manifest["embedder"] = "some-other-model"
        (directory / store.MANIFEST).write_text(json.dumps(manifest))
    before = sorted(p.name for p in older.iterdir())
    with pytest.raises(Conflict) as error:
        service.Indexes(settings).engine("offers")
    assert "index rebuild" in str(error.value)
    assert sorted(p.name for p in older.iterdir()) == before


def test_rebuild_from_the_database(settings: Settings, listings: dict[str, Any]) -> None:
    counts = service.Indexes(settings).rebuild()
    assert counts == {"offers": len(OFFERS), "demands": 2}


def test_filters_apply_inside_retrieval(settings: Settings, listings: dict[str, Any]) -> None:
    tagged = {listings["offers"][n] for n, offer in enumerate(OFFERS) if offer[3] == ["H01M"]}
    with unit_of_work(engine_for(settings.resolved_database_url)) as session:
        result = service.search(
            session,
            listings["indexes"],
            "battery recycling",
            kinds=("offers",),
            filters=catalog.ListingFilter(tag="H01M"),
        )
    assert {match.id for match in result.matches} == tagged
