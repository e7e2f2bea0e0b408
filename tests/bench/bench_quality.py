"""Recommendation quality: the product's own pipeline (import_events, catalog upsert, training, serving)
scored on UCI Online Retail and Ta-Feng under the protocol of ../shared/datasets/*/SOURCE.md, beside
most-popular, item-kNN and implicit ALS fitted in the same run on the same matrices.

Run: `python tests/bench/bench_quality.py [online_retail|ta_feng ...]` (or `make bench-quality`). Needs
../shared/datasets and a local PostgreSQL; the database in BENCH_DATABASE_URL (default
pz_bench_quality) is dropped and made anew. Writes bench/results/quality.json.

Per dataset:
1. The purchase lines in the import_events format (online_retail: build_slice's filter and
   `write_events`, customers only; ta_feng: every row, order = customer + day, price = SALES_PRICE /
   AMOUNT). Only the rows before the global cutoff are imported into a fresh shop.
2. The catalog (upsert_products): the products seen before the cutoff. online_retail: title = the
   description, most common unit price, build_slice's `categorize`; ta_feng: title = the barcode,
   categories [sub-class[:4], sub-class], median unit price.
3. One training through `train_version` (the same code the Celery task runs); its status, decision
   and internal hold-out metrics are recorded as they are.
4. Hold-out share 0 for the shop; every evaluated user (>= 2 distinct train items, >= 1 new-to-user
   train-catalogue item after the cutoff) gets one `for_you` request (limit 10, visitor_id = the
   imported visitor) through `serving.recommend`, scored against the new-to-user ground truth.
   Two diagnostic rows: the answer to a request for 50 with the user's train items dropped on the
   bench side (what "not already bought" leaves to do), and the active version's precomputed
   top-N (its artifacts, without serving's candidate re-rank).
5. Ta-Feng also gets a buy-again table: ground truth = every train-catalogue item bought after the
   cutoff, exclude_purchased off for the product, baselines free to recommend seen items.

BENCH_FORCE_ACTIVATE=1 activates a version the pipeline rejected (so the model itself gets scored);
the default scores the product as it would serve.
"""

import csv
import gzip
import io
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.bench.common import RESULTS, ROOT, fresh_database, write_result  # noqa: E402

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pz_bench_quality")
DATASETS = ROOT.parent / "shared" / "datasets"
SOURCES = {
    "online_retail": DATASETS / "online_retail" / "online_retail.csv.gz",
    "ta_feng": DATASETS / "ta_feng" / "ta_feng_all_months_merged.csv.gz",
}
CUTOFFS = {"online_retail": datetime(2011, 11, 1, tzinfo=UTC), "ta_feng": datetime(2001, 2, 1, tzinfo=UTC)}
# for_you NDCG@10 must reach this multiple of the best baseline's (new-to-user table).
TARGETS = {"online_retail": 1.1, "ta_feng": 1.0}
K = 10
DIAGNOSTIC_LIMIT = 50
FORCE_ACTIVATE = os.environ.get("BENCH_FORCE_ACTIVATE", "") == "1"


@dataclass
class Split:
    """The global temporal split of one dataset, over the train users and the train catalogue."""

    visitors: list[str]  # row -> visitor_id as imported
    products: list[str]  # column -> product_id
    train: sp.csr_matrix  # (n_users, n_items) binary
    test: sp.csr_matrix  # (n_users, n_items) binary, every item bought after the cutoff
    train_rows: int
    test_rows: int


# --- the datasets in the import_events format ------------------------------------------------------


def online_retail_events(out) -> int:
    from personalize.demo.build_slice import write_events

    return write_events(SOURCES["online_retail"], out, since=None, guests=False)


