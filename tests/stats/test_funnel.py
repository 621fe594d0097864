"""The dockings' funnel KPIs (stats.funnel) on a hand-built history with known answers, on
both databases: counts that never rise, conversion, median days in stage, signed amount,
the monthly trend, breakdowns with small-cell suppression, period parsing and refusal, who
may see them, the CLI's JSON contract, the API and the page."""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import factories
import support
from support import TestClient
from techbridge.authz import ANONYMOUS, SYSTEM, Principal
from techbridge.catalog.models import Demand, Offer
from techbridge.cli import app
from techbridge.db import engine_for, unit_of_work
from techbridge.deals import demo
from techbridge.deals.progress import STAGES
from techbridge.errors import Forbidden, Invalid, Unauthenticated
from techbridge.stats import funnel as kpis

WAN = 10_000 * 100  # 1万元 in 分
SECRET_TITLE = "绝密：某型号电池隔膜"


def day(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def plan(start: str, steps: list[tuple[str, float]], amounts: tuple[int, ...] = ()) -> demo.Plan:
    """A docking requested at ``start`` that then moved to each state after so many days."""
    at = day(start)
    found = demo.Plan(created_at=at, events=[("request", None, "requested", at, {})])
    before = "requested"
    for state, days in steps:
        at = at + dt.timedelta(days=days)
        action = {"declined": "decline", "closed_lost": "close"}.get(state) or demo.ACTION_TO[state]
        found.events.append((action, before, state, at, {}))
        before = found.state = state
    found.amounts = list(amounts)
    return found


PATH = ["accepted", "brokering", "meeting", "negotiating", "signed", "registered"]


def path(*days: float) -> list[tuple[str, float]]:
    return list(zip(PATH, days, strict=False))


@dataclass
class History:
    manager: int


def build(session: Session) -> History:
    """Six dockings requested in 2025 and one in December 2024 (see the expected figures in
    the tests); demands in two districts, one of them confidential; an overseas offer."""
    north = factories.organisation(session, "北方电池", district="杨浦区")
    south = factories.organisation(session, "南方材料", district="徐汇区")
    abroad = factories.organisation(session, "Overseas Lab", kind="overseas_institution")
    manager = factories.user(session, "tm@example.com", ["tech_manager"])
    d_north = factories.demand(session, "寻求隔膜", organisation_id=north.id, segment="finance")
    d_south = factories.demand(session, "寻求人才", organisation_id=south.id, segment="talent")
    d_secret = factories.demand(
        session,
        SECRET_TITLE,
        organisation_id=north.id,
        segment="finance",
        confidential=True,
        public_summary="寻求材料合作",
    )
    o_abroad = factories.offer(
        session, "Separator", lang="en", organisation_id=abroad.id, tags=["H01M"]
    )
    o_south = factories.offer(session, "隔膜工艺", organisation_id=south.id, tags=["H01M", "B32B"])
    o_north = factories.offer(session, "人才培训", organisation_id=north.id, tags=["G09B"])

    def pair(demand: int, offer: int) -> tuple[int, int, int, int, bool]:
        d, o = session.get(Demand, demand), session.get(Offer, offer)
        assert d is not None and o is not None and d.organisation_id and o.organisation_id
        return (d.id, d.organisation_id, o.id, o.organisation_id, d.confidential)

    plans = [
        (pair(d_north.id, o_abroad.id), plan("2025-01-10", [])),  # 1: still requested
        (pair(d_north.id, o_south.id), plan("2025-01-10", [("declined", 5)])),  # 2
        (
            pair(d_south.id, o_abroad.id),
            plan("2025-01-20", [("accepted", 2), ("closed_lost", 3)]),
        ),  # 3
        (
            pair(d_south.id, o_north.id),
            plan("2025-02-01", path(4, 1, 10, 20, 30), (100 * WAN, 120 * WAN)),
        ),  # 4: signed
        (
            pair(d_secret.id, o_abroad.id),
            plan("2025-02-01", path(6, 3, 10, 10, 10, 5), (50 * WAN,)),
        ),  # 5: registered
        (
            pair(d_secret.id, o_south.id),
            plan("2025-03-01", [*path(2, 2, 4, 6), ("closed_lost", 9)], (300 * WAN,)),
        ),  # 6: lost in negotiation
        (pair(d_north.id, o_north.id), plan("2024-12-15", path(1, 1, 1, 1, 1), (10 * WAN,))),
    ]
    plans[3][1].manager_id = manager.id
    plans[4][1].manager_id = manager.id
    demo.write(session, plans)
    return History(manager=manager.id)


@pytest.fixture
def history(session: Session) -> History:
    found = build(session)
    session.commit()
    return found


TODAY = dt.date(2025, 6, 30)


def report(session: Session, period: str | None = "2025", **options: object) -> kpis.FunnelReport:
    options.setdefault("today", TODAY)
    return kpis.funnel(session, SYSTEM, kpis.parse_period(period), **options)  # type: ignore[arg-type]


def test_counts_conversion_and_medians_of_a_known_history(
    session: Session, history: History
) -> None:
    found = report(session)
    counts = {stage.stage: stage.count for stage in found.stages}
    assert counts == {
        "requested": 6,
        "accepted": 4,
        "brokering": 3,
        "meeting": 3,
        "negotiating": 3,
        "signed": 2,
        "registered": 1,
    }
    assert [stage.stage for stage in found.stages] == list(STAGES)
    conversion = [stage.conversion for stage in found.stages]
    assert conversion == pytest.approx([None, 4 / 6, 3 / 4, 1.0, 1.0, 2 / 3, 1 / 2])
    medians = [stage.median_days for stage in found.stages]
    # requested→accepted: 2, 4, 6, 2 days → 3; then 1, 3, 2 → 2; 10, 10, 4 → 10; 20, 10, 6
    # → 10; 30, 10 → 20; 5 → 5; the last stage has none.
    assert medians == [3.0, 2.0, 10.0, 10.0, 20.0, 5.0, None]
    assert [stage.moved_on for stage in found.stages] == [4, 3, 3, 3, 2, 1, 0]
    # The latest revision of the signed ones: 120万 and 50万 元; the lost one's 300万 not.
    assert (found.dockings, found.docked, found.signed) == (6, 4, 2)
    assert found.signed_amount_fen == 170 * WAN
    assert (found.declined, found.closed_lost, found.simulated) == (1, 2, 6)

    everything = report(session, None)
    assert (everything.dockings, everything.signed) == (7, 3)
    assert everything.signed_amount_fen == 180 * WAN
    quarter = report(session, "2025-Q1")
    assert quarter.dockings == 6
    assert report(session, "2025-02").dockings == 2
    assert report(session, "2025-Q2").dockings == 0


def test_the_monthly_trend_counts_what_happened_each_month(
    session: Session, history: History
) -> None:
    months = {month.month: month for month in report(session).months}
    assert list(months) == [f"2025-{number:02d}" for number in range(1, 13)]
    assert [months[m].requested for m in ("2025-01", "2025-02", "2025-03")] == [3, 2, 1]
    # Docked: 3 on 01-22, 4 on 02-05, 5 on 02-07, 6 on 03-03; the 2024 one on 2024-12-16.
    assert [months[m].docked for m in ("2025-01", "2025-02", "2025-03")] == [1, 2, 1]
    # Signed: 4 on 2025-04-07 (4+1+10+20+30 days after 02-01), 5 on 2025-03-12.
    assert months["2025-04"].signed == 1 and months["2025-04"].signed_amount_fen == 120 * WAN
    assert months["2025-03"].signed == 1 and months["2025-03"].signed_amount_fen == 50 * WAN
    assert sum(month.signed for month in months.values()) == 2
    # Without a period: the last 18 months up to today.
    trend = report(session, None).months
    assert len(trend) == 18 and trend[-1].month == "2025-06" and trend[0].month == "2024-01"
    assert sum(month.requested for month in trend) == 7


def test_breakdowns_and_small_cell_suppression(session: Session, history: History) -> None:
    by_district = {g.value: g for g in report(session, breakdown="district", min_cell=1).groups}
    assert {value: g.dockings for value, g in by_district.items()} == {"杨浦区": 4, "徐汇区": 2}
    assert by_district["杨浦区"].signed == 1 and by_district["杨浦区"].signed_amount_fen == 50 * WAN
    # With the default threshold of 3, the two dockings of 徐汇区 are folded into "other".
    folded = report(session, breakdown="district").groups
    assert [(g.value, g.dockings) for g in folded] == [("杨浦区", 4), ("other", 2)]

    segments = {
        g.value: g.dockings for g in report(session, breakdown="segment", min_cell=1).groups
    }
    # The confidential demand's segment is never read: its dockings count as confidential.
    assert segments == {"finance": 2, "talent": 2, "confidential": 2}
    source = {g.value: g.dockings for g in report(session, breakdown="source", min_cell=1).groups}
    assert source == {"overseas": 3, "domestic": 3}
    fields = {g.value: g.dockings for g in report(session, breakdown="field", min_cell=1).groups}
    assert fields == {"H01M": 5, "B32B": 2, "G09B": 1}
    managers = report(session, breakdown="manager", min_cell=1).groups
    assert {(g.value, g.label, g.dockings) for g in managers} == {
        (str(history.manager), "tm", 2),
        ("", "", 4),
    }
    months = report(session, breakdown="month").groups
    assert [(g.value, g.dockings) for g in months] == [
        ("2025-01", 3),
        ("2025-02", 2),
        ("2025-03", 1),
    ]
    quarters = report(session, None, breakdown="quarter").groups
    assert [(g.value, g.dockings) for g in quarters] == [("2024-Q4", 1), ("2025-Q1", 6)]
    years = report(session, None, breakdown="year").groups
    assert [(g.value, g.dockings) for g in years] == [("2024", 1), ("2025", 6)]
    with pytest.raises(Invalid) as refused:
        report(session, breakdown="title")
    assert refused.value.field == "by"


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2025", "2025-01-01", "2026-01-01"),
        ("2025-Q3", "2025-07-01", "2025-10-01"),
        ("2025-Q4", "2025-10-01", "2026-01-01"),
        ("2025-07", "2025-07-01", "2025-08-01"),
        ("2025-12", "2025-12-01", "2026-01-01"),
    ],
)
def test_periods(text: str, start: str, end: str) -> None:
    period = kpis.parse_period(text)
    assert period is not None and (period.start, period.end) == (day(start), day(end))
    assert period.label == text


