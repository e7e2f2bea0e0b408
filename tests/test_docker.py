"""The production container set-up in docker/: what can be checked without a Docker engine.

The files are parsed and held against the code (settings.py's variables, the modules the
commands name), and the image's steps are replayed on this machine: the build's collectstatic,
the entrypoint, the web and ws commands answering the HEALTHCHECK, and `check --deploy`.
"""

import ast
import fnmatch
import importlib
import json
import os
import re
import secrets
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
SETTINGS = ROOT / "personalize" / "settings.py"

APP_SERVICES = {"migrate", "web", "collect", "ws", "worker", "beat"}
HTTP_SERVICES = {"web", "collect", "ws"}
# Services sharing the data volume (model artifacts, media) at PZ_VAR_DIR.
DATA_SERVICES = {"web", "collect", "ws", "worker", "beat"}

# Variables that settings.py does not read but the images, Compose or the servers do.
KNOWN_INFRA_VARIABLES = {
    # the postgres image
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    # read by gunicorn itself (COLLECT_CONCURRENCY: compose.yml hands it to the collect service as that)
    "WEB_CONCURRENCY",
    "COLLECT_CONCURRENCY",
    "GUNICORN_CMD_ARGS",
    # read by the celery command line (click's CELERY_ prefix: `worker --concurrency`)
    "CELERY_WORKER_CONCURRENCY",
    # host ports in compose.yml
    "WEB_PORT",
    "WS_PORT",
    "COLLECT_PORT",
    # the Python image and pip
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "PIP_NO_CACHE_DIR",
    "PIP_ROOT_USER_ACTION",
    # wsgi.py, asgi.py and celery.py default to it; the image sets it for manage.py-less tools
    "DJANGO_SETTINGS_MODULE",
}


# --- parsing helpers ------------------------------------------------------------------------


def settings_variables() -> set[str]:
    """Names settings.py reads: os.environ.get/[]/getenv, env_* helpers, dj_database_url."""
    names = set()
    for node in ast.walk(ast.parse(SETTINGS.read_text())):
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            if isinstance(node.slice, ast.Constant):
                names.add(node.slice.value)
        if not isinstance(node, ast.Call):
            continue
        func = ast.unparse(node.func)
        first = node.args[0] if node.args else None
        is_literal = isinstance(first, ast.Constant) and isinstance(first.value, str)
        if is_literal and (func in {"os.environ.get", "os.getenv"} or func.startswith("env_")):
            names.add(first.value)
        if func.startswith("dj_database_url.config"):
            env = next((kw.value for kw in node.keywords if kw.arg == "env"), None)
            names.add(env.value if isinstance(env, ast.Constant) else "DATABASE_URL")
    return names


def env_example() -> dict[str, tuple[str, str]]:
    """NAME -> (value, the comment line just above it) from docker/.env.example."""
    entries = {}
    previous = ""
    for line in (DOCKER / ".env.example").read_text().splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            name, sep, value = stripped.partition("=")
            assert sep, f".env.example: not NAME=value: {line!r}"
            assert name not in entries, f".env.example sets {name} twice"
            entries[name] = (value, previous if previous.startswith("#") else "")
        previous = stripped
    return entries


def env_example_values() -> dict[str, str]:
    return {name: value for name, (value, _comment) in env_example().items()}


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yml").read_text())


def compose_interpolated_variables() -> set[str]:
    # `$$` is Compose's escape for a literal `$` (expanded later by the container's shell).
    text = re.sub(r"\$\$", "", (DOCKER / "compose.yml").read_text())
    return set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text))


