"""Build TechBridge's small shipped demo data set (``data/demo``) from real public data.

Reads only the two sets in ``../shared/data`` whose READMEs allow use as demo data:

* ``cn_patents`` -- CNIPA patent metadata (titles + IPC subclasses), via the GitHub repo
  ``lxingy3/chinese-patent-ipc-classifier``;
* ``nasa`` -- NASA's public patent portfolio (a U.S. Government work), via the GitHub repo
  ``Khuthadzo1988/NASA-PATENT-PORTFOLIO``.

No other set is opened. It writes ``offers.jsonl.gz``, ``demands.jsonl.gz`` and ``README.md``.

* Offers: a seeded random sample of Chinese patents, plus every NASA patent except a seeded
  hold-out whose titles become the English demands.
* Demands: templated from patent titles that are *not* shipped as offers (Chinese and English).
* Dates, owners of the Chinese patents, TRL, prices, transfer modes, budgets, deadlines and
  the confidential flag are synthetic, seeded per record; organisation names are visibly demo.

The output is deterministic: same inputs and seed give byte-identical files (sorted records,
sorted JSON keys, gzip header with mtime 0 and no file name).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import io
import json
import math
import os
import random
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SHARED = Path("../shared/data")  # relative to the project root
DEFAULT_OUT = Path("data/demo")  # relative to the project root
DEFAULT_SEED = 20261125

# The only sets that may be redistributed as demo data. Nothing else is ever read.
CN_SET = "cn_patents"
NASA_SET = "nasa"
OFFER_SOURCES = {CN_SET: "demo-cn_patents", NASA_SET: "demo-nasa"}
DEMAND_SOURCE = "demo-demands"

CN_OFFERS = 2_500
ZH_DEMANDS = 200
EN_DEMANDS = 100  # NASA patents held out of the offers to make these
CONFIDENTIAL_SHARE = 0.10

DATE_FIRST = dt.date(2025, 1, 1)
DATE_LAST = dt.date(2026, 10, 31)
MAX_BYTES = 10 * 1024 * 1024

UPSTREAM = {
    CN_SET: (
        "lxingy3/chinese-patent-ipc-classifier",
        "42c34e89b9dc53bf0a583cbdf72d92503fa22801",
        "experiments/results/multilabel_tfidf_svm/oof_predictions.csv",
    ),
    NASA_SET: (
        "Khuthadzo1988/NASA-PATENT-PORTFOLIO",
        "81e483f5cde0f2f6dd553ad79d470d341241f3ac",
        "NASA_Patents.csv",
    ),
}

# IPC sections, described in words (the demand text never names an IPC code).
IPC_AREAS = {
    "A": "农业、食品、医疗卫生或日用消费品",
    "B": "加工制造、成型或运输装备",
    "C": "化工、新材料或冶金",
    "D": "纺织或造纸",
    "E": "建筑、道路或矿山工程",
    "F": "机械、动力、照明或供热设备",
    "G": "检测计量、计算或自动控制",
    "H": "电力、电子或通信",
}

# Fictional owners for the Chinese patents (upstream has none). Visibly demo names only.
DEMO_INSTITUTIONS = {
    "theory": "演示理工大学（演示）",
    "agri": "演示农业大学（演示）",
    "med": "演示医科大学（演示）",
    "normal": "演示师范大学（演示）",
    "industry": "演示工业技术研究院（演示）",
    "materials": "演示新材料研究所（演示）",
    "info": "演示信息技术研究院（演示）",
    "energy": "演示能源研究所（演示）",
}
INSTITUTIONS_BY_SECTION = {
    "A": ("agri", "med", "normal"),
    "B": ("theory", "industry"),
    "C": ("materials", "theory", "normal"),
    "D": ("materials", "industry"),
    "E": ("theory", "industry"),
    "F": ("energy", "industry", "theory"),
    "G": ("info", "theory", "normal"),
    "H": ("info", "energy", "theory"),
}

# Fictional demanders. Visibly demo names only.
DEMO_ENTERPRISES_ZH = {
    "A": ("演示现代农业有限公司（演示）", "演示生物医药有限公司（演示）"),
    "B": ("演示精密制造有限公司（演示）", "演示智能装备有限公司（演示）"),
    "C": ("演示化工材料有限公司（演示）", "演示生物医药有限公司（演示）"),
    "D": ("演示化工材料有限公司（演示）", "演示精密制造有限公司（演示）"),
    "E": ("演示建设工程有限公司（演示）",),
    "F": ("演示新能源科技有限公司（演示）", "演示智能装备有限公司（演示）"),
    "G": ("演示电子信息有限公司（演示）", "演示智能装备有限公司（演示）"),
    "H": ("演示电子信息有限公司（演示）", "演示新能源科技有限公司（演示）"),
}
DEMO_ENTERPRISES_EN = (
    "Demo Robotics Ltd. (demo)",
    "Demo Aerospace Components Ltd. (demo)",
    "Demo Sensor Systems Ltd. (demo)",
    "Demo Clean Energy Ltd. (demo)",
)

ZH_TITLES = (
    "寻求{t}相关技术",
    "征集{t}技术解决方案",
    "{t}技术需求",
    "求购{t}相关专利或技术",
    "寻找{t}合作开发伙伴",
)
ZH_NEEDS = (
    "我公司希望引进或合作开发{t}方面的技术，用于{area}领域的产品升级。",
    "本单位主要从事{area}相关业务，现需要{t}相关技术，欢迎高校、科研院所洽谈。",
    "现有工艺难以满足生产要求，拟引进{t}相关的成熟技术，主要应用于{area}领域。",
    "寻求具备{t}研发基础的合作团队，共同推进其在{area}领域的应用与产业化。",
)
ZH_TERMS = (
    "要求技术成熟度较高，可在一年内完成中试。",
    "希望对方提供技术资料并进行现场指导。",
    "可接受专利转让或独占许可。",
    "可采用联合开发方式，费用面议。",
    "",
)
EN_TITLES = (
    "Seeking technology: {t}",
    "Technology wanted: {t}",
    "Licensing opportunity sought: {t}",
    "Partner wanted: {t}",
)
EN_NEEDS = (
    'We are looking to license or co-develop technology for "{t}" for use in our products.',
    'Our company seeks a partner with proven results on "{t}".',
    'We need a working solution for "{t}" that can be integrated into our production line.',
    'We would like to evaluate existing technology on "{t}" for a new product line.',
)
EN_TERMS = (
    "We are open to licensing, joint development or equity investment.",
    "A prototype or test data would help our evaluation.",
    "We expect a pilot within twelve months.",
    "",
)
EN_SMALL_WORDS = {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to"}

# Synthetic TRL ranges and prices (yuan) by patent kind; None price means "negotiable".
CN_KIND_TRL = {"A": (2, 5), "B": (3, 7), "U": (4, 8)}
CN_KIND_PRICE_YUAN = {"A": (30_000, 800_000), "B": (100_000, 3_000_000), "U": (10_000, 300_000)}
NASA_STATUS_TRL = {"Issued": (3, 7), "Application": (2, 5)}
PRICE_SHARE = 0.75
CN_TRANSFER_MODES: tuple[tuple[tuple[str, ...], int], ...] = (
    (("transfer",), 3),
    (("licence",), 2),
    (("transfer", "licence"), 4),
    (("licence", "joint_development"), 2),
    (("transfer", "licence", "joint_development"), 2),
    (("joint_development", "equity_investment"), 1),
)
NASA_TRANSFER_MODES: tuple[tuple[tuple[str, ...], int], ...] = (
    (("licence",), 4),
    (("licence", "joint_development"), 1),
)
# Demo assignments (listed in each record's ``demo_assigned``): the sources name no district and
# no service-chain segment, so the demo's facets and charts would be empty. Each visibly demo
# organisation gets one of Shanghai's 16 districts, and each listing one of the nine
# segments, by a seeded hash of its name or id (``assigned``).
SHANGHAI_DISTRICTS = (
    "黄浦区",
    "徐汇区",
    "长宁区",
    "静安区",
    "普陀区",
    "虹口区",
    "杨浦区",
    "闵行区",
    "宝山区",
    "嘉定区",
    "浦东新区",
    "金山区",
    "松江区",
    "青浦区",
    "奉贤区",
    "崇明区",
)
SEGMENTS = (  # techbridge.catalog.schemas.SEGMENTS (this script needs the standard library only)
    "research_development",
    "testing_inspection",
    "consulting",
    "technology_transfer",
    "incubation",
    "finance",
    "intellectual_property",
    "data_intelligence",
    "talent",
)
DEMO_MARKERS = ("（演示）", "(demo)")
BUDGETS_WAN = (5, 10, 20, 30, 50, 80, 100, 200, 300, 500)  # 万元
BUDGET_SHARE = 0.85
FEN_PER_YUAN = 100

Record = dict[str, Any]


class BuildError(Exception):
    """The inputs are missing or the output would break a rule of the demo data set."""


# --- inputs -------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[Record]:
    if not path.is_file():
        raise BuildError(f"missing input: {path}")
    rows: list[Record] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                value = json.loads(line)
                if not isinstance(value, dict):
                    raise BuildError(f"{path}:{number}: expected a JSON object")
                rows.append(value)
    return rows


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- helpers ------------------------------------------------------------------------------


def record_rng(seed: int, purpose: str, key: str) -> random.Random:
    """A generator for one record: values stay put when the sample around it changes."""
    return random.Random(f"{seed}:{purpose}:{key}")


def synthetic_date(rng: random.Random) -> dt.date:
    return DATE_FIRST + dt.timedelta(days=rng.randint(0, (DATE_LAST - DATE_FIRST).days))


def weighted(rng: random.Random, options: Sequence[tuple[tuple[str, ...], int]]) -> list[str]:
    values = [value for value, _ in options]
    weights = [weight for _, weight in options]
    return list(rng.choices(values, weights=weights, k=1)[0])


def price_fen(rng: random.Random, low_yuan: int, high_yuan: int) -> int | None:
    if rng.random() >= PRICE_SHARE:
        return None  # 面议 / negotiable
    yuan = math.exp(rng.uniform(math.log(low_yuan), math.log(high_yuan)))
    return round(yuan / 1_000) * 1_000 * FEN_PER_YUAN  # whole thousands of yuan


def assigned(seed: int, purpose: str, key: str, choices: Sequence[str]) -> str:
    """One of ``choices`` by a seeded hash of ``key``: the same key always gets the same one."""
    digest = hashlib.sha256(f"{seed}:{purpose}:{key}".encode()).digest()
    return choices[int.from_bytes(digest[:8], "big") % len(choices)]


def with_assignments(record: Record, seed: int) -> Record:
    """The demo assignments of one record: its segment, and its organisation's district when
    the organisation is a visibly demo one (real ones, the NASA centres, get none)."""
    record["segment"] = assigned(seed, "segment", record["id"], SEGMENTS)
    labels = ["segment"]
    if record["org"].endswith(DEMO_MARKERS):
        record["org_district"] = assigned(seed, "district", record["org"], SHANGHAI_DISTRICTS)
        labels.append("org_district")
    record["demo_assigned"] = labels
    return record


def section_of(tags: Sequence[str]) -> str:
    for tag in tags:
        if tag[:1] in IPC_AREAS:
            return tag[0]
    return "B"


def cn_kind(patent_id: str) -> str:
    kind = patent_id.rstrip("0123456789")[-1:]
    return kind if kind in CN_KIND_TRL else "A"


def zh_subject(title: str) -> str:
    """A patent title as the object of a sentence: drop the leading "一种" ("a kind of")."""
    subject = title.strip()
    if subject.startswith("一种") and len(subject) > 4:
        subject = subject[2:]
    return subject


def en_subject(title: str) -> str:
    """All-caps titles in sentence-friendly title case; other titles unchanged."""
    title = " ".join(title.split())
    if not title.isupper():
        return title
    words = title.lower().split(" ")
    return " ".join(
        word if index and word in EN_SMALL_WORDS else word[:1].upper() + word[1:]
        for index, word in enumerate(words)
    )


def title_key(title: str) -> str:
    return " ".join(title.split()).casefold()


# --- offers -------------------------------------------------------------------------------


def cn_offer(row: Record, seed: int) -> Record:
    rng = record_rng(seed, "offer", row["id"])
    kind = cn_kind(row["id"])
    tags = list(row["tags"])
    org_key = rng.choice(INSTITUTIONS_BY_SECTION[section_of(tags)])
    offer: Record = {
        "id": row["id"],
        "title": row["title"],
        "abstract": row.get("abstract") or "",
        "lang": "zh",
        "date": synthetic_date(rng).isoformat(),
        "org": DEMO_INSTITUTIONS[org_key],
        "tags": tags,
        "source": OFFER_SOURCES[CN_SET],
        "kind": "patent",
        "status": "published",
        "trl": rng.randint(*CN_KIND_TRL[kind]),
        "transfer_modes": weighted(rng, CN_TRANSFER_MODES),
        "ipc_level": row.get("ipc_level"),
        "upstream_row": row.get("upstream_row"),
        "demo_synthetic": ["date", "org", "trl", "price_fen", "transfer_modes"],
    }
    price = price_fen(rng, *CN_KIND_PRICE_YUAN[kind])
    if price is not None:
        offer["price_fen"] = price
    return offer


def nasa_offer(row: Record, seed: int) -> Record:
    rng = record_rng(seed, "offer", row["id"])
    # NASA's only tag is the patent's status: kept as its own field, since tags are fields
    # and IPC classes (facets and the home page's chart of fields read them).
    status = row["tags"][0] if row["tags"] else None
    low, high = NASA_STATUS_TRL.get(status or "", (3, 6))
    return {
        "id": row["id"],
        "title": row["title"],
        "abstract": row.get("abstract") or "",
        "lang": "en",
        "date": synthetic_date(rng).isoformat(),
        "org": row["org"],
        "tags": [],
        "patent_status": status,
        "source": OFFER_SOURCES[NASA_SET],
        "kind": "patent",
        "status": "published",
        "trl": rng.randint(low, high),
        "transfer_modes": weighted(rng, NASA_TRANSFER_MODES),
        "case_number": row.get("case_number"),
        "application_sn": row.get("application_sn"),
        "patent_expiration": row.get("patent_expiration"),
        "demo_synthetic": ["date", "trl", "transfer_modes"],
    }


# --- demands ------------------------------------------------------------------------------


def demand_common(rng: random.Random) -> Record:
    date = synthetic_date(rng)
    common: Record = {
        "date": date.isoformat(),
        "deadline": (date + dt.timedelta(days=rng.randint(60, 365))).isoformat(),
        "source": DEMAND_SOURCE,
        "status": "published",
        "confidential": False,
        "demo_synthetic": True,
    }
    if rng.random() < BUDGET_SHARE:
        low_wan = rng.choice(BUDGETS_WAN)
        high_wan = round(low_wan * rng.choice((1, 1.5, 2, 3, 5)))
        common["budget_min_fen"] = low_wan * 10_000 * FEN_PER_YUAN
        common["budget_max_fen"] = high_wan * 10_000 * FEN_PER_YUAN
    return common


def zh_demand(row: Record, seed: int) -> Record:
    rng = record_rng(seed, "demand", row["id"])
    subject = zh_subject(row["title"])
    section = section_of(row["tags"])
    area = IPC_AREAS[section]
    need = rng.choice(ZH_NEEDS).format(t=subject, area=area)
    return {
        "id": f"dmd-{row['id']}",
        "title": rng.choice(ZH_TITLES).format(t=subject),
        "description": need + rng.choice(ZH_TERMS),
        "lang": "zh",
        "org": rng.choice(DEMO_ENTERPRISES_ZH[section]),
        "tags": list(row["tags"]),
        "derived_from": row["id"],
        "derived_from_set": CN_SET,
        **demand_common(rng),
    }


def en_demand(row: Record, seed: int) -> Record:
    rng = record_rng(seed, "demand", row["id"])
    subject = en_subject(row["title"])
    need = rng.choice(EN_NEEDS).format(t=subject)
    terms = rng.choice(EN_TERMS)
    return {
        "id": f"dmd-{row['id']}",
        "title": rng.choice(EN_TITLES).format(t=subject),
        "description": f"{need} {terms}".strip(),
        "lang": "en",
        "org": rng.choice(DEMO_ENTERPRISES_EN),
        "tags": [],
        "derived_from": row["id"],
        "derived_from_set": NASA_SET,
        **demand_common(rng),
    }


# --- selection ----------------------------------------------------------------------------


def build(
    cn_rows: list[Record], nasa_rows: list[Record], seed: int
) -> tuple[list[Record], list[Record]]:
    """Return (offers, demands), each sorted by id."""
    cn_rows = sorted(cn_rows, key=lambda row: row["id"])
    nasa_rows = sorted(nasa_rows, key=lambda row: row["id"])

    cn_picked = random.Random(f"{seed}:cn-offers").sample(cn_rows, CN_OFFERS)
    cn_shipped_ids = {row["id"] for row in cn_picked}
    cn_shipped_titles = {title_key(row["title"]) for row in cn_picked}
    cn_pool = [
        row
        for row in cn_rows
        if row["id"] not in cn_shipped_ids
        and title_key(row["title"]) not in cn_shipped_titles
        and len(zh_subject(row["title"])) >= 4
    ]
    cn_pool = unique_titles(cn_pool)
    cn_for_demands = random.Random(f"{seed}:zh-demands").sample(cn_pool, ZH_DEMANDS)

    # English demands come from NASA patents that are held out of the offers; only titles that
    # occur once upstream qualify, so no shipped offer carries the same title.
    title_counts = Counter(title_key(row["title"]) for row in nasa_rows)
    nasa_unique = [row for row in nasa_rows if title_counts[title_key(row["title"])] == 1]
    nasa_held = random.Random(f"{seed}:en-demands").sample(nasa_unique, EN_DEMANDS)
    held_ids = {row["id"] for row in nasa_held}
    nasa_shipped = [row for row in nasa_rows if row["id"] not in held_ids]

    offers = [cn_offer(row, seed) for row in cn_picked]
    offers += [nasa_offer(row, seed) for row in nasa_shipped]
    demands = [zh_demand(row, seed) for row in cn_for_demands]
    demands += [en_demand(row, seed) for row in nasa_held]
    for record in (*offers, *demands):
        with_assignments(record, seed)

    demands.sort(key=lambda record: record["id"])
    confidential = random.Random(f"{seed}:confidential").sample(
        range(len(demands)), round(len(demands) * CONFIDENTIAL_SHARE)
    )
    for index in confidential:
        demands[index]["confidential"] = True
    offers.sort(key=lambda record: (record["source"], record["id"]))
    return offers, demands


def unique_titles(rows: Iterable[Record]) -> list[Record]:
    """Drop rows whose title repeats (keeps the first by id), so each demand reads differently."""
    seen: set[str] = set()
    kept: list[Record] = []
    for row in rows:
        key = title_key(row["title"])
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return kept


# --- checks -------------------------------------------------------------------------------


def check(offers: list[Record], demands: list[Record]) -> None:
    """Refuse to write anything that breaks a rule of the demo data set."""
    for name, records, required, sources in (
        ("offers", offers, ("id", "title", "abstract"), set(OFFER_SOURCES.values())),
        ("demands", demands, ("id", "title", "description"), {DEMAND_SOURCE}),
    ):
        ids = [record["id"] for record in records]
        if len(ids) != len(set(ids)):
            raise BuildError(f"{name}: duplicate ids")
        for record in records:
            where = f"{name} {record['id']}"
            if record["source"] not in sources:
                raise BuildError(f"{where}: source {record['source']!r} is not a demo source")
            if record["lang"] not in ("zh", "en"):
                raise BuildError(f"{where}: lang {record['lang']!r}")
            if not record["title"].strip():
                raise BuildError(f"{where}: empty title")
            for field in (*required, "org", "date"):
                value = record[field]
                if not isinstance(value, str) or "\x00" in value:
                    raise BuildError(f"{where}: {field} must be a string without NUL")
            if not 1 <= record.get("trl", 1) <= 9:
                raise BuildError(f"{where}: trl out of range")
            low, high = record.get("budget_min_fen"), record.get("budget_max_fen")
            if low is not None and high is not None and not 0 <= low <= high:
                raise BuildError(f"{where}: budget not ordered")
            if "deadline" in record and record["deadline"] <= record["date"]:
                raise BuildError(f"{where}: deadline not after date")
    langs = {record["lang"] for record in offers} | {record["lang"] for record in demands}
    if langs != {"zh", "en"}:
        raise BuildError("both languages must be present")


# --- output -------------------------------------------------------------------------------


def jsonl_gz(records: Iterable[Record]) -> bytes:
    text = "".join(
        json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n" for record in records
    )
    buffer = io.BytesIO()
    # No file name and mtime 0 in the gzip header: the bytes depend on the records only.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as out:
        out.write(text.encode("utf-8"))
    return buffer.getvalue()


def write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def readme(offers: list[Record], demands: list[Record], inputs: dict[str, str], seed: int) -> str:
    by_source = Counter(record["source"] for record in offers)
    by_lang = Counter(record["lang"] for record in demands)
    confidential = sum(record["confidential"] for record in demands)
    budgets = sum("budget_min_fen" in record for record in demands)
    priced = sum("price_fen" in record for record in offers)
    cn_repo, cn_commit, cn_file = UPSTREAM[CN_SET]
    nasa_repo, nasa_commit, nasa_file = UPSTREAM[NASA_SET]
    cn_offers = by_source[OFFER_SOURCES[CN_SET]]
    nasa_offers = by_source[OFFER_SOURCES[NASA_SET]]
    nasa_total = nasa_offers + by_lang["en"]
    districts = {
        record["org"]: record["org_district"]
        for record in (*offers, *demands)
        if "org_district" in record
    }
    district_count = len(districts)
    district_spread = len(set(districts.values()))
    command = (
        ".venv/bin/python scripts/build_demo_data.py"
        f" --shared {DEFAULT_SHARED} --out {DEFAULT_OUT} --seed {seed}"
    )
    institutions = "\n".join(f"  - {name}" for name in DEMO_INSTITUTIONS.values())
    enterprise_names = sorted({name for group in DEMO_ENTERPRISES_ZH.values() for name in group})
    enterprises = "\n".join(f"  - {name}" for name in [*enterprise_names, *DEMO_ENTERPRISES_EN])
    return f"""# TechBridge demo data