def ta_feng_events(out) -> int:
    from personalize.demo.build_slice import EVENT_COLUMNS

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EVENT_COLUMNS)
    count = 0
    with gzip.open(SOURCES["ta_feng"], "rt", encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            day = datetime.strptime(row["TRANSACTION_DT"], "%m/%d/%Y")
            customer, amount = row["CUSTOMER_ID"], int(row["AMOUNT"])
            price = float(row["SALES_PRICE"]) / amount
            writer.writerow(
                [
                    day.strftime("%Y-%m-%dT00:00:00Z"),
                    "c" + customer,
                    "purchase",
                    row["PRODUCT_ID"],
                    amount,
                    f"{price:.4f}",
                    f"{customer}-{day:%Y%m%d}",
                ]
            )
            count += 1
    return count


def online_retail_catalog(cutoff: datetime, product_ids: list[str]) -> list[dict]:
    from personalize.demo.build_slice import categorize, read_lines

    descriptions: dict[str, Counter] = defaultdict(Counter)
    prices: dict[str, Counter] = defaultdict(Counter)
    for line in read_lines(SOURCES["online_retail"]):
        if line["ts"] >= cutoff:
            continue
        if line["description"]:
            descriptions[line["code"]][line["description"]] += 1
        prices[line["code"]][line["price"]] += 1
    rows = []
    for code in product_ids:
        description = descriptions[code].most_common(1)[0][0] if descriptions[code] else f"Item {code}"
        rows.append(
            {
                "product_id": code,
                "title": description,
                "price": prices[code].most_common(1)[0][0],
                "currency": "GBP",
                "categories": categorize(description),
            }
        )
    return rows


def ta_feng_catalog(cutoff: datetime, product_ids: list[str]) -> list[dict]:
    subclass: dict[str, str] = {}
    prices: dict[str, list[float]] = defaultdict(list)
    with gzip.open(SOURCES["ta_feng"], "rt", encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            if datetime.strptime(row["TRANSACTION_DT"], "%m/%d/%Y").replace(tzinfo=UTC) >= cutoff:
                continue
            item = row["PRODUCT_ID"]
            subclass.setdefault(item, row["PRODUCT_SUBCLASS"])
            prices[item].append(float(row["SALES_PRICE"]) / int(row["AMOUNT"]))
    return [
        {
            "product_id": item,
            "title": item,
            "price": f"{float(np.median(prices[item])):.4f}",
            "currency": "TWD",
            "categories": [subclass[item][:4], subclass[item]],
        }
        for item in product_ids
    ]


WRITERS = {"online_retail": online_retail_events, "ta_feng": ta_feng_events}
CATALOGS = {"online_retail": online_retail_catalog, "ta_feng": ta_feng_catalog}


def split_file(all_path: Path, train_path: Path, cutoff: datetime) -> Split:
    """Write the rows before `cutoff` to `train_path`; build the train and test matrices."""
    cut = cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")  # the files' ts are this format, so text order is time order
    train_pairs, test_pairs = [], []
    with (
        all_path.open(encoding="utf-8", newline="") as f,
        train_path.open("w", encoding="utf-8", newline="") as out,
    ):
        header = f.readline()
        out.write(header)
        for line in f:
            ts, visitor, _, product, _ = line.split(",", 4)
            if ts < cut:
                out.write(line)
                train_pairs.append((visitor, product))
            else:
                test_pairs.append((visitor, product))
    visitors = sorted({v for v, _ in train_pairs})
    products = sorted({p for _, p in train_pairs})
    row = {v: n for n, v in enumerate(visitors)}
    col = {p: n for n, p in enumerate(products)}

    def matrix(pairs) -> sp.csr_matrix:
        kept = [(row[v], col[p]) for v, p in pairs if v in row and p in col]
        r, c = (np.array(x, dtype=np.int32) for x in zip(*kept, strict=True)) if kept else ([], [])
        m = sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(len(visitors), len(products)))
        m.sum_duplicates()
        m.data[:] = 1.0
        return m

    return Split(
        visitors, products, matrix(train_pairs), matrix(test_pairs), len(train_pairs), len(test_pairs)
    )


# --- scoring ---------------------------------------------------------------------------------------


def rounded(metrics: dict) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()}


def score_lists(lists: np.ndarray, truth: sp.csr_matrix, users: np.ndarray, n_items: int) -> dict:
    from personalize.recommend import evaluation

    return evaluation.ranking_metrics(lists, truth[users], n_items)


def baseline_rows(split: Split, users: np.ndarray, truth: sp.csr_matrix, exclude_seen: bool) -> list[dict]:
    """most-popular, item-kNN (cosine, K=100) and implicit ALS (defaults), fitted on split.train."""
    from personalize.recommend import evaluation

    rows = []
    makers = [
        ("most_popular", evaluation.most_popular),
        ("item_knn_cosine_k100", lambda m: evaluation.item_knn(m, k=100)),
        ("implicit_als", evaluation.als),
    ]
    for name, make in makers:
        started = time.perf_counter()
        recommend = make(split.train)
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        lists = []
        for start in range(0, len(users), 2048):
            batch = users[start : start + 2048]
            lists.append(
                evaluation.top_k(recommend(batch), K, exclude=split.train[batch] if exclude_seen else None)
            )
        ranked = np.vstack(lists)
        metrics = score_lists(ranked, truth, users, split.train.shape[1])
        rows.append(
            {
                "model": name,
                **rounded(metrics),
                "fit_seconds": round(fit_seconds, 2),
                "recommend_seconds": round(time.perf_counter() - started, 2),
            }
        )
    return rows