def compose_environment_variables() -> set[str]:
    names = set()
    for service in compose()["services"].values():
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.partition("=")[::2] for item in environment)
        names.update(environment)
    return names


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions = []
    current = ""
    for line in (DOCKER / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        current += " " + stripped[:-1] if stripped.endswith("\\") else " " + stripped
        if not stripped.endswith("\\"):
            keyword, _, arguments = current.strip().partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
            current = ""
    return instructions


def dockerfile(keyword: str) -> list[str]:
    return [arguments for instruction, arguments in dockerfile_instructions() if instruction == keyword]


def dockerfile_env() -> dict[str, str]:
    env = {}
    for arguments in dockerfile("ENV"):
        for pair in shlex.split(arguments):
            name, _, value = pair.partition("=")
            env[name] = value
    return env


def runtime_stage_instructions(keyword: str) -> list[str]:
    """Instructions of the last stage (the image that runs)."""
    instructions = dockerfile_instructions()
    last_from = max(i for i, (instruction, _) in enumerate(instructions) if instruction == "FROM")
    return [arguments for instruction, arguments in instructions[last_from:] if instruction == keyword]


def dockerignored(path: str) -> bool:
    """Whether the build context leaves `path` out (last matching .dockerignore rule wins)."""
    ignored = False
    parts = Path(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        negate = rule.startswith("!")
        pattern = rule.lstrip("!").strip("/")
        patterns = [pattern, pattern[3:]] if pattern.startswith("**/") else [pattern]
        if any(fnmatch.fnmatchcase(prefix, p) for prefix in prefixes for p in patterns):
            ignored = not negate
    return ignored


def exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list), f"use the exec (JSON) form: {arguments}"
    return value


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """A process environment with only what the image gives, not this test run's DATABASE_URL etc."""
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    env["HOME"] = os.environ.get("HOME", "/tmp")
    env.update(extra)
    return env


def production_env(tmp_path: Path) -> dict[str, str]:
    """.env.example's values, with a real secret and the data directory moved under tmp_path."""
    data = tmp_path / "data"
    overrides = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PZ_VAR_DIR": str(data),
        "MEDIA_ROOT": str(data / "media"),
    }
    return clean_env(**{**dockerfile_env(), **env_example_values(), **overrides})


# --- compose.yml ----------------------------------------------------------------------------


def test_it_parses_compose_with_every_service():
    services = compose()["services"]
    assert set(services) == {"postgres", "redis"} | APP_SERVICES
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])


