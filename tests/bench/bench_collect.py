"""Collect throughput against PostgreSQL, beside GET /healthz on the same server in the same run.

Server: gunicorn (sync workers, 2 x cores) over personalize.wsgi, DEBUG=0, PostgreSQL and Redis as in
production. Load: wrk on the same machine (1 thread). Run: `make bench-collect`.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.bench.common import ROOT, fresh_database, manage, run_wrk, write_result  # noqa: E402

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pz_bench_collect")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
PORT = 8123
SECONDS = int(os.environ.get("BENCH_SECONDS", "15"))
WORKERS = 2 * (os.cpu_count() or 2)
CONNECTIONS = 2 * WORKERS


def wrk(path: str, script: str | None = None, env: dict | None = None, seconds: int = SECONDS) -> dict:
    args = ["-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    if script:
        args += ["-s", script]
    return run_wrk([*args, f"http://127.0.0.1:{PORT}{path}"], env)


def stored_events(env: dict) -> int:
    code = "from personalize.events.models import Event; print(Event.objects.count())"
    return int(manage("shell", "-c", code, env=env).strip().splitlines()[-1])


def main() -> None:
    fresh_database(DATABASE_URL)
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "DEBUG": "0",
        "SECRET_KEY": "bench-only",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
        "CELERY_TASK_ALWAYS_EAGER": "1",
    }
    manage("migrate", "--noinput", env=env)
    shop = json.loads(manage("create_shop", "--name", "Bench", "--domain", "localhost", env=env))
    manage(
        "shell",
        "-c",
        f"from personalize.shops.models import Shop; "
        f"Shop.objects.filter(id={shop['shop_id']}).update(collect_rate_limit=10**9)",
        env=env,
    )
    subprocess.run(["redis-cli", "-u", REDIS_URL, "flushdb"], check=True, capture_output=True)

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "personalize.wsgi",
            "-w",
            str(WORKERS),
            "-b",
            f"127.0.0.1:{PORT}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        script = str(Path(__file__).with_name("collect.lua"))
        wrk_env = {"SITE_KEY": shop["site_key"]}
        wrk("/healthz", seconds=3)  # warm every worker up
        wrk("/api/v1/collect", script, {**wrk_env, "BATCH": "1"}, seconds=3)

        results = {}
        results["healthz"] = wrk("/healthz")
        before = stored_events(env)
        results["collect_single"] = wrk("/api/v1/collect", script, {**wrk_env, "BATCH": "1"})
        middle = stored_events(env)
        results["collect_batch_50"] = wrk("/api/v1/collect", script, {**wrk_env, "BATCH": "50"})
        after = stored_events(env)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    single, batch, health = results["collect_single"], results["collect_batch_50"], results["healthz"]
    single["events_stored"] = middle - before
    batch["events_stored"] = after - middle
    batch["events_per_s"] = round(batch["requests_per_s"] * 50, 1)
    summary = {
        "server": f"gunicorn {WORKERS} sync workers, DEBUG=0, PostgreSQL + Redis; wrk -t1 -c{CONNECTIONS} "
        f"-d{SECONDS}s on the same machine",
        "results": results,
        "targets": {
            "collect_batch_50_events_per_s": {"target": 30_000, "measured": batch["events_per_s"]},
            "collect_single_vs_healthz": {
                "target": 0.5,
                "measured": round(single["requests_per_s"] / health["requests_per_s"], 3),
            },
        },
    }
    path = write_result("collect", summary)
    print(json.dumps(summary, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
