"""History import speed: `import_events` on the full UCI Online Retail file against PostgreSQL, beside a
plain COPY of the same CSV into an unindexed table in the same run (the ceiling for this machine).

Run: `python tests/bench/bench_import.py` (or `make bench-import`). Needs ../shared/datasets and a
local PostgreSQL; the database in BENCH_DATABASE_URL (default pz_bench_import) is dropped and made
anew. (Not DATABASE_URL: a benchmark that drops the database it is pointed at must not pick up the
one a developer's shell points at.) Writes bench/results/import.json.
"""

import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.bench.common import ROOT, fresh_database, write_result  # noqa: E402

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pz_bench_import")
SOURCE = ROOT.parent / "shared" / "datasets" / "online_retail" / "online_retail.csv.gz"
TARGET_ROWS_PER_S = 50_000

BASELINE_TABLE = """
CREATE TABLE bench_copy_baseline (
    ts timestamptz, visitor_id text, type text, product_id text, quantity integer, price numeric, order_id text
)"""


def convert(path: Path) -> int:
    """The full file in the import_events format: the slice builder's filter, all dates, guests too."""
    from personalize.demo.build_slice import write_events

    with path.open("w", encoding="utf-8", newline="") as out:
        return write_events(SOURCE, out, since=None, guests=True)


def baseline_copy(path: Path) -> float:
    """Seconds for a plain COPY of the file into a typed table without indexes or constraints."""
    import psycopg

    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy_baseline")
        conn.execute(BASELINE_TABLE)
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cursor, path.open("rb") as f:
            with cursor.copy("COPY bench_copy_baseline FROM STDIN (FORMAT csv, HEADER true)") as copy:
                while block := f.read(1 << 20):
                    copy.write(block)
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE bench_copy_baseline")
    return seconds


def run_import(shop_id: int, path: Path) -> tuple[dict, float]:
    from django.core.management import call_command

    out = io.StringIO()
    started = time.perf_counter()
    call_command("import_events", "--shop", str(shop_id), str(path), "--no-progress", stdout=out)
    return json.loads(out.getvalue()), time.perf_counter() - started


def main() -> None:
    if not SOURCE.exists():
        sys.exit(f"{SOURCE} not found: this benchmark needs ../shared/datasets")
    fresh_database(DATABASE_URL)
    os.environ["DATABASE_URL"] = DATABASE_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "personalize.settings")
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-only")
    import django

    django.setup()
    from django.core.management import call_command

    from personalize.shops.services import create_shop

    call_command("migrate", verbosity=0)
    shop = create_shop(name="Bench import", domains=["localhost"], currency="GBP")
    load = os.getloadavg()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "online_retail_events.csv"
        started = time.perf_counter()
        rows = convert(path)
        convert_seconds = time.perf_counter() - started
        size = path.stat().st_size

        baseline_seconds = baseline_copy(path)
        summary, seconds = run_import(shop.id, path)
        again, again_seconds = run_import(shop.id, path)

    rows_per_s = rows / seconds
    baseline_rows_per_s = rows / baseline_seconds
    result = {
        "file": {"rows": rows, "bytes": size, "convert_seconds": round(convert_seconds, 2)},
        "import": {
            "rows": summary["rows_read"],
            "stored": summary["stored"],
            "rejected": summary["rejected"],
            "orders_created": summary["orders_created"],
            "seconds": round(seconds, 2),
            "rows_per_s": round(rows_per_s),
        },
        "reimport": {
            "stored": again["stored"],
            "duplicates": again["duplicates"],
            "seconds": round(again_seconds, 2),
            "rows_per_s": round(rows / again_seconds),
        },
        "baseline_copy": {"seconds": round(baseline_seconds, 2), "rows_per_s": round(baseline_rows_per_s)},
        "ratio_to_copy": round(rows_per_s / baseline_rows_per_s, 3),
        "load_average_at_start": [round(x, 2) for x in load],
        "target": {"rows_per_s": TARGET_ROWS_PER_S, "met": rows_per_s >= TARGET_ROWS_PER_S},
    }
    path = write_result("import", result)
    print(json.dumps(result, indent=2))
    print(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