def test_app_services_share_one_image_and_the_env_file():
    services = compose()["services"]
    for name in APP_SERVICES:
        service = services[name]
        assert service["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}, name
        assert service["image"] == services["web"]["image"], name
        assert service["env_file"] == ".env", name


def test_migrate_runs_once_before_the_long_running_services():
    services = compose()["services"]
    assert services["migrate"]["command"][:3] == ["python", "manage.py", "migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in DATA_SERVICES:
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully", name
        assert depends_on["postgres"]["condition"] == "service_healthy", name
        assert depends_on["redis"]["condition"] == "service_healthy", name


def test_commands_start_the_right_servers():
    services = compose()["services"]
    assert services["web"]["command"][:2] == ["gunicorn", "personalize.wsgi:application"]
    # collect is the same server with its own worker count (the variable gunicorn reads, overridden)
    assert services["collect"]["command"] == services["web"]["command"]
    assert services["collect"]["environment"]["WEB_CONCURRENCY"].startswith("${COLLECT_CONCURRENCY")
    assert services["ws"]["command"][:2] == ["uvicorn", "personalize.asgi:application"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "personalize", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "personalize", "beat"]
    assert services["beat"]["deploy"]["replicas"] == 1


def test_commands_name_modules_that_exist():
    services = compose()["services"]
    commands = [services[name]["command"] for name in APP_SERVICES]
    commands.append(exec_form(runtime_stage_instructions("CMD")[-1]))
    for command in commands:
        for argument in command:
            if re.fullmatch(r"[a-z_.]+:[a-z_]+", argument):
                module, _, attribute = argument.partition(":")
                assert callable(getattr(importlib.import_module(module), attribute)), argument
        if command[0] == "celery":
            app = importlib.import_module(f"{command[2]}.celery").app
            assert app.main == "personalize"
        if command[:2] == ["python", "manage.py"]:
            assert (ROOT / "manage.py").is_file()


def test_data_volume_is_mounted_at_the_same_path_everywhere():
    config = compose()
    values = env_example_values()
    mounts = {name: config["services"][name]["volumes"] for name in DATA_SERVICES}
    assert all(volumes == mounts["web"] for volumes in mounts.values()), mounts
    source, _, target = mounts["web"][0].partition(":")
    assert source in config["volumes"]
    assert values["PZ_VAR_DIR"] == target == dockerfile_env()["PZ_VAR_DIR"]
    assert Path(values["MEDIA_ROOT"]).is_relative_to(target)
    assert values["MEDIA_ROOT"] == dockerfile_env()["MEDIA_ROOT"]


def test_only_http_services_keep_the_image_healthcheck():
    services = compose()["services"]
    for name in APP_SERVICES - HTTP_SERVICES:
        healthcheck = services[name].get("healthcheck")
        assert healthcheck, f"{name} would inherit the HTTP HEALTHCHECK and be marked unhealthy"
        assert healthcheck.get("disable") or "/healthz" not in str(healthcheck.get("test")), name
    for name in HTTP_SERVICES:
        assert "healthcheck" not in services[name], name
        assert "8000" in " ".join(services[name]["command"]), (
            f"{name} must listen where the HEALTHCHECK probes"
        )


def test_compose_never_publishes_postgres_or_redis():
    services = compose()["services"]
    assert "ports" not in services["postgres"]
    assert "ports" not in services["redis"]


# --- environment variables ------------------------------------------------------------------


def test_it_finds_the_variables_settings_reads():
    # Guards the parser: if this breaks, the checks below would pass vacuously.
    assert {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"} <= settings_variables()


def test_every_variable_set_or_referenced_is_known():
    known = settings_variables() | KNOWN_INFRA_VARIABLES
    sources = {
        "compose.yml ${...}": compose_interpolated_variables(),
        "compose.yml environment:": compose_environment_variables(),
        ".env.example": set(env_example()),
        "Dockerfile ENV": set(dockerfile_env()),
    }
    for source, names in sources.items():
        assert names - known == set(), f"{source} uses variables nobody reads"


def test_every_variable_settings_reads_is_documented():
    documented = env_example()
    for name in sorted(settings_variables()):
        assert name in documented, f"{name} is read by settings.py but missing from .env.example"
        assert documented[name][1], f"{name} in .env.example has no comment line above it"


def test_every_example_variable_has_a_comment():
    for name, (_value, comment) in env_example().items():
        assert len(comment) > 2, f"{name} has no comment line above it"


def test_compose_interpolation_has_values_in_the_example():
    values = env_example_values()
    for name in compose_interpolated_variables():
        assert name in values, f"compose.yml uses ${{{name}}}, which .env.example does not set"


def test_database_url_matches_the_postgres_service():
    values = env_example_values()
    url = re.fullmatch(r"postgres://([^:]+):([^@]+)@postgres:5432/(\w+)", values["DATABASE_URL"])
    assert url, values["DATABASE_URL"]
    assert url.groups() == (values["POSTGRES_USER"], values["POSTGRES_PASSWORD"], values["POSTGRES_DB"])


def test_example_is_production_shaped():
    values = env_example_values()
    assert values["DEBUG"] == "0"
    # No production default for the secret: settings.py refuses to start without one.
    assert values["SECRET_KEY"] == ""
    assert values["CELERY_TASK_ALWAYS_EAGER"] == "0"
    assert values["REDIS_URL"].startswith("redis://redis:")
    assert values["CELERY_BROKER_URL"].startswith("redis://redis:")
    assert values["REDIS_URL"] != values["CELERY_BROKER_URL"]


# --- Dockerfile -----------------------------------------------------------------------------


def test_dockerfile_builds_from_python_311_slim_in_stages():
    froms = dockerfile("FROM")
    assert len(froms) >= 2
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in (DOCKER / "Dockerfile").read_text()
    python_stages = [line for line in froms if not line.startswith("node:")]
    assert all(line.startswith("${PYTHON_IMAGE}") for line in python_stages)
    # the snippet's build stage: Node only at build time, its dist copied into the runtime
    assert any(line.startswith("node:20") for line in froms)
    assert "COPY --from=snippet /src/dist /app/widgets_js/dist" in (DOCKER / "Dockerfile").read_text()


def test_dockerfile_copy_sources_exist_and_are_in_the_build_context():
    copies = dockerfile("COPY")
    assert copies
    for arguments in copies:
        words = shlex.split(arguments)
        if any(word.startswith("--from=") for word in words):
            continue
        sources = [word for word in words if not word.startswith("--")][:-1]
        for source in sources:
            assert (ROOT / source).exists(), source
            assert source == "." or not dockerignored(source), f"{source} is excluded by .dockerignore"


def test_dockerignore_keeps_the_code_and_drops_secrets_and_local_state():
    needed = ["manage.py", "requirements.txt", "personalize/settings.py", "docker/entrypoint.sh", "templates"]
    for path in needed:
        assert not dockerignored(path), path
    for path in [
        "docker/.env",
        ".env",
        ".venv/bin/python",
        ".git/HEAD",
        "var/db.sqlite3",
        "tests/conftest.py",
    ]:
        assert dockerignored(path), path


def test_image_runs_as_a_non_root_user_on_port_8000():
    users = runtime_stage_instructions("USER")
    assert users and users[-1] not in {"root", "0"}
    assert runtime_stage_instructions("EXPOSE") == ["8000"]


def test_entrypoint_exists_and_execs_the_command():
    entrypoint = exec_form(runtime_stage_instructions("ENTRYPOINT")[-1])
    script = ROOT / entrypoint[-1].removeprefix("/app/")
    assert script.is_file()
    assert script.read_text().rstrip().endswith('exec "$@"')


def test_healthcheck_probes_healthz():
    (healthcheck,) = runtime_stage_instructions("HEALTHCHECK")
    assert "http://127.0.0.1:8000/healthz" in healthcheck
    from django.urls import resolve

    assert resolve("/healthz").url_name == "healthz"


# --- the image's steps replayed on this machine -----------------------------------------------


def test_production_settings_pass_the_deployment_checklist(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


def test_the_example_refuses_to_start_until_a_secret_key_is_set(tmp_path):
    env = production_env(tmp_path)
    env["SECRET_KEY"] = env_example_values()["SECRET_KEY"]
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.fixture(scope="module")
def built_app(tmp_path_factory):
    """An /app stand-in: the entrypoint next to a var/static filled by the Dockerfile's collectstatic."""
    app = tmp_path_factory.mktemp("app")
    (app / "docker").mkdir()
    (app / "docker" / "entrypoint.sh").write_text((DOCKER / "entrypoint.sh").read_text())
    (collect,) = [run for run in runtime_stage_instructions("RUN") if "collectstatic" in run]
    command = collect.split("&&")[0].replace("/app/var", str(app / "var"))
    # Build-time environment: the image's ENV only (plus what the RUN line sets itself).
    env = clean_env(**dockerfile_env())
    result = subprocess.run(
        command, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (app / "var" / "static" / "admin" / "css" / "base.css").is_file()
    return app


def run_entrypoint(app: Path, data: Path, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(app / "docker" / "entrypoint.sh"), *command],
        env=clean_env(PZ_VAR_DIR=str(data)),
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_entrypoint_links_the_volume_static_dir_to_the_image(built_app, tmp_path):
    data = tmp_path / "data"
    result = run_entrypoint(built_app, data, "sh", "-c", "echo ran $0", "it")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ran it\n"
    assert (data / "static").readlink() == built_app / "var" / "static"
    # Run again (a restart, a second container): the link stays.
    assert run_entrypoint(built_app, data, "true").returncode == 0
    assert (data / "static" / "admin" / "css" / "base.css").is_file()


def test_entrypoint_replaces_an_empty_static_dir_but_keeps_a_full_one(built_app, tmp_path):
    empty, full = tmp_path / "empty", tmp_path / "full"
    (empty / "static").mkdir(parents=True)
    (full / "static").mkdir(parents=True)
    (full / "static" / "old.css").write_text("body {}")
    assert run_entrypoint(built_app, empty, "true").returncode == 0
    assert (empty / "static").is_symlink()
    result = run_entrypoint(built_app, full, "true")
    assert result.returncode == 0
    assert (full / "static" / "old.css").is_file()
    assert "static files may be stale" in result.stderr


def test_entrypoint_passes_the_exit_code_through(built_app, tmp_path):
    assert run_entrypoint(built_app, tmp_path / "data", "sh", "-c", "exit 3").returncode == 3


def run_healthcheck(port: int, env: dict[str, str]) -> subprocess.CompletedProcess:
    (healthcheck,) = runtime_stage_instructions("HEALTHCHECK")
    command = exec_form(healthcheck[healthcheck.index("CMD") + 3 :].strip())
    command = [part.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for part in command]
    command[0] = sys.executable if command[0] == "python" else command[0]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("service", sorted(HTTP_SERVICES))
def test_http_service_starts_and_passes_the_image_healthcheck(service, built_app, tmp_path):
    port = free_port()
    command = [
        {"0.0.0.0:8000": f"127.0.0.1:{port}", "0.0.0.0": "127.0.0.1", "8000": str(port)}.get(part, part)
        for part in compose()["services"][service]["command"]
    ]
    env = production_env(tmp_path)
    env["WEB_CONCURRENCY"] = "1"
    server = subprocess.Popen(
        ["sh", str(built_app / "docker" / "entrypoint.sh"), *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while (check := run_healthcheck(port, env)).returncode != 0:
            assert server.poll() is None, server.stdout.read()
            assert time.monotonic() < deadline, check.stderr
            time.sleep(0.3)
        # The static files come from the image through the link the entrypoint made.
        static = Path(env["PZ_VAR_DIR"]) / "static"
        assert static.is_symlink() and static.resolve() == (built_app / "var" / "static").resolve()
        host = env["ALLOWED_HOSTS"].split(",")[0]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/static/admin/css/base.css",
            headers={"Host": host, "X-Forwarded-Proto": "https"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
            assert b"body" in response.read()
        # Plain HTTP is sent to HTTPS (the probe above is exempt).
        plain = urllib.request.Request(f"http://127.0.0.1:{port}/login/", headers={"Host": host})
        with pytest.raises(urllib.error.HTTPError) as redirect:
            urllib.request.build_opener(_NoRedirect).open(plain, timeout=10)
        assert redirect.value.code == 301
        assert redirect.value.headers["Location"] == f"https://{host}/login/"
    finally:
        server.terminate()
        server.wait(timeout=30)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
