"""The compose deployment, checked without a Docker engine.

``docker-compose config`` (v1, the Debian package ``docker-compose``) parses the files, merges the anchors,
interpolates the variables of ``compose/.env.example`` exactly as ``up`` would, and prints the result; the
tests assert on that rendered document: the six services, their start order, healthchecks, volumes, the
environment each process reads (fed through the real ``load_settings``), and that a missing secret stops
compose with the message the operator needs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from setuptools import find_packages

from trivia_actors.runtime import load_settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "compose"
BASE = COMPOSE_DIR / "docker-compose.yml"
DEV = COMPOSE_DIR / "docker-compose.dev.yml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
DOCKERFILE = COMPOSE_DIR / "Dockerfile"

SERVICES = {"postgres", "kafka", "db_initializer", "api", "logic_worker", "telebot"}
APP_SERVICES = ("db_initializer", "api", "logic_worker", "telebot")
LONG_RUNNING_APPS = ("api", "logic_worker", "telebot")
ENTRY_POINTS = {
    "db_initializer": "trivia-db-init",
    "api": "trivia-api",
    "logic_worker": "trivia-worker",
    "telebot": "trivia-telebot",
}
# DESIGN.md section 12: names operators and outside harnesses rely on.
DESIGN_NAMES = {
    "DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_TOPIC_PREFIX", "API_URL", "API_HOST", "API_PORT",
    "JWT_SECRET", "TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE_URL", "TELEGRAM_WEBHOOK_URL",
    "TELEGRAM_WEBHOOK_SECRET", "DEEPSEEK_API_KEY", "DEEPSEEK_BASE_URL", "DEEPSEEK_MODEL", "GIT_REMOTE_URL",
    "GIT_TOKEN", "GIT_BRANCH", "S3_BUCKET", "AWS_ENDPOINT_URL", "AWS_REGION", "LAMBDA_FUNCTION_NAME",
    "LOG_LEVEL", "LOG_FORMAT",
}
# Read by boto3's standard credential chain or by the interpreter, not by load_settings.
NON_SETTINGS_NAMES = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PYTHONPATH"}


def _docker_compose() -> str:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail(
            "docker-compose is not installed: these checks need the Debian package 'docker-compose' "
            "(apt-get install -y docker-compose); no Docker engine is needed"
        )
    return exe


def _run_config(*files: Path, env_file: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """``docker-compose -f ... --env-file ... config`` from the repository root, in a clean environment.

    Variables of the calling shell would win over the env file, and a developer's compose/.env would be read
    without --env-file, so the subprocess gets nothing but PATH and a scratch HOME.
    """
    args = [_docker_compose()]
    for file in files:
        args += ["-f", str(file.relative_to(REPO))]
    args += ["--env-file", str(env_file), "config"]
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)


def _render(*files: Path, home: Path) -> dict[str, Any]:
    result = _run_config(*files, env_file=ENV_EXAMPLE, home=home)
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    document = yaml.safe_load(result.stdout)
    assert isinstance(document, dict), result.stdout
    return document


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _render(BASE, home=tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def rendered_dev(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _render(BASE, DEV, home=tmp_path_factory.mktemp("home"))


def _env_file_values(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f"{path.name}: not NAME=value: {line!r}"
            values[name.strip()] = value
    return values


def _environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # compose may print the list form
        env = dict(item.partition("=")[::2] for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def _depends_on(service: Mapping[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def _healthcheck_text(service: Mapping[str, Any]) -> str:
    test = (service.get("healthcheck") or {}).get("test")
    assert test, "no healthcheck test"
    return test if isinstance(test, str) else " ".join(test)


def _named_volume_targets(service: Mapping[str, Any], volume_names: set[str]) -> dict[str, str]:
    """target path -> named volume, for both the short (v1) and long (v2) forms compose prints."""
    mounts: dict[str, str] = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            target = rest.split(":")[0]
        else:
            source, target = volume.get("source", ""), volume.get("target", "")
        if source in volume_names:
            mounts[target] = source
    return mounts


class _RecordingEnv(dict[str, str]):
    """A mapping that remembers every name looked up, to learn which variables load_settings reads."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.seen.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.seen.add(str(key))
        return super().__contains__(key)


def _names_read_by_settings() -> set[str]:
    env = _RecordingEnv()
    load_settings(env)
    return env.seen


# --- the rendered file -------------------------------------------------------------------------------


def test_the_six_services_render_from_the_repository_root(rendered: dict[str, Any]) -> None:
    assert set(rendered["services"]) == SERVICES