def ask_for_you(shop, split: Split, users: np.ndarray, limit: int) -> tuple[np.ndarray, list[float]]:
    """(m, limit) train-catalogue columns of each user's for_you answer (-1: empty or unknown)."""
    from personalize.recommend.serving import Query, recommend

    col = {p: n for n, p in enumerate(split.products)}
    out = np.full((len(users), limit), -1, dtype=np.int64)
    seconds = []
    for n, user in enumerate(users.tolist()):
        started = time.perf_counter()
        answer = recommend(
            shop=shop, query=Query(widget="for_you", visitor_id=split.visitors[user], limit=limit)
        )
        seconds.append(time.perf_counter() - started)
        if answer["holdout"]:
            raise SystemExit("a bench visitor got the hold-out answer: holdout_share must be 0")
        ids = [col.get(item["product_id"], -1) for item in answer["items"]]
        out[n, : len(ids)] = ids
    return out, seconds


def product_rows(
    shop, split: Split, users: np.ndarray, truth: sp.csr_matrix, label: str
) -> tuple[list, dict]:
    """The served for_you lists, scored; and the diagnostic with train items dropped on the bench side."""
    served, seconds = ask_for_you(shop, split, users, K)
    seen = split.train[users]
    in_train = (
        np.asarray(seen[np.repeat(np.arange(len(users)), K), np.maximum(served, 0).ravel()]).reshape(
            served.shape
        )
        > 0
    )
    in_train &= served >= 0
    latency = np.array(seconds) * 1000
    diagnostics = {
        "answers_shorter_than_10": int((served < 0).any(axis=1).sum()),
        "items_already_in_train_history": round(float(in_train.sum() / max((served >= 0).sum(), 1)), 4),
        "users_shown_a_train_item": round(float(in_train.any(axis=1).mean()), 4),
        "serving_ms": {
            "mean": round(float(latency.mean()), 2),
            "p50": round(float(np.percentile(latency, 50)), 2),
            "p99": round(float(np.percentile(latency, 99)), 2),
        },
    }
    rows = [
        {
            "model": label,
            **rounded(score_lists(served, truth, users, split.train.shape[1])),
            "serve_seconds": round(float(np.sum(seconds)), 2),
        }
    ]
    return rows, diagnostics


def drop_seen_rows(shop, split: Split, users: np.ndarray, truth: sp.csr_matrix, label: str) -> dict:
    """Diagnostic: ask for DIAGNOSTIC_LIMIT, drop the user's train items, keep the first K."""
    wide, seconds = ask_for_you(shop, split, users, DIAGNOSTIC_LIMIT)
    lists = np.full((len(users), K), -1, dtype=np.int64)
    for n, user in enumerate(users.tolist()):
        seen = set(split.train[user].indices.tolist())
        kept = [i for i in wide[n].tolist() if i >= 0 and i not in seen][:K]
        lists[n, : len(kept)] = kept
    return {
        "model": label,
        **rounded(score_lists(lists, truth, users, split.train.shape[1])),
        "serve_seconds": round(float(np.sum(seconds)), 2),
    }


def precomputed_row(shop, split: Split, users: np.ndarray, truth: sp.csr_matrix, label: str) -> dict | None:
    """Diagnostic: the active version's own top-N list (artifacts.top_n), first K not in train, without
    serving's candidate re-rank. None when no version serves."""
    from personalize.recommend import store

    view, _ = store.shop_view(shop)
    ranker = view.ranker
    if ranker is None:
        return None
    col = {p: n for n, p in enumerate(split.products)}
    item_ids = [str(i) for i in ranker.artifacts.item_ids.tolist()]
    lists = np.full((len(users), K), -1, dtype=np.int64)
    for n, user in enumerate(users.tolist()):
        row = ranker.user_row("v:" + split.visitors[user])
        if row is None:
            continue
        seen = set(split.train[user].indices.tolist())
        ranked = (col.get(item_ids[m], -1) for m in ranker.artifacts.top_n[row].tolist() if m >= 0)
        kept = [i for i in ranked if i not in seen][:K]
        lists[n, : len(kept)] = kept
    return {"model": label, **rounded(score_lists(lists, truth, users, split.train.shape[1]))}


# --- one dataset -----------------------------------------------------------------------------------


def set_config(shop, **values) -> None:
    from personalize.recommend.models import RecommenderConfig
    from personalize.recommend.store import rules_changed

    config = RecommenderConfig.for_shop(shop)
    for name, value in values.items():
        setattr(config, name, value)
    config.save(update_fields=list(values))
    rules_changed(shop.id)


