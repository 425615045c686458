"""Synthetic ops records for the record-question evaluation: seeded, so one seed and one size
always give the same table, and small sizes are cheap enough for tests.

The table looks like what a normalization pipeline writes. Executions ``ex-YYYYMMDD-NN`` run at
night (JST), each one task on one prompt version; the versions roll out over the weeks (v1 first,
v4 last, with the odd canary or rollback on the previous one). Each record succeeded, needs
review or failed, at rates that depend on the prompt version, vary a little per execution and
jump on the occasional night of Bedrock throttling. Failures carry the error text. A few whole
executions, and a few records elsewhere, are visible only to ``ops-restricted``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from kotae.errors import InputError

JST = timezone(timedelta(hours=9))
VERSIONS = ("v1", "v2", "v3", "v4")
# (needs_review, failed) per prompt version; the rest succeeded. About 93 / 5 / 2 overall.
STATUS_RATES: dict[str, tuple[float, float]] = {
    "v1": (0.065, 0.030),
    "v2": (0.055, 0.022),
    "v3": (0.040, 0.012),
    "v4": (0.045, 0.016),
}
INCIDENT_SHARE = 0.06  # executions hit by a night of throttling (at least one)
INCIDENT_FAILURES = 5.0  # how many times more failures such a night has
STRAY_RESTRICTED = 0.004  # records of ordinary executions that only ops-restricted may see
OPS, RESTRICTED = "ops", "ops-restricted"
MIN_EXECUTIONS, MIN_RECORDS_PER_EXECUTION = 8, 40
TASKS = ("normalize_company_name", "normalize_address", "classify_inquiry")

_STEMS = ["星空", "青葉", "みなと", "桜井", "北斗", "富士見", "若葉", "東雲", "銀河", "大和", "瀬戸内",
          "白鷺", "朝日", "緑川", "神田", "千代田", "浪速", "琴平", "紅葉", "松風", "ひかり", "やまびこ"]  # fmt: skip
_TRADES = ["物流", "運輸", "商事", "製作所", "電機", "食品", "建設", "印刷", "工業", "薬品", "パック"]
_FORMS = {"株式会社": ["(株)", "㈱", "（株）", "株式会社 "], "有限会社": ["(有)", "㈲", "有限会社　"],
          "合同会社": ["(同)", "合同会社 "]}  # fmt: skip
_PLACES = [  # prefecture, city, town, postal code (made up, plausible)
    ("東京都", "港区", "芝浦", "108-0023"), ("東京都", "江東区", "有明", "135-0063"),
    ("神奈川県", "横浜市中区", "山下町", "231-0023"), ("大阪府", "大阪市北区", "梅田", "530-0001"),
    ("愛知県", "名古屋市中村区", "名駅", "450-0002"), ("福岡県", "福岡市博多区", "博多駅前", "812-0011"),
    ("北海道", "札幌市中央区", "北一条西", "060-0001"), ("宮城県", "仙台市青葉区", "中央", "980-0021"),
    ("兵庫県", "神戸市中央区", "港島", "650-0045"), ("埼玉県", "さいたま市大宮区", "桜木町", "330-0854"),
]  # fmt: skip
_INQUIRIES = [
    ("請求書の再発行をお願いできますか", "billing"), ("納品書の宛名を変更したいです", "billing"),
    ("配送予定日を教えてください", "delivery"), ("荷物がまだ届きません、今どこですか", "delivery"),
    ("商品が破損して届きました", "damage"), ("箱が潰れていて中身が心配です", "damage"),
    ("パスワードを忘れてログインできません", "account"), ("担当者のメールアドレスを変更したい", "account"),
    ("解約の手続き方法を知りたい", "cancellation"), ("来月から契約を止めたいのですが", "cancellation"),
    ("Where is my order? It was due yesterday.", "delivery"), ("Please resend the invoice for October.", "billing"),
]  # fmt: skip
_CATEGORIES = ("billing", "delivery", "damage", "account", "cancellation", "other")
_FIELDS = {"normalize_company_name": ("company_name", "legal_form"),
           "normalize_address": ("postal_code", "prefecture", "city", "street"),
           "classify_inquiry": ("category", "confidence")}  # fmt: skip
_ENDPOINT = "https://bedrock-runtime.ap-northeast-1.amazonaws.com/model/jp.anthropic.claude-haiku-4-5-20251001-v1:0/converse"


@dataclass(frozen=True)
class Execution:
    execution_id: str
    task_name: str
    prompt_version: str
    started: datetime
    size: int
    restricted: bool
    incident: bool
    jitter: float  # this run's status rates against its version's (0.7 to 1.3)


@dataclass(frozen=True)
class RecordTable:
    executions: list[Execution]
    records: list[dict[str, Any]]


def generate(
    seed: int, *, records: int = 30_000, executions: int = 40, start: date = date(2026, 11, 5)
) -> RecordTable:
    """The table for ``seed``: ``records`` items of kind ``record`` over ``executions`` runs."""
    if executions < MIN_EXECUTIONS:
        raise InputError(f"the record set needs at least {MIN_EXECUTIONS} executions, got {executions}")
    if records < MIN_RECORDS_PER_EXECUTION * executions:
        raise InputError(
            f"{executions} executions need at least {MIN_RECORDS_PER_EXECUTION * executions} records, got {records}"
        )
    rng = random.Random(seed)
    plan = plan_executions(rng, executions, records, start)
    width = max(6, len(str(records)))
    rows: list[dict[str, Any]] = []
    for run in plan:
        for index in range(run.size):
            rows.append(make_record(rng, run, index, record_id=f"r-{len(rows) + 1:0{width}d}"))
    return RecordTable(plan, rows)


def plan_executions(rng: random.Random, count: int, records: int, start: date) -> list[Execution]:
    """Runs over the weeks from ``start``: 0–2 a night, versions rolled out in order."""
    days: list[tuple[date, int]] = []
    day = start
    while len(days) < count:
        for number in range(1, rng.choice([0, 1, 1, 1, 2]) + 1):
            days.append((day, number))
        day += timedelta(days=1)
    days = days[:count]
    sizes = _split(rng, records, count)
    restricted = _restricted(rng, count)
    incidents = set(rng.sample(range(count), max(1, round(count * INCIDENT_SHARE))))
    plan = []
    for index, (day, number) in enumerate(days):
        phase = min(len(VERSIONS) - 1, index * len(VERSIONS) // count)
        first_of_phase = index == 0 or min(len(VERSIONS) - 1, (index - 1) * len(VERSIONS) // count) != phase
        if phase and not first_of_phase and rng.random() < 0.2:
            phase -= 1  # a canary or a rollback on the previous version
        started = datetime.combine(day, time(1 + 3 * (number - 1), rng.randrange(60)), JST)
        plan.append(
            Execution(
                execution_id=f"ex-{day:%Y%m%d}-{number:02d}",
                task_name=rng.choice(TASKS),
                prompt_version=VERSIONS[phase],
                started=started,
                size=sizes[index],
                restricted=index in restricted,
                incident=index in incidents,
                jitter=rng.uniform(0.7, 1.3),
            )
        )
    return plan


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` uneven shares (0.4 to 1.6 of the mean), largest remainders first."""
    weights = [rng.uniform(0.4, 1.6) for _ in range(parts)]
    exact = [total * w / sum(weights) for w in weights]
    sizes = [int(x) for x in exact]
    for index in sorted(range(parts), key=lambda i: exact[i] - sizes[i], reverse=True)[: total - sum(sizes)]:
        sizes[index] += 1
    return sizes


