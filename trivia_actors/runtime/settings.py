"""Process configuration: the environment, parsed once into a frozen, typed settings object.

The names are fixed by DESIGN.md section 12 (operators, compose files and outside harnesses rely on them);
the README lists each with its default. Nothing else in the code reads ``os.environ`` (tests/test_layout.py
checks it): a launcher that passes its environment on to child processes takes a copy from
:func:`inherited_environment`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import attrs

from schema.vocabulary import MAX_QUESTIONS, MAX_TIME_LIMIT_S, MIN_QUESTIONS, MIN_TIME_LIMIT_S
from trivia_actors.runtime.failpoints import KNOWN as KNOWN_FAILPOINTS

DEV_ENVIRONMENTS = frozenset({"development", "dev", "test"})
MIN_JWT_SECRET_BYTES = 32


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable, never its value."""


def _default_database_url() -> str:
    return f"sqlite:///{Path('var') / 'trivia.sqlite3'}"


@attrs.frozen(kw_only=True)
class Settings:
    """Every setting of every process; each process reads only the ones it needs."""

    environment: str = "development"
    database_url: str = attrs.field(factory=_default_database_url)
    db_init_timeout_s: float = 30.0
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_prefix: str = "trivia."
    kafka_partitions: int = 6
    kafka_fetch_max_wait_ms: int = 10
    kafka_session_timeout_ms: int = 10_000
    kafka_linger_ms: int = 5
    api_url: str = "http://127.0.0.1:8000"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    jwt_secret: str | None = attrs.field(default=None, repr=False)
    jwt_issuer: str = "trivia-platform"
    jwt_audience: str = "trivia-api"
    access_token_ttl_s: int = 900
    jwt_algorithm: str = "HS256"
    jwt_private_key_file: str | None = None
    jwt_public_key_file: str | None = None
    jwt_kid: str | None = None
    refresh_token_ttl_s: int = 14 * 24 * 3600
    api_rate_limit: int = 60_000
    api_cors_origins: tuple[str, ...] = ()
    telegram_bot_token: str | None = attrs.field(default=None, repr=False)
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = attrs.field(default=None, repr=False)
    telegram_webhook_listen: str = "0.0.0.0:8443"
    telegram_global_rate: int = 30  # calls per second over all chats (Telegram's free ceiling)
    deepseek_api_key: str | None = attrs.field(default=None, repr=False)
    deepseek_base_url: str = "https://api.deepseek.com"
    deepseek_model: str = "deepseek-chat"
    deepseek_timeout_s: float = 20.0  # one HTTP request; judging also has its own shorter deadline
    deepseek_concurrency: int = 4  # DeepSeek actors, i.e. requests in flight per worker
    deepseek_daily_quota: int = 20  # topic games with generated questions per player per UTC day (0: none)
    git_remote_url: str | None = None
    git_token: str | None = attrs.field(default=None, repr=False)
    git_branch: str = "main"
    git_work_dir: str | None = None  # the worker's clone; default var/git-export-<hostname>
    s3_bucket: str | None = None
    aws_endpoint_url: str | None = None
    aws_region: str = "us-east-1"
    lambda_function_name: str | None = None
    log_level: str = "INFO"
    log_format: str = "text"
    ops_port: int | None = None
    worker_evaluators: int = 4
    worker_persistence_shards: int = 4
    question_time_limit_s: float = 30.0
    default_question_count: int = 5
    telebot_session_shards: int = 8  # session shard actors of the telebot, each hosting many chats' games
    telebot_store_writers: int = 2  # telebot store actors, each committing its shards' writes in groups
    failpoints: tuple[tuple[str, float], ...] = ()  # fault-injection runs only (TRIVIA_ENV=test)
    tansu_log: str = "warn"  # RUST_LOG of the Tansu broker the local stack starts
    standin_url: str = "http://127.0.0.1:8081"  # the Telegram stand-in the terminal chat plays through

    @property
    def is_development(self) -> bool:
        """True on a developer's machine or in tests, where embedded defaults are allowed."""
        return self.environment in DEV_ENVIRONMENTS

    def topic(self, name: str) -> str:
        """The full topic name for ``commands``, ``results`` or ``dlq``."""
        return f"{self.kafka_topic_prefix}{name}"

    def require_jwt_secret(self) -> str:
        """The HS256 secret, refused when missing or shorter than 32 bytes."""
        if not self.jwt_secret:
            raise SettingsError("JWT_SECRET is required (at least 32 bytes)")
        if len(self.jwt_secret.encode()) < MIN_JWT_SECRET_BYTES:
            raise SettingsError("JWT_SECRET is too short: it must be at least 32 bytes")
        return self.jwt_secret


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number") from None