def train(shop) -> dict:
    from personalize.recommend.models import ModelVersion
    from personalize.recommend.training import activate_model_version, train_version

    version = ModelVersion.objects.create(shop=shop, reason="bench-quality")
    started = time.perf_counter()
    version = train_version(version.id)
    seconds = time.perf_counter() - started
    version.refresh_from_db()
    forced = False
    if version.status != ModelVersion.ACTIVE and FORCE_ACTIVATE and version.artifact:
        activate_model_version(shop=shop, version=version)
        forced = True
    version.refresh_from_db()
    return {
        "version": version.id,
        "status": version.status,
        "forced_active": forced,
        "algorithm": version.algorithm,
        "decision": version.decision,
        "error": version.error[-1500:] or None,
        "wall_seconds": round(seconds, 2),
        "train_seconds": round(version.train_seconds or 0, 2),
        "n_users": version.n_users,
        "n_items": version.n_items,
        "n_interactions": version.n_interactions,
        "holdout_metrics": version.metrics,
        "params": {k: v for k, v in (version.params or {}).items() if not isinstance(v, list) or len(v) < 20},
    }


def run_dataset(name: str, tmp: Path) -> dict:
    from django.core.management import call_command

    from personalize.catalog.services import upsert_products
    from personalize.recommend import evaluation
    from personalize.shops.services import create_shop

    cutoff = CUTOFFS[name]
    print(f"\n== {name}: cutoff {cutoff:%Y-%m-%d}", flush=True)
    all_path, train_path = tmp / f"{name}_all.csv", tmp / f"{name}_train.csv"
    started = time.perf_counter()
    with all_path.open("w", encoding="utf-8", newline="") as out:
        WRITERS[name](out)
    split = split_file(all_path, train_path, cutoff)
    convert_seconds = time.perf_counter() - started

    shop = create_shop(name=f"Bench quality {name}", domains=["localhost"], currency="USD")
    set_config(shop, holdout_share=0.0, exclude_purchased=True)
    started = time.perf_counter()
    catalog = CATALOGS[name](cutoff, split.products)
    rejected = 0
    for start in range(0, len(catalog), 5000):
        rejected += len(upsert_products(shop=shop, rows=catalog[start : start + 5000]).rejected)
    catalog_seconds = time.perf_counter() - started

    out = io.StringIO()
    started = time.perf_counter()
    call_command("import_events", "--shop", str(shop.id), str(train_path), "--no-progress", stdout=out)
    imported = json.loads(out.getvalue())
    import_seconds = time.perf_counter() - started
    print(f"   imported {imported['stored']:,} rows in {import_seconds:.1f} s; training…", flush=True)

    training = train(shop)
    print(
        f"   version {training['version']}: {training['status']} ({training['algorithm']}), "
        f"{training['wall_seconds']} s. {training['decision']}",
        flush=True,
    )

    users = evaluation.eligible_users(split.train, split.test)
    truth = evaluation.ground_truth(split.train, split.test)
    print(f"   {len(users):,} evaluated users; scoring for_you and baselines…", flush=True)
    rows, diagnostics = product_rows(shop, split, users, truth, "for_you")
    rows.append(
        drop_seen_rows(shop, split, users, truth, "for_you, train items dropped by the bench (diagnostic)")
    )
    label = "active version's precomputed top-N, no re-rank (diagnostic)"
    if (precomputed := precomputed_row(shop, split, users, truth, label)) is not None:
        rows.append(precomputed)
    rows += baseline_rows(split, users, truth, exclude_seen=True)
    tables = {"new_to_user": {"users": int(len(users)), "rows": rows, "for_you_diagnostics": diagnostics}}

    if name == "ta_feng":
        set_config(shop, exclude_purchased=False)
        everything = split.test.copy()
        seen_twice = np.flatnonzero((split.train.getnnz(axis=1) >= 2) & (everything.getnnz(axis=1) > 0))
        print(f"   buy-again table: {len(seen_twice):,} users…", flush=True)
        rep_rows, rep_diag = product_rows(
            shop, split, seen_twice, everything, "for_you (exclude_purchased off)"
        )
        rep_rows += baseline_rows(split, seen_twice, everything, exclude_seen=False)
        tables["with_repeats"] = {
            "users": int(len(seen_twice)),
            "rows": rep_rows,
            "for_you_diagnostics": rep_diag,
        }

    best = max(
        (r for r in rows if r["model"] in ("most_popular", "item_knn_cosine_k100", "implicit_als")),
        key=lambda r: r["ndcg"],
    )
    for_you = rows[0]["ndcg"]
    factor = TARGETS[name]
    return {
        "cutoff": cutoff.date().isoformat(),
        "data": {
            "train_rows": split.train_rows,
            "test_rows": split.test_rows,
            "train_users": split.train.shape[0],
            "train_items": split.train.shape[1],
            "train_pairs": int(split.train.nnz),
            "convert_seconds": round(convert_seconds, 1),
        },
        "catalog": {"products": len(catalog), "rejected": rejected, "seconds": round(catalog_seconds, 1)},
        "import": {
            "rows_read": imported["rows_read"],
            "stored": imported["stored"],
            "rejected": imported["rejected"],
            "orders_created": imported["orders_created"],
            "seconds": round(import_seconds, 1),
        },
        "training": training,
        "tables": tables,
        "target": {
            "rule": f"for_you NDCG@10 >= {factor} x best baseline ({best['model']})",
            "for_you_ndcg": for_you,
            "best_baseline_ndcg": best["ndcg"],
            "ratio": round(for_you / best["ndcg"], 3) if best["ndcg"] else None,
            "met": for_you >= factor * best["ndcg"],
        },
    }