def _restricted(rng: random.Random, count: int) -> set[int]:
    """Which executions only ops-restricted may see: about one in twenty, never the first two
    (so v1 always has visible runs)."""
    return set(rng.sample(range(2, count), max(1, count // 20)))


def make_record(rng: random.Random, run: Execution, index: int, *, record_id: str) -> dict[str, Any]:
    """One record of ``run``: four workers finish together every two seconds (so timestamps
    tie), and a timeout finishes a minute later."""
    status = _status(rng, run)
    error = _error(rng, run, status) if status == "failed" else None
    input_value, output = _content(rng, run.task_name, status)
    finished = run.started + timedelta(seconds=2 * (index // 4) + (60 if error and "Timeout" in error else 0))
    scopes = [RESTRICTED] if run.restricted or rng.random() < STRAY_RESTRICTED else [OPS]
    record: dict[str, Any] = {
        "item_key": f"record-{run.execution_id}-{index + 1:0{max(4, len(str(run.size)))}d}",
        "kind": "record",
        "record_id": record_id,
        "execution_id": run.execution_id,
        "task_name": run.task_name,
        "prompt_version": run.prompt_version,
        "input_value": input_value,
        "normalized_output": output,
        "status": status,
        "updated_at": finished.isoformat(timespec="seconds"),
        "scopes": scopes,
    }
    if error:
        record["error"] = error
    return record


def _status(rng: random.Random, run: Execution) -> str:
    review, failed = STATUS_RATES[run.prompt_version]
    failed *= run.jitter * (INCIDENT_FAILURES if run.incident else 1.0)
    review *= run.jitter
    draw = rng.random()
    return "failed" if draw < failed else "needs_review" if draw < failed + review else "succeeded"


def _error(rng: random.Random, run: Execution, status: str) -> str:
    """The error text of a failure: throttling (most of an incident night), a timeout, or output
    that broke the task's schema."""
    throttled = 0.85 if run.incident else 0.35
    draw = rng.random()
    if draw < throttled:
        return (
            "ThrottlingException: An error occurred (ThrottlingException) when calling the Converse "
            "operation (reached max retries: 4): Too many requests, please wait before trying again."
        )
    if draw < throttled + (1 - throttled) * 0.4:
        return f'ReadTimeoutError: Read timeout on endpoint URL: "{_ENDPOINT}"'
    field = rng.choice(_FIELDS[run.task_name])
    problem = rng.choice(
        [f"{field!r} is a required property", f"{field!r}: None is not of type 'string'"]
        + (
            ["'category' must be one of " + ", ".join(_CATEGORIES)]
            if run.task_name == "classify_inquiry"
            else []
        )
        + ([r"'postal_code' does not match '^\d{3}-\d{4}$'"] if run.task_name == "normalize_address" else [])
    )
    return f"SchemaValidationError: {problem}"


def _content(rng: random.Random, task: str, status: str) -> tuple[str, dict[str, Any] | None]:
    """(input value, normalized output); a failure has no output."""
    if task == "normalize_company_name":
        value, output = _company(rng)
    elif task == "normalize_address":
        value, output = _address(rng)
    else:
        value, output = _inquiry(rng, status)
    return value, None if status == "failed" else output


def _company(rng: random.Random) -> tuple[str, dict[str, Any]]:
    name = rng.choice(_STEMS) + rng.choice(_TRADES)
    form = rng.choice(list(_FORMS))
    canonical = f"{form}{name}" if rng.random() < 0.5 else f"{name}{form}"
    noisy = rng.choice(_FORMS[form])
    spaced = name if rng.random() < 0.6 else f"{name[:2]}　{name[2:]}"
    value = f"{noisy}{spaced}" if rng.random() < 0.5 else f"{spaced}{noisy.strip()}"
    if rng.random() < 0.15:
        value += rng.choice(["（本社）", " 御中", "（旧社名あり）"])
    return value, {"company_name": canonical, "legal_form": form}


def _address(rng: random.Random) -> tuple[str, dict[str, Any]]:
    prefecture, city, town, postal = rng.choice(_PLACES)
    block, lot, number = rng.randint(1, 9), rng.randint(1, 30), rng.randint(1, 20)
    wide = str.maketrans("0123456789", "０１２３４５６７８９")
    forms = [
        f"{prefecture}{city}{town}{block}丁目{lot}番{number}号".translate(wide),
        f"〒{postal} {city}{town}{block}-{lot}-{number}",
        f"{city}{town}{block}丁目{lot}-{number}",
        f"{prefecture} {city} {town} {block}-{lot}-{number} {rng.randint(2, 12)}F",
    ]
    street = f"{town}{block}-{lot}-{number}"
    return rng.choice(forms), {
        "postal_code": postal,
        "prefecture": prefecture,
        "city": city,
        "street": street,
    }


def _inquiry(rng: random.Random, status: str) -> tuple[str, dict[str, Any]]:
    text, category = rng.choice(_INQUIRIES)
    if rng.random() < 0.4:
        text += f"（注文番号 A-{rng.randint(100000, 999999)}）"
    low = status == "needs_review"
    confidence = round(rng.uniform(0.38, 0.6) if low else rng.uniform(0.72, 0.99), 2)
    return text, {"category": "other" if low and rng.random() < 0.3 else category, "confidence": confidence}