Generated by `scripts/build_demo_data.py` — do not edit by hand. `make demo-data` imports it
(`techbridge import offers data/demo/offers.jsonl.gz`, then `import demands …`).

| file | records | what |
|---|---:|---|
| `offers.jsonl.gz` | {len(offers):,} | {cn_offers:,} Chinese patents (`source` \
`demo-cn_patents`) + {nasa_offers:,} NASA patents in English (`source` `demo-nasa`) |
| `demands.jsonl.gz` | {len(demands):,} | {by_lang["zh"]:,} Chinese + {by_lang["en"]:,} \
English demands (`source` `demo-demands`), {confidential} confidential |

Format: JSON Lines, UTF-8, gzip (DESIGN.md "Data formats"). Records are sorted by id, keys are
sorted, and the gzip header carries no time stamp or file name, so a rebuild with the same
inputs and seed is byte-identical.

## Sources, licenses, attribution

Only two of the sets in `../shared/data` are used, because only their READMEs allow use as
demo data. Nothing from any other set (no text, title or id) is in this directory.

- **Chinese patents** — public CNIPA (China National Intellectual Property Administration)
  patent metadata: publication number, title and IPC subclasses. Taken from GitHub
  [`{cn_repo}`](https://github.com/{cn_repo}),
  commit `{cn_commit}`, file `{cn_file}`, via `../shared/data/{CN_SET}`.
  That repository's MIT license covers its code, **not** the patent metadata: its
  `DATA_NOTICE.md` asks users to check the original source's terms before redistribution or
  commercial use. We ship this sample as demo data only; anyone reusing it
  for something else should check CNIPA's terms first.
- **NASA patents** — NASA's public patent portfolio list ("NASA Patents", data.nasa.gov), a
  U.S. Government work (public domain in the U.S.). Taken from GitHub
  [`{nasa_repo}`](https://github.com/{nasa_repo}),
  commit `{nasa_commit}`, file `{nasa_file}` (that repository has no license file), via
  `../shared/data/{NASA_SET}`. Courtesy of NASA; NASA does not endorse TechBridge.

Input files (sha256):

- `{CN_SET}/offers.jsonl` `{inputs[CN_SET]}`
- `{NASA_SET}/offers.jsonl` `{inputs[NASA_SET]}`

## What is real and what is synthetic

Real: patent ids (`id` of offers, `derived_from` of demands), titles, IPC subclass `tags` of the
Chinese patents, NASA centre (`org`), patent status (`patent_status`: `Issued`/`Application`,
a tag upstream), and the upstream
extras `ipc_level`, `upstream_row`, `case_number`, `application_sn`, `patent_expiration`.
`abstract` is `""`: neither source has abstracts.

**Synthetic** (seeded per record, listed in each offer's `demo_synthetic`; demands carry
`demo_synthetic: true`):

- `date` of every offer and demand: spread over {DATE_FIRST}..{DATE_LAST}; the sources have
  no dates.
- `org` of the Chinese patents: upstream has no applicants, so each gets one of eight
  fictional, visibly labelled institutions, chosen by IPC section:
{institutions}
- `trl` (1–9, by patent kind/status), `transfer_modes`, and `price_fen` (in 分; present on
  {priced:,} Chinese offers, absent = negotiable; NASA offers have no price), `status` `published`.
- **Every demand.** Each is templated from the title of a patent that is *not* shipped as an
  offer (its id is in `derived_from`): Chinese ones from {CN_SET} titles with need statements
  that name the IPC section's field in words (tags = the source patent's IPC subclasses),
  English ones from NASA titles (all-caps titles recased). `budget_min_fen`/`budget_max_fen`
  (on {budgets} demands), `deadline`, and `confidential` ({confidential} of {len(demands)}
  demands) are synthetic too. Demanders are fictional, visibly labelled enterprises:
{enterprises}

Any resemblance of a demo name to a real organisation is unintended.

**Demo assignments** (listed in each record's `demo_assigned`; the listing page marks them):
the sources name no district and no service-chain segment, so without these the district and
segment facets and charts of the demo would be empty.

- `segment` of every offer and demand: one of the nine service-chain segments, by a seeded
  hash of the record's id.
- `org_district` (the organisation's district, set on import when it has none): each visibly
  demo organisation gets one of Shanghai's 16 districts by a seeded hash of its name
  ({district_count} organisations in {district_spread} districts). The NASA centres are real
  and get none.

## How it was built

1. Chinese offers: a seeded random sample of {CN_OFFERS:,} of the {CN_SET} records.
2. English offers: every NASA patent except {by_lang["en"]} held out (seeded, from titles that occur
   once upstream) for the English demands — so {nasa_offers:,} of {nasa_total:,}.
3. Chinese demands: {ZH_DEMANDS} patents drawn from the {CN_SET} records that are not shipped
   and whose title differs from every shipped title.
4. Synthetic fields as above, from `random.Random("<seed>:<purpose>:<id>")`.

Rebuild, from the project root (needs `../shared/data`; standard library only):

```sh
{command}
```

`tests/catalog/test_demo_data.py` checks these files and that a rebuild is byte-identical.
"""


# --- command line -------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--shared",
        type=Path,
        default=PROJECT_ROOT / DEFAULT_SHARED,
        help="the shared data directory (default: ../shared/data relative to the project root)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=PROJECT_ROOT / DEFAULT_OUT,
        help="output directory (default: data/demo relative to the project root)",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default: {DEFAULT_SEED})"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    shared: Path = args.shared
    out: Path = args.out
    inputs = {name: shared / name / "offers.jsonl" for name in (CN_SET, NASA_SET)}
    try:
        offers, demands = build(read_jsonl(inputs[CN_SET]), read_jsonl(inputs[NASA_SET]), args.seed)
        check(offers, demands)
        files = {
            "offers.jsonl.gz": jsonl_gz(offers),
            "demands.jsonl.gz": jsonl_gz(demands),
        }
        hashes = {name: sha256_of(path) for name, path in inputs.items()}
        files["README.md"] = readme(offers, demands, hashes, args.seed).encode("utf-8")
        total = sum(len(data) for data in files.values())
        if total > MAX_BYTES:
            raise BuildError(f"output is {total:,} bytes, over the {MAX_BYTES:,} limit")
    except BuildError as error:
        print(f"build_demo_data: {error}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        write_atomically(out / name, data)
    print(
        f"wrote {out}: {len(offers):,} offers, {len(demands):,} demands, "
        f"{total / 1024:,.0f} KiB in all"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
