"""ROI overview speed on a shop with 1,000,000 events, beside GET /healthz on the same server in the
same run, plus the cost of building the rollups the page reads.

Run: `python tests/bench/bench_dashboard.py` (or `make bench-dashboard`). Needs a local PostgreSQL and
Redis; the database in BENCH_DATABASE_URL (default pz_bench_dashboard) is dropped and made anew and the
Redis db in BENCH_REDIS_URL (default db 12) is used for cache and sessions. Writes
bench/results/dashboard.json.

The shop (seeded, so every run builds the same one): 100,000 visitors over the last 90 days, 1,000,000
events written with the collect path's bulk insert (events.bulk.insert_rows): page and product views,
carts, recommendation impressions and clicks (six widget types), campaign impressions and clicks
(four campaigns), purchases (about 34,000 orders of one to three lines, through events.services.
record_orders). A purchase's first line is often the product of the visitor's previous event, so
clicks earn attributed revenue; the 5% hold-out sees no widget or campaign and converts a little less.

Then the rollups are rebuilt for all 91 days (timed; what `manage.py rebuild_analytics` does), and
for today and yesterday (timed; what Celery beat does every 5 minutes). gunicorn (sync workers,
DEBUG=0, PostgreSQL + Redis as in production) serves the dashboard to a logged-in member; each page is
requested sequentially (warm-up, then REQUESTS times) with GET /healthz before and after it; server time
comes from gunicorn's access log (%(D)s). The quick ranges (7, 30, 90 days) read the hold-out sums
beat snapshotted; the custom 60-day range groups them live.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.bench.common import ROOT, fresh_database, manage, write_result  # noqa: E402

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pz_bench_dashboard")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
PORT = 8125
WORKERS = 2
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "40"))
TARGET_MS = 300.0

N_EVENTS = int(os.environ.get("BENCH_EVENTS", "1000000"))  # fewer only to try the script
N_VISITORS = N_EVENTS // 10
N_PRODUCTS = 5_000
DAYS = 90
WIDGETS = ("for_you", "similar", "bought_together", "trending", "recently_viewed", "cart")
# type, share of events
MIX = [
    ("page_view", 0.33),
    ("product_view", 0.30),
    ("add_to_cart", 0.06),
    ("rec_impression", 0.16),
    ("rec_click", 0.05),
    ("campaign_impression", 0.04),
    ("campaign_click", 0.01),
    ("purchase", 0.05),
]

ENV = {
    **os.environ,
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "CELERY_BROKER_URL": "memory://",
    "DEBUG": "0",
    "SECRET_KEY": "bench-dashboard-only-not-a-secret-" + "x" * 20,
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "0",
    "CACHE_KEY_PREFIX": "pz-bench-dashboard",
    "LOG_LEVEL": "WARNING",
    "DJANGO_SETTINGS_MODULE": "personalize.settings",
}


def synthesize_and_store(shop) -> dict:
    """Generate the shop's history and write it through the product's bulk insert and order service."""
    from personalize.events.bulk import insert_rows
    from personalize.events.models import Event
    from personalize.events.services import OrderIn, record_orders
    from personalize.recommend.rules import is_holdout

    rng = np.random.default_rng(20_261_125)
    now = datetime.now(UTC) - timedelta(minutes=5)
    activity = rng.lognormal(0.0, 1.2, N_VISITORS)
    counts = 1 + rng.multinomial(N_EVENTS - N_VISITORS, activity / activity.sum())
    visitor = np.repeat(np.arange(N_VISITORS), counts)
    visitor_ids = [str(uuid.UUID(int=int(x), version=4)) for x in rng.integers(0, 2**63, N_VISITORS)]
    held = np.array([is_holdout(shop_id=shop.id, visitor_id=v, share=0.05) for v in visitor_ids])
    start = now.timestamp() - DAYS * 86400 + rng.random(N_VISITORS) * (DAYS - 1) * 86400
    gap = rng.exponential(3 * 3600, N_EVENTS)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    offset = np.cumsum(gap) - np.repeat(np.cumsum(gap)[first] - gap[first], counts)
    ts = np.minimum(start[visitor] + offset, now.timestamp())
    kinds = [k for k, _ in MIX]
    kind = rng.choice(len(MIX), N_EVENTS, p=[p for _, p in MIX])
    personal = {
        kinds.index(k) for k in ("rec_impression", "rec_click", "campaign_impression", "campaign_click")
    }
    # the hold-out gets no personalization: those events become page views, and 15% of its purchases vanish
    for k in personal:
        kind[(kind == k) & held[visitor]] = kinds.index("page_view")
    lost = (kind == kinds.index("purchase")) & held[visitor] & (rng.random(N_EVENTS) < 0.15)
    kind[lost] = kinds.index("page_view")
    rank = rng.permutation(N_PRODUCTS)
    popularity = 1.0 / (rank + 10.0) ** 0.9
    product = rng.choice(N_PRODUCTS, N_EVENTS, p=popularity / popularity.sum())
    price = np.round(np.exp(rng.normal(3.0, 0.6, N_PRODUCTS)), 2)
    widget = rng.integers(0, len(WIDGETS), N_EVENTS)
    campaign = rng.integers(1, 5, N_EVENTS)
    same_visitor_before = np.r_[False, visitor[1:] == visitor[:-1]]

    received = datetime.now(UTC)
    rows, orders = [], []
    stored = 0
    for i in range(N_EVENTS):
        k = kinds[kind[i]]
        t = datetime.fromtimestamp(ts[i], UTC)
        vid = visitor_ids[visitor[i]]
        p = f"p{product[i]}"
        row = {
            "shop_id": shop.id,
            "event_id": uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | i, version=4),
            "type": k,
            "visitor_id": vid,
            "session_id": "s-" + vid[:8],
            "customer_id": "",
            "ts": t,
            "received_at": received,
            "url": "",
            "referrer": "",
            "product_id": p if k in ("product_view", "add_to_cart", "rec_click") else "",
            "quantity": None,
            "price": None,
            "currency": "",
            "order_id": "",
            "revenue": None,
            "items": None,
            "query": "",
            "rec_id": "r" if k.startswith("rec_") else "",
            "campaign_id": str(campaign[i]) if k.startswith("campaign_") else "",
            "properties": {"widget": WIDGETS[widget[i]]} if k.startswith("rec_") else None,
        }
        if k == "purchase":
            first_product = f"p{product[i - 1]}" if same_visitor_before[i] else p
            lines = [
                {"product_id": first_product, "quantity": 1, "price": Decimal(str(price[product[i - 1]]))}
            ]
            for extra in rng.integers(0, N_PRODUCTS, int(rng.integers(0, 3))):
                lines.append(
                    {
                        "product_id": f"p{extra}",
                        "quantity": int(rng.integers(1, 3)),
                        "price": Decimal(str(price[extra])),
                    }
                )
            revenue = sum(line["price"] * line["quantity"] for line in lines)
            row.update(
                order_id=f"o{i}",
                revenue=revenue,
                currency="USD",
                items=[{**li, "price": float(li["price"])} for li in lines],
            )
            orders.append(OrderIn(f"o{i}", revenue, t, lines, visitor_id=vid, currency="USD"))
        rows.append(row)
        if len(rows) == 10_000:
            stored += len(insert_rows(Event, rows, conflict=("shop_id", "event_id"), returning=("id",)))
            rows = []
        if len(orders) == 5_000:
            record_orders(shop=shop, orders=orders, source="import")
            orders = []
    if rows:
        stored += len(insert_rows(Event, rows, conflict=("shop_id", "event_id"), returning=("id",)))
    if orders:
        record_orders(shop=shop, orders=orders, source="import")
    return {
        "events": stored,
        "visitors": N_VISITORS,
        "holdout_visitors": int(held.sum()),
        "orders": int((kind == kinds.index("purchase")).sum()),
        "days": DAYS,
        "products": N_PRODUCTS,
    }


def server_times(log: Path, offset: int) -> tuple[dict[str, list[float]], int]:
    """Server milliseconds per path of the access-log lines written since `offset`."""
    with log.open("rb") as f:
        f.seek(offset)
        chunk = f.read()
    out: dict[str, list[float]] = {}
    for line in chunk.decode().splitlines():
        path, status, micros = line.split()
        if status != "200":
            raise RuntimeError(f"{path} answered {status}")
        out.setdefault(path, []).append(int(micros) / 1000)
    return out, offset + len(chunk)


def stats_ms(values: list[float]) -> dict:
    a = np.array(values)
    return {
        "n": len(values),
        "p50_ms": round(float(np.percentile(a, 50)), 2),
        "p95_ms": round(float(np.percentile(a, 95)), 2),
        "max_ms": round(float(a.max()), 2),
    }


def main() -> None:
    fresh_database(DATABASE_URL)
    os.environ.update(ENV)
    manage("migrate", "--noinput", env=ENV)
    import django

    django.setup()
    from django.core.cache import cache
    from django.test import Client

    from personalize.analytics.rollups import days_between, rebuild_days
    from personalize.analytics.tasks import rebuild_days_task
    from personalize.shops.services import create_shop
    from tests.factories import make_user

    cache.clear()
    user = make_user("bench@example.com")
    shop = create_shop(name="Bench shop", domains=["bench.example"], owner=user, currency="USD")
    started = time.perf_counter()
    facts = synthesize_and_store(shop)
    load_seconds = time.perf_counter() - started
    print(f"{facts['events']:,} events stored in {load_seconds:.0f} s; rebuilding rollups…", flush=True)
    manage("shell", "-c", "from django.db import connection; connection.cursor().execute('ANALYZE')", env=ENV)

    today = datetime.now(UTC).date()
    started = time.perf_counter()
    rebuild_days(shop=shop, days=days_between(today - timedelta(days=DAYS), today))
    full_rebuild = time.perf_counter() - started
    started = time.perf_counter()
    rebuild_days_task(shop.id, [(today - timedelta(days=1)).isoformat(), today.isoformat()])  # beat's work
    recent_rebuild = time.perf_counter() - started
    # autovacuum's ANALYZE would see the new rollup tables soon; do it now rather than wait
    manage("shell", "-c", "from django.db import connection; connection.cursor().execute('ANALYZE')", env=ENV)
    print(
        f"rollups: {DAYS + 1} days in {full_rebuild:.1f} s; today+yesterday in {recent_rebuild:.2f} s",
        flush=True,
    )

    client = Client()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    base = f"http://127.0.0.1:{PORT}"
    shop_url = f"/dashboard/shops/{shop.id}/"
    ninety = f"start={(today - timedelta(days=89)).isoformat()}&end={today.isoformat()}"
    pages = {
        "overview_30_days": shop_url,
        "overview_90_days": shop_url + "?" + ninety,
        # not one of the quick ranges, so no snapshot: the hold-out sums are grouped live
        "overview_60_days_custom": shop_url
        + f"?start={(today - timedelta(days=59)).isoformat()}&end={today.isoformat()}",
        "csv_days_90_days": shop_url + "analytics/days.csv?" + ninety,
        "csv_uplift_90_days": shop_url + "analytics/uplift.csv?" + ninety,
        "live_json": shop_url + "analytics/live.json",
    }

    tmp = Path(tempfile.mkdtemp(prefix="pz-bench-dashboard-"))
    log = tmp / "access.log"
    log.touch()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "personalize.wsgi", "-w", str(WORKERS), "-b", f"127.0.0.1:{PORT}",
         "--log-level", "warning", "--access-logfile", str(log), "--access-logformat", "%(U)s %(s)s %(D)s"],
        cwd=ROOT, env=ENV, start_new_session=True,
    )  # fmt: skip
    results = {}
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)

        def get(path: str, n: int) -> list[float]:
            took = []
            for _ in range(n):
                request = urllib.request.Request(base + path, headers={"Cookie": cookie})
                t = time.perf_counter()
                with urllib.request.urlopen(request, timeout=30) as response:
                    response.read()
                took.append((time.perf_counter() - t) * 1000)
            return took

        for path in ["/healthz", *pages.values()]:
            get(path, 4)  # warm every worker
        offset = log.stat().st_size
        healthz = []
        for name, path in pages.items():
            print(f"  {name}…", flush=True)
            get("/healthz", REQUESTS)
            client_ms = get(path, REQUESTS)
            get("/healthz", REQUESTS)
            times, offset = server_times(log, offset)
            healthz += times["/healthz"]
            results[name] = {
                "server": stats_ms(times[path.split("?")[0]]),
                "client": stats_ms(client_ms),
                "path": path,
            }
        healthz_stats = stats_ms(healthz)
        for r in results.values():
            r["ratio_to_healthz_p50"] = round(r["server"]["p50_ms"] / healthz_stats["p50_ms"], 1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    overview = [results[k]["server"]["p95_ms"] for k in ("overview_30_days", "overview_90_days")]
    custom = results["overview_60_days_custom"]["server"]["p95_ms"]
    summary = {
        "what": "ROI overview server time on a 1M-event shop, beside /healthz; rollup build times",
        "server": f"gunicorn {WORKERS} sync workers, DEBUG=0, PostgreSQL + Redis; {REQUESTS} sequential "
        "requests a page after warm-up; server time from gunicorn's access log (%(D)s)",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "shop": facts,
        "load_seconds": round(load_seconds, 1),
        "rollups": {
            "full_rebuild_days": DAYS + 1,
            "full_rebuild_seconds": round(full_rebuild, 1),
            "today_and_yesterday_seconds": round(recent_rebuild, 2),
        },
        "healthz": healthz_stats,
        "pages": results,
        "target": {
            "overview_p95_ms_below": TARGET_MS,
            "met_for_the_quick_ranges": max(overview) < TARGET_MS,
            "met_for_a_custom_60_day_range": custom < TARGET_MS,
        },
    }
    path = write_result("dashboard", summary)
    print(json.dumps(summary, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
