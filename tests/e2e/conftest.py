"""End to end: a real server process (uvicorn, as `make run` starts it) over a database of its own
holding the demo shop with a trained model, driven by Debian's Chromium through Playwright.

The server gets its own var/ directory and database (a SQLite file, or a fresh PostgreSQL database
when DATABASE_URL is set), so nothing here touches the rest of the suite's data. Tests read what the
server stored through its public API (visitor export with a secret key), as a merchant would.
Screenshots go to tests/e2e/artifacts/ (not committed).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # this machine has no internet: without these Chromium keeps dialling Google's hosts
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Server:
    url: str
    env: dict
    shop_id: int
    site_key: str
    secret_key: str
    created_databases: list = field(default_factory=list)

    def manage(self, *args: str, stdin: str | None = None) -> str:
        return manage(self.env, *args, stdin=stdin)

    def python(self, code: str) -> str:
        """Run Django code in the server's configuration; what it prints comes back."""
        return self.manage("shell", "--no-imports", "-c", code)

    def get_json(self, path: str, *, secret: bool = True) -> dict:
        request = urllib.request.Request(self.url + path)
        if secret:
            request.add_header("Authorization", f"Bearer {self.secret_key}")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def send_json(self, method: str, path: str, body: object) -> dict:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {self.secret_key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def visitor_events(self, visitor_id: str) -> list[dict]:
        try:
            return self.get_json(f"/api/v1/visitors/{visitor_id}")["events"]
        except urllib.error.HTTPError as error:
            if error.code == 404:  # nothing stored for this visitor (yet)
                return []
            raise


def manage(env: dict, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _own_database(env: dict) -> str | None:
    """A fresh PostgreSQL database beside the suite's, when the suite runs on PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return None
    name = f"pz_e2e_{os.getpid()}"
    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
    return name


def _drop_database(name: str) -> None:
    parts = urlsplit(os.environ["DATABASE_URL"])
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    var = tmp_path_factory.mktemp("e2e-var")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PZ_VAR_DIR": str(var),
        "DJANGO_SETTINGS_MODULE": "personalize.settings",
        "CACHE_KEY_PREFIX": f"pz-e2e-{os.getpid()}",
        "PYTHONUNBUFFERED": "1",
        # the demo catalog's links and images, and the tag the dashboard shows, point here
        "PUBLIC_BASE_URL": url,
    }
    # Tasks queue on the filesystem broker in the server's own var/: nothing else picks them up.
    env.pop("CELERY_BROKER_URL", None)
    database = _own_database(env)
    manage(env, "migrate", "--noinput")
    demo = json.loads(manage(env, "load_demo", "--no-progress"))
    shop_id = demo["shop_id"]
    manage(env, "train", "--shop", str(shop_id))
    # No hold-out on the e2e shop: a random visitor id lands in the 5% hold-out now and then, and
    # would see no campaign and the hold-out answer. Unit tests cover the hold-out on both sides.
    manage(
        env,
        "shell",
        "--no-imports",
        "-c",
        "from personalize.recommend.models import RecommenderConfig\n"
        f"RecommenderConfig.objects.update_or_create(shop_id={shop_id}, defaults={{'holdout_share': 0}})",
    )
    secret = manage(
        env,
        "shell",
        "--no-imports",
        "-c",
        "from personalize.shops.models import Shop\n"
        "from personalize.shops.services import issue_secret_key\n"
        f"print(issue_secret_key(shop=Shop.objects.get(id={shop_id}), label='e2e')[1])",
    ).strip()

    log = open(var / "server.log", "w")  # noqa: SIM115 (closed at teardown)
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "uvicorn"),
            "personalize.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
            "--no-access-log",
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the e2e server did not start:\n{(var / 'server.log').read_text()}"
                ) from None
            time.sleep(0.2)
    try:
        yield Server(url, env, shop_id, demo["site_key"], secret)
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
        if database:
            _drop_database(database)


@pytest.fixture(scope="session")
def browser():
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is needed: `make browser` installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Tab:
    """A page with what went wrong on it: console errors, page errors, failed requests."""

    page: object
    errors: list = field(default_factory=list)

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def tab(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    tab = Tab(page)
    page.on("console", lambda m: tab.errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: tab.errors.append(f"pageerror: {e}"))
    page.on("response", lambda r: tab.errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    yield tab
    try:
        tab.screenshot(request.node.name)
    finally:
        context.close()