def test_each_application_service_runs_its_entry_point_from_the_one_image(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    images = {services[name].get("image") for name in APP_SERVICES}
    assert len(images) == 1 and None not in images, f"application services must share one image: {images}"
    built = [name for name in APP_SERVICES if "build" in services[name]]
    assert built, "one application service must build the image"
    for name in built:
        build = services[name]["build"]
        assert Path(build["context"]).resolve() == REPO, "the build context must be the repository root"
        assert (REPO / build["dockerfile"]).resolve() == DOCKERFILE
    for name, entry_point in ENTRY_POINTS.items():
        command = services[name]["command"]
        command = command if isinstance(command, list) else command.split()
        assert command == [entry_point], f"{name} runs {command}"


def test_db_initializer_is_a_one_shot_after_healthy_postgres_and_kafka(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    init = services["db_initializer"]
    assert _depends_on(init) == {"postgres": "service_healthy", "kafka": "service_healthy"}
    assert init.get("restart") == "no", "a one-shot must not be restarted after it exits 0"
    assert "healthcheck" not in init
    for name, service in services.items():
        condition = _depends_on(service).get("db_initializer")
        assert condition in (None, "service_completed_successfully"), (
            f"{name} waits on db_initializer with {condition}: a one-shot never becomes healthy"
        )


@pytest.mark.parametrize("name", LONG_RUNNING_APPS)
def test_long_running_services_start_after_db_init_completed(rendered: dict[str, Any], name: str) -> None:
    service = rendered["services"][name]
    assert _depends_on(service).get("db_initializer") == "service_completed_successfully"
    assert service.get("restart") in ("unless-stopped", "always", "on-failure")
    assert service.get("stop_grace_period"), f"{name} needs time to drain on SIGTERM"


def test_telebot_waits_for_a_healthy_api(rendered: dict[str, Any]) -> None:
    assert _depends_on(rendered["services"]["telebot"]).get("api") == "service_healthy"


def test_postgres_is_16_with_pg_isready_and_a_named_volume(rendered: dict[str, Any]) -> None:
    postgres = rendered["services"]["postgres"]
    assert re.fullmatch(r"postgres:16\.\d+[\w.-]*", postgres["image"]), postgres["image"]
    assert "pg_isready" in _healthcheck_text(postgres)
    mounts = _named_volume_targets(postgres, set(rendered.get("volumes") or {}))
    assert "/var/lib/postgresql/data" in mounts, f"postgres data is not on a named volume: {postgres.get('volumes')}"
    assert "ports" not in postgres, "the database is not published outside the compose network"


def test_kafka_is_pinned_kraft_with_a_broker_api_healthcheck_and_a_named_volume(rendered: dict[str, Any]) -> None:
    kafka = rendered["services"]["kafka"]
    assert re.fullmatch(r"apache/kafka:3\.9\.\d+", kafka["image"]), kafka["image"]
    env = _environment(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}, "single-node KRaft"
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert env.get("CLUSTER_ID"), "KRaft formats its storage with CLUSTER_ID"
    check = _healthcheck_text(kafka)
    assert re.search(r"kafka-(broker-api-versions|topics)\.sh", check) and "localhost:9092" in check, check
    mounts = _named_volume_targets(kafka, set(rendered.get("volumes") or {}))
    assert env["KAFKA_LOG_DIRS"] in mounts, f"kafka log dirs {env['KAFKA_LOG_DIRS']} not on a named volume"


def test_postgres_and_kafka_volumes_are_named_and_distinct(rendered: dict[str, Any]) -> None:
    names = set(rendered.get("volumes") or {})
    services = rendered["services"]
    postgres = set(_named_volume_targets(services["postgres"], names).values())
    kafka = set(_named_volume_targets(services["kafka"], names).values())
    assert postgres and kafka and not postgres & kafka


def test_api_health_is_checked_without_curl_and_published_on_api_port(rendered: dict[str, Any]) -> None:
    api = rendered["services"]["api"]
    env = _environment(api)
    assert env["API_HOST"] == "0.0.0.0", "the API must listen on every interface of its container"
    check = _healthcheck_text(api)
    assert "urllib" in check and "curl" not in check, check
    assert f"127.0.0.1:{env['API_PORT']}/healthz" in check, check
    ports = api.get("ports") or []
    assert len(ports) == 1, ports
    port = ports[0]
    target = str(port["target"]) if isinstance(port, dict) else str(port).rsplit(":", 1)[-1]
    published = str(port["published"]) if isinstance(port, dict) else str(port).split(":")[-2]
    assert target == env["API_PORT"]
    assert published == _env_file_values(ENV_EXAMPLE)["API_PORT"], "the host port comes from API_PORT"


@pytest.mark.parametrize(("name", "ops_port"), [("logic_worker", "9101"), ("telebot", "9102")])
def test_ops_healthchecks_probe_the_port_the_process_serves(
    rendered: dict[str, Any], name: str, ops_port: str
) -> None:
    service = rendered["services"][name]
    env = _environment(service)
    assert env["OPS_PORT"] == ops_port
    check = _healthcheck_text(service)
    assert f"127.0.0.1:{ops_port}/healthz" in check and "curl" not in check, check
    settings = load_settings(env)
    assert settings.ops_port == int(ops_port)


def test_logic_worker_can_be_scaled(rendered: dict[str, Any]) -> None:
    worker = rendered["services"]["logic_worker"]
    assert "container_name" not in worker, "a fixed container name allows one replica only"
    assert "ports" not in worker, "a published host port allows one replica only"
    assert "hostname" not in worker


def test_required_secrets_are_passed_where_they_are_used(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    secrets = _env_file_values(ENV_EXAMPLE)
    password = secrets["POSTGRES_PASSWORD"]
    assert _environment(services["postgres"])["POSTGRES_PASSWORD"] == password
    for name in APP_SERVICES:
        env = _environment(services[name])
        assert env["DATABASE_URL"] == f"postgresql://trivia:{password}@postgres:5432/trivia", name
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092", name
        assert env["TRIVIA_ENV"] == "production", name
        assert env["LOG_FORMAT"] == "json", name
        assert env["KAFKA_PARTITIONS"].isdigit(), name
    assert _environment(services["api"])["JWT_SECRET"] == secrets["JWT_SECRET"]
    telebot = _environment(services["telebot"])
    assert telebot["JWT_SECRET"] == secrets["JWT_SECRET"], "the telebot mints its service token with it"
    assert telebot["TELEGRAM_BOT_TOKEN"] == secrets["TELEGRAM_BOT_TOKEN"]
    assert telebot["API_URL"] == "http://api:8000"
    assert "JWT_SECRET" not in _environment(services["logic_worker"]), "the worker has no use for it"
    assert "TELEGRAM_BOT_TOKEN" not in _environment(services["api"])


def test_every_design_variable_name_reaches_some_process(rendered: dict[str, Any]) -> None:
    passed: set[str] = set()
    for name in APP_SERVICES:
        passed |= set(_environment(rendered["services"][name]))
    assert passed >= DESIGN_NAMES, f"missing from the compose file: {sorted(DESIGN_NAMES - passed)}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_variable_passed_is_one_the_settings_read(rendered: dict[str, Any], name: str) -> None:
    """A misspelt name would be silently ignored by the process; catch it here."""
    unknown = set(_environment(rendered["services"][name])) - _names_read_by_settings() - NON_SETTINGS_NAMES
    assert not unknown, f"{name} gets variables no process reads: {sorted(unknown)}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_rendered_environment_loads_as_settings(rendered: dict[str, Any], name: str) -> None:
    env = _environment(rendered["services"][name])
    settings = load_settings(env)
    assert not settings.is_development
    assert settings.kafka_bootstrap_servers == "kafka:9092"
    assert settings.kafka_topic_prefix == "trivia."
    assert settings.log_format == "json"
    if name in ("api", "telebot"):
        settings.require_jwt_secret()  # the example secret is long enough for the processes to start
    if name == "api":
        assert (settings.api_host, settings.api_port) == ("0.0.0.0", 8000)
    if name == "telebot":
        assert settings.telegram_bot_token and settings.telegram_webhook_url is None


# --- missing secrets -----------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["JWT_SECRET", "POSTGRES_PASSWORD", "TELEGRAM_BOT_TOKEN"])
def test_config_refuses_to_render_without_a_required_secret(tmp_path: Path, secret: str) -> None:
    lines = ENV_EXAMPLE.read_text().splitlines()
    kept = [line for line in lines if not line.startswith(f"{secret}=")]
    assert len(kept) == len(lines) - 1, f"{secret} is not set in .env.example"
    env_file = tmp_path / "without.env"
    env_file.write_text("\n".join(kept) + "\n")
    result = _run_config(BASE, env_file=env_file, home=tmp_path)
    assert result.returncode != 0, f"config rendered without {secret}:\n{result.stdout}"
    assert f"{secret} is required" in result.stderr, result.stderr


# --- .env.example --------------------------------------------------------------------------------------


def _variables_referenced(*files: Path) -> set[str]:
    names: set[str] = set()
    for file in files:
        text = file.read_text()
        names |= set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
        names |= set(re.findall(r"(?<!\$)\$([A-Za-z_][A-Za-z0-9_]*)", re.sub(r"(?m)^\s*#.*$", "", text)))
    return names


def test_env_example_documents_every_variable_the_compose_files_use() -> None:
    # COMPOSE_* variables configure docker-compose itself (e.g. the project name), not the services.
    documented = {name for name in _env_file_values(ENV_EXAMPLE) if not name.startswith("COMPOSE_")}
    used = _variables_referenced(BASE, DEV)
    assert used <= documented, f"undocumented in .env.example: {sorted(used - documented)}"
    assert documented <= used, f"in .env.example but used by no compose file: {sorted(documented - used)}"


def test_env_example_has_a_comment_for_each_variable() -> None:
    block_has_comment = False
    undocumented = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        stripped = line.strip()
        if not stripped:
            block_has_comment = False
        elif stripped.startswith("#"):
            block_has_comment = True
        elif not block_has_comment:
            undocumented.append(stripped.partition("=")[0])
    assert not undocumented, f"variables without a comment above them: {undocumented}"


# --- development override ------------------------------------------------------------------------------


def test_dev_override_renders_and_keeps_workers_scalable(rendered_dev: dict[str, Any]) -> None:
    services = rendered_dev["services"]
    assert set(services) == SERVICES
    assert "ports" not in services["logic_worker"] and "container_name" not in services["logic_worker"]
    kafka = _environment(services["kafka"])
    assert "PLAINTEXT://kafka:9092" in kafka["KAFKA_ADVERTISED_LISTENERS"].split(","), "containers keep kafka:9092"
    for name in APP_SERVICES:
        env = _environment(services[name])
        assert env["PYTHONPATH"] == "/app" and env["TRIVIA_ENV"] == "development", name
        assert load_settings(env).is_development


# --- the image compose builds --------------------------------------------------------------------------


def _dockerfile_instructions() -> Iterator[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        logical += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            keyword, _, args = logical.partition(" ")
            yield keyword.upper(), args.strip()
            logical = ""


def test_image_pins_python_and_installs_dependencies_before_the_source() -> None:
    instructions = list(_dockerfile_instructions())
    bases = [args for keyword, args in instructions if keyword == "FROM"]
    assert bases and all(re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", b.split()[0]) for b in bases), bases
    copies = [(i, args) for i, (keyword, args) in enumerate(instructions) if keyword == "COPY"]
    installs = [i for i, (keyword, args) in enumerate(instructions) if keyword == "RUN" and "pip install" in args]
    metadata = min(i for i, args in copies if "setup.cfg" in args)
    source = min(i for i, args in copies if any(pkg in args for pkg in ("trivia_actors", "gateways", "schema")))
    assert any(metadata < i < source for i in installs), "dependencies must be installed in a layer of their own"
    final = [instructions[i][1] for i in installs if i > source]
    assert final and "--no-deps" in final[-1], "the source install must not re-resolve dependencies"
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the processes must not run as root"
    assert not any(keyword == "ARG" and re.search(r"SECRET|TOKEN|PASSWORD|KEY", args, re.I)
                   for keyword, args in instructions), "no secret may be a build argument"


def test_image_copies_every_package_the_project_installs() -> None:
    """A folder of modules without __init__.py is left out of a non-editable install, as in the image."""
    packages = set(find_packages(where=str(REPO), include=["trivia_actors*", "gateways*", "schema*"]))
    module_dirs = {
        ".".join(path.parent.relative_to(REPO).parts)
        for top in ("trivia_actors", "gateways", "schema")
        for path in (REPO / top).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert module_dirs <= packages, f"not installed (no __init__.py): {sorted(module_dirs - packages)}"
    copied = " ".join(args for keyword, args in _dockerfile_instructions() if keyword == "COPY")
    ignore = (REPO / ".dockerignore").read_text().split()
    for top in {name.split(".")[0] for name in packages}:
        assert top in copied, f"the Dockerfile does not copy {top}"
        assert f"!{top}/" in ignore or f"!{top}" in ignore, f".dockerignore keeps {top} out of the build context"


def test_operations_doc_gives_the_commands_that_run_this_file() -> None:
    doc = (REPO / "docs" / "operations.md").read_text()
    for command in (
        "docker-compose -f compose/docker-compose.yml build --no-cache",
        "docker-compose -f compose/docker-compose.yml up",
        "--scale logic_worker=",
        "cp compose/.env.example compose/.env",
    ):
        assert command in doc, f"docs/operations.md lacks {command!r}"