def _opt(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _str(env: Mapping[str, str], name: str, default: str) -> str:
    return _opt(env, name) or default


def _failpoints(env: Mapping[str, str]) -> tuple[tuple[str, float], ...]:
    raw = env.get("TRIVIA_FAILPOINTS", "").strip()
    points = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        name, _, probability = (part.strip() for part in item.partition("="))
        if name not in KNOWN_FAILPOINTS:
            known = ", ".join(sorted(KNOWN_FAILPOINTS))
            raise SettingsError(f"TRIVIA_FAILPOINTS names an unknown failpoint; known: {known}")
        try:
            value = float(probability)
        except ValueError:
            raise SettingsError("TRIVIA_FAILPOINTS entries are name=probability") from None
        if not 0.0 <= value <= 1.0:
            raise SettingsError("TRIVIA_FAILPOINTS probabilities must be between 0 and 1")
        points.append((name, value))
    return tuple(points)


def inherited_environment() -> dict[str, str]:
    """A copy of this process's environment, for a launcher to pass on (with its own additions) to children."""
    return dict(os.environ)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Parse the environment (``os.environ`` unless given) into a :class:`Settings`."""
    env = os.environ if environ is None else environ
    defaults = Settings()
    log_format = _str(env, "LOG_FORMAT", defaults.log_format).lower()
    if log_format not in {"text", "json"}:
        raise SettingsError("LOG_FORMAT must be 'text' or 'json'")
    settings = Settings(
        environment=_str(env, "TRIVIA_ENV", defaults.environment).lower(),
        database_url=_str(env, "DATABASE_URL", defaults.database_url),
        db_init_timeout_s=_float(env, "DB_INIT_TIMEOUT", defaults.db_init_timeout_s),
        kafka_bootstrap_servers=_str(env, "KAFKA_BOOTSTRAP_SERVERS", defaults.kafka_bootstrap_servers),
        kafka_topic_prefix=env.get("KAFKA_TOPIC_PREFIX", defaults.kafka_topic_prefix),
        kafka_partitions=_int(env, "KAFKA_PARTITIONS", defaults.kafka_partitions),
        kafka_fetch_max_wait_ms=_int(env, "KAFKA_FETCH_MAX_WAIT_MS", defaults.kafka_fetch_max_wait_ms),
        kafka_session_timeout_ms=_int(env, "KAFKA_SESSION_TIMEOUT_MS", defaults.kafka_session_timeout_ms),
        kafka_linger_ms=_int(env, "KAFKA_LINGER_MS", defaults.kafka_linger_ms),
        api_url=_str(env, "API_URL", defaults.api_url).rstrip("/"),
        api_host=_str(env, "API_HOST", defaults.api_host),
        api_port=_int(env, "API_PORT", defaults.api_port),
        jwt_secret=_opt(env, "JWT_SECRET"),
        jwt_issuer=_str(env, "JWT_ISSUER", defaults.jwt_issuer),
        jwt_audience=_str(env, "JWT_AUDIENCE", defaults.jwt_audience),
        access_token_ttl_s=_int(env, "ACCESS_TOKEN_TTL", defaults.access_token_ttl_s),
        jwt_algorithm=_str(env, "JWT_ALGORITHM", defaults.jwt_algorithm).upper(),
        jwt_private_key_file=_opt(env, "JWT_PRIVATE_KEY_FILE"),
        jwt_public_key_file=_opt(env, "JWT_PUBLIC_KEY_FILE"),
        jwt_kid=_opt(env, "JWT_KID"),
        refresh_token_ttl_s=_int(env, "REFRESH_TOKEN_TTL", defaults.refresh_token_ttl_s),
        api_rate_limit=_int(env, "API_RATE_LIMIT", defaults.api_rate_limit),
        api_cors_origins=tuple(o.strip() for o in env.get("API_CORS_ORIGINS", "").split(",") if o.strip()),
        telegram_bot_token=_opt(env, "TELEGRAM_BOT_TOKEN"),
        telegram_api_base_url=_str(env, "TELEGRAM_API_BASE_URL", defaults.telegram_api_base_url),
        telegram_webhook_url=_opt(env, "TELEGRAM_WEBHOOK_URL"),
        telegram_webhook_secret=_opt(env, "TELEGRAM_WEBHOOK_SECRET"),
        telegram_webhook_listen=_str(env, "TELEGRAM_WEBHOOK_LISTEN", defaults.telegram_webhook_listen),
        telegram_global_rate=_int(env, "TELEGRAM_GLOBAL_RATE", defaults.telegram_global_rate),
        deepseek_api_key=_opt(env, "DEEPSEEK_API_KEY"),
        deepseek_base_url=_str(env, "DEEPSEEK_BASE_URL", defaults.deepseek_base_url).rstrip("/"),
        deepseek_model=_str(env, "DEEPSEEK_MODEL", defaults.deepseek_model),
        deepseek_timeout_s=_float(env, "DEEPSEEK_TIMEOUT", defaults.deepseek_timeout_s),
        deepseek_concurrency=_int(env, "DEEPSEEK_CONCURRENCY", defaults.deepseek_concurrency),
        deepseek_daily_quota=_int(env, "DEEPSEEK_DAILY_QUOTA", defaults.deepseek_daily_quota),
        git_remote_url=_opt(env, "GIT_REMOTE_URL"),
        git_token=_opt(env, "GIT_TOKEN"),
        git_branch=_str(env, "GIT_BRANCH", defaults.git_branch),
        git_work_dir=_opt(env, "GIT_WORK_DIR"),
        s3_bucket=_opt(env, "S3_BUCKET"),
        aws_endpoint_url=_opt(env, "AWS_ENDPOINT_URL"),
        aws_region=_str(env, "AWS_REGION", defaults.aws_region),
        lambda_function_name=_opt(env, "LAMBDA_FUNCTION_NAME"),
        log_level=_str(env, "LOG_LEVEL", defaults.log_level).upper(),
        log_format=log_format,
        ops_port=_int(env, "OPS_PORT", -1) if env.get("OPS_PORT", "").strip() else None,
        worker_evaluators=_int(env, "WORKER_EVALUATORS", defaults.worker_evaluators),
        worker_persistence_shards=_int(env, "WORKER_PERSISTENCE_SHARDS", defaults.worker_persistence_shards),
        question_time_limit_s=_float(env, "QUESTION_TIME_LIMIT", defaults.question_time_limit_s),
        default_question_count=_int(env, "DEFAULT_QUESTION_COUNT", defaults.default_question_count),
        telebot_session_shards=_int(env, "TELEBOT_SESSION_SHARDS", defaults.telebot_session_shards),
        telebot_store_writers=_int(env, "TELEBOT_STORE_WRITERS", defaults.telebot_store_writers),
        failpoints=_failpoints(env),
        tansu_log=_str(env, "TANSU_LOG", defaults.tansu_log),
        standin_url=_str(env, "STANDIN_URL", defaults.standin_url),
    )
    if settings.failpoints and settings.environment != "test":
        raise SettingsError("TRIVIA_FAILPOINTS is only allowed with TRIVIA_ENV=test")
    if settings.jwt_algorithm not in {"HS256", "RS256"}:
        raise SettingsError("JWT_ALGORITHM must be HS256 or RS256")
    if settings.jwt_algorithm == "RS256" and not (settings.jwt_private_key_file or settings.jwt_public_key_file):
        raise SettingsError(
            "JWT_ALGORITHM=RS256 needs JWT_PRIVATE_KEY_FILE (to issue) or JWT_PUBLIC_KEY_FILE (to verify)"
        )
    if settings.refresh_token_ttl_s < 1:
        raise SettingsError("REFRESH_TOKEN_TTL must be a positive number of seconds")
    if settings.api_rate_limit < 1:
        raise SettingsError("API_RATE_LIMIT must be at least 1 request per minute")
    if settings.kafka_partitions < 1:
        raise SettingsError("KAFKA_PARTITIONS must be at least 1")
    if not 0 <= settings.kafka_linger_ms <= 1000:
        raise SettingsError("KAFKA_LINGER_MS must be between 0 and 1000 milliseconds")
    if not 0 < settings.deepseek_timeout_s <= 600:
        raise SettingsError("DEEPSEEK_TIMEOUT must be a number of seconds above 0 and at most 600")
    if not 1 <= settings.deepseek_concurrency <= 64:
        raise SettingsError("DEEPSEEK_CONCURRENCY must be between 1 and 64")
    if settings.deepseek_daily_quota < 0:
        raise SettingsError("DEEPSEEK_DAILY_QUOTA must be 0 or more")
    if settings.telegram_webhook_url and not settings.telegram_webhook_secret:
        raise SettingsError("TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_WEBHOOK_URL is set")
    if not 1 <= settings.telegram_global_rate <= 1000:
        raise SettingsError("TELEGRAM_GLOBAL_RATE must be between 1 and 1000 calls per second")
    # The API refuses games outside these limits, so a default outside them would fail every /play instead.
    if not MIN_TIME_LIMIT_S <= settings.question_time_limit_s <= MAX_TIME_LIMIT_S:
        raise SettingsError(f"QUESTION_TIME_LIMIT must be between {MIN_TIME_LIMIT_S} and {MAX_TIME_LIMIT_S} "
                            "seconds (the API refuses other time limits)")
    if not MIN_QUESTIONS <= settings.default_question_count <= MAX_QUESTIONS:
        raise SettingsError(f"DEFAULT_QUESTION_COUNT must be between {MIN_QUESTIONS} and {MAX_QUESTIONS} "
                            "(the API refuses other question counts)")
    if not 1 <= settings.telebot_session_shards <= 256:
        raise SettingsError("TELEBOT_SESSION_SHARDS must be between 1 and 256")
    if not 1 <= settings.telebot_store_writers <= 32:
        raise SettingsError("TELEBOT_STORE_WRITERS must be between 1 and 32")
    return settings