@pytest.mark.parametrize("text", ["25", "2025-13", "2025-00", "2025-Q5", "2025Q3", "last year"])
def test_bad_periods_are_refused_naming_the_field(text: str) -> None:
    with pytest.raises(Invalid) as refused:
        kpis.parse_period(text)
    assert refused.value.field == "period" and "2025-Q3" in str(refused.value)
    assert kpis.parse_period("") is None and kpis.parse_period(None) is None


def test_counts_never_rise_along_the_funnel_of_random_histories(session: Session) -> None:
    """Whatever happened (losses at every stage, open dockings), no stage has more than the
    one before it."""
    rng = random.Random(3)
    org_a = factories.organisation(session, "甲", district="杨浦区")
    org_b = factories.organisation(session, "乙", district="徐汇区")
    demands = [factories.demand(session, f"需求{n}", organisation_id=org_a.id).id for n in range(6)]
    offers = [factories.offer(session, f"供给{n}", organisation_id=org_b.id).id for n in range(6)]
    now = day("2025-06-30")
    plans = [
        (
            (d, org_a.id, o, org_b.id, False),
            demo.simulate(rng, now - dt.timedelta(days=rng.uniform(0, 500)), now, []),
        )
        for d in demands
        for o in offers
    ]
    demo.write(session, plans)
    found = report(session, None)
    counts = [stage.count for stage in found.stages]
    assert counts == sorted(counts, reverse=True) and counts[0] == 36
    # Each count is the number of dockings whose furthest stage is at least that one.
    furthest = [max(demo.progress.RANK.get(e[2], 0) for e in p.events) for _pair, p in plans]
    assert counts == [sum(1 for f in furthest if f >= k) for k in range(len(STAGES))]