def markdown(results: dict) -> str:
    lines = []
    for name, result in results.items():
        for table, body in result["tables"].items():
            lines.append(
                f"\n**{name}, {table.replace('_', '-')}** ({body['users']:,} users, cutoff {result['cutoff']}, "
                f"version {result['training']['status']} {result['training']['algorithm']})\n"
            )
            lines.append("| model | P@10 | R@10 | NDCG@10 | HR@10 | Cov@10 | fit/train s |")
            lines.append("|---|---:|---:|---:|---:|---:|---:|")
            for row in body["rows"]:
                seconds = row.get("fit_seconds")
                if seconds is None:
                    seconds = (
                        result["training"]["wall_seconds"]
                        if row["model"] == body["rows"][0]["model"]
                        else "–"
                    )
                lines.append(
                    f"| {row['model']} | {row['precision']:.4f} | {row['recall']:.4f} | {row['ndcg']:.4f} | "
                    f"{row['hit_rate']:.4f} | {row['coverage']:.3f} | {seconds} |"
                )
        target = result["target"]
        lines.append(
            f"\nTarget ({target['rule']}): {target['for_you_ndcg']:.4f} vs {target['best_baseline_ndcg']:.4f} "
            f"= {target['ratio']}x, {'met' if target['met'] else 'NOT met'}."
        )
    return "\n".join(lines)


def main() -> None:
    names = sys.argv[1:] or list(SOURCES)
    for name in names:
        if name not in SOURCES:
            sys.exit(f"unknown dataset {name!r}: choose from {', '.join(SOURCES)}")
        if not SOURCES[name].exists():
            sys.exit(f"{SOURCES[name]} not found: this benchmark needs ../shared/datasets")
    load = os.getloadavg()
    fresh_database(DATABASE_URL)
    model_dir = Path(tempfile.mkdtemp(prefix="pz-bench-quality-models-"))
    os.environ.update(
        {
            "DATABASE_URL": DATABASE_URL,
            "DEBUG": "0",
            "SECRET_KEY": "bench-only",
            "PZ_MODEL_DIR": str(model_dir),
            "CELERY_TASK_ALWAYS_EAGER": "1",
            "LOG_LEVEL": "WARNING",
        }
    )
    # The serving store's cache is this process's memory: no other process (or helper) shares it.
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "personalize.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    results = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name in names:
                results[name] = run_dataset(name, Path(tmp))
    finally:
        shutil.rmtree(model_dir, ignore_errors=True)

    # A run of one dataset keeps the other's last result (each carries its own "when").
    previous = RESULTS / "quality.json"
    if previous.exists():
        for name, result in json.loads(previous.read_text()).get("datasets", {}).items():
            results.setdefault(name, result)
    for name in names:
        results[name]["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    summary = {
        "protocol": "SOURCE.md: global temporal split, binary, users with >= 2 train items, ground truth = "
        "new-to-user train-catalogue items (ta_feng with_repeats: every item bought after the cutoff); top 10",
        "engine_docstring": engine_doc(),
        "force_activate": FORCE_ACTIVATE,
        "load_average_at_start": [round(x, 2) for x in load],
        "seconds": round(time.perf_counter() - started, 1),
        "datasets": results,
    }
    path = write_result("quality", summary)
    print(markdown(results))
    print(
        f"\nwritten to {path.relative_to(ROOT)} (load average at start {summary['load_average_at_start']}; "
        "the machine is shared)"
    )


def engine_doc() -> str:
    from personalize.recommend import engine

    return (engine.__doc__ or "").strip().splitlines()[0] if engine.__doc__ else ""


if __name__ == "__main__":
    main()
