"""What the statistics tests share: a catalog whose public listings are few and known, next
to drafts, withdrawn and confidential listings that must never be counted."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

import factories
from techbridge.authz import SYSTEM
from techbridge.catalog import service as catalog

TODAY = dt.date(2025, 3, 15)
HOSTILE_TAG = "</script><script>alert(1)</script>"
SECRET = "绝密：固态电池隔膜配方"
SECRET_TAG = "SECRET-TAG-7"
DRAFT_TAG = "DRAFT-TAG-3"


def publish(session: Session, this_month: dt.date = TODAY) -> None:
    """Three public offers and one public demand; everything else must not be counted: a
    draft and a withdrawn offer, a draft demand, two confidential demands (one of them the
    only listing of an organisation in another district)."""
    lab = factories.organisation(session, "张江实验室", district="浦东新区")
    secretive = factories.organisation(session, "保密公司", district="徐汇区")
    two_months_ago = dt.date(2025, 1, 20) if this_month == TODAY else this_month
    factories.offer(
        session,
        "Solid-state electrolyte",
        lang="en",
        kind="patent",
        segment="finance",
        tags=["H01M", HOSTILE_TAG],
        organisation_id=lab.id,
        listed_on=this_month,
    )
    factories.offer(
        session,
        "检测服务",
        kind="service",
        segment="testing_inspection",
        organisation_id=lab.id,
        listed_on=two_months_ago,
    )
    factories.offer(
        session, "多年前的成果", listed_on=dt.date(2019, 6, 1)
    )  # counted, but not by month
    factories.offer(
        session, "草稿", status="draft", segment="finance", tags=[DRAFT_TAG], listed_on=TODAY
    )
    withdrawn = factories.offer(session, "撤回", lang="en", segment="finance", listed_on=TODAY)
    catalog.withdraw_offer(session, SYSTEM, withdrawn.id)
    factories.demand(
        session, "寻求电池回收技术", segment="finance", tags=["H01M"], listed_on=this_month
    )
    factories.demand(session, "草稿需求", status="draft", segment="talent", listed_on=TODAY)
    factories.demand(
        session,
        SECRET,
        confidential=True,
        segment="talent",
        tags=[SECRET_TAG],
        organisation_id=secretive.id,
        listed_on=TODAY,
    )
    factories.demand(
        session,
        "保密需求二",
        confidential=True,
        public_summary="寻求隔膜材料合作",
        segment="talent",
        tags=[SECRET_TAG],
        listed_on=TODAY,
    )
    session.commit()