def test_only_staff_tech_managers_and_policy_officers_see_the_kpis(session: Session) -> None:
    for roles in ({"administrator"}, {"exchange_operator"}, {"tech_manager"}, {"policy_officer"}):
        kpis.funnel(session, Principal(user_id=1, roles=frozenset(roles)), None)
    with pytest.raises(Forbidden):
        kpis.funnel(session, Principal(user_id=1, roles=frozenset({"demander"})), None)
    with pytest.raises(Unauthenticated):
        kpis.funnel(session, ANONYMOUS, None)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_the_cli_prints_the_json_contract(
    env: dict[str, str], database_url: str, history: History
) -> None:
    code, output = run("stats", "funnel", "--period", "2025", "--json")
    assert code == 0, output
    found = json.loads(output)
    assert (found["docked"], found["signed"], found["signed_amount_fen"]) == (4, 2, 170 * WAN)
    assert found["stages"][:2] == [
        {"stage": "requested", "count": 6, "conversion": None, "median_days": 3.0, "moved_on": 4},
        {"stage": "accepted", "count": 4, "conversion": 4 / 6, "median_days": 2.0, "moved_on": 3},
    ]
    assert [stage["stage"] for stage in found["stages"]] == list(STAGES)
    code, output = run("stats", "funnel", "--json")
    assert code == 0 and json.loads(output)["docked"] == 5
    code, output = run("stats", "funnel", "--period", "2025", "--by", "segment")
    assert code == 0 and "simulated" in output and "170" in output
    code, output = run("stats", "funnel", "--period", "2025-13", "--json")
    assert code == 2 and "2025-Q3" in output
    assert run("stats", "funnel", "--by", "title")[0] == 2


def test_the_api_answers_staff_and_refuses_others(
    client: TestClient, database_url: str, history: History
) -> None:
    with unit_of_work(engine_for(database_url)) as session:
        operator = factories.user(session, "x@sse.example", ["exchange_operator"]).id
        demander = factories.user(session, "d@example.com", ["demander"]).id
    response = client.get("/api/v1/stats/funnel", params={"period": "2025", "by": "district"})
    assert response.status_code == 401
    refused = client.get("/api/v1/stats/funnel", headers=factories.bearer(database_url, demander))
    assert refused.status_code == 403
    headers = factories.bearer(database_url, operator)
    found = client.get("/api/v1/stats/funnel", params={"period": "2025"}, headers=headers)
    assert found.status_code == 200 and found.json()["signed_amount_fen"] == 170 * WAN
    bad = client.get("/api/v1/stats/funnel", params={"period": "2025-13"}, headers=headers)
    assert bad.status_code == 422 and "2025-Q3" in bad.text
    schema = client.get("/api/v1/openapi.json").json()
    assert "FunnelReport" in schema["components"]["schemas"]


def test_the_page_shows_charts_tables_and_the_simulated_notice(
    client: TestClient, database_url: str, history: History
) -> None:
    with unit_of_work(engine_for(database_url)) as session:
        manager = factories.user(session, "m@tm.example", ["tech_manager"]).id
    support.log_in(client, database_url, manager)
    page = client.get("/stats/funnel", params={"period": "2025", "by": "source", "lang": "zh"})
    assert page.status_code == 200
    html = page.text
    assert "模拟数据" in html
    for chart in ("funnel", "trend", "breakdown"):
        assert f'data-chart="{chart}"' in html and f'id="figure-{chart}"' in html
    assert html.count('<table class="data">') == 3
    assert "谈判" in html or "洽谈" in html  # stage labels in Chinese
    assert "海外机构" in html and "境内机构" in html
    assert SECRET_TITLE not in html
    english = client.get("/stats/funnel", params={"period": "2025", "lang": "en"}).text
    assert "Simulated data" in english and "Median days in the stage" in english
    bad = client.get("/stats/funnel", params={"period": "2025-13"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text


def test_the_page_says_nothing_of_simulation_without_simulated_dockings(
    client: TestClient, database_url: str
) -> None:
    with unit_of_work(engine_for(database_url)) as session:
        manager = factories.user(session, "m@tm.example", ["tech_manager"]).id
    support.log_in(client, database_url, manager)
    html = client.get("/stats/funnel", params={"lang": "en"}).text
    assert "Simulated data" not in html and "No dockings in this period." in html
