"""The one place that builds the real store, clock and channels from settings.

API, CLI and Celery tasks ask here; tests build their own deps and install them with
`override()` (in-process workers) or configure a subprocess through the environment.

Importing this module costs the settings only: each builder imports what it builds when first
called, so a process that needs a URL (beat: its broker) does not load the store, keys and engine.
"""

from __future__ import annotations

import time
from functools import cache
from typing import TYPE_CHECKING, Any

from worker.settings import Settings, load_settings

if TYPE_CHECKING:
    import redis

    from worker.channels.base import Sender
    from worker.clock import Clock
    from worker.delivery.types import DeliveryDeps
    from worker.deps import EngineDeps
    from worker.phi import IndexKey, Keyring
    from worker.store import ClinicStore, Store

_overrides: dict[str, Any] = {}


def override(**deps: Any) -> None:
    """Install test-built deps (`engine=`, `delivery=`, `clinics=`) for this process; `reset()`
    removes them."""
    _overrides.update(deps)


def reset() -> None:
    _overrides.clear()
    for fn in (
        settings, redis_url, redis_client, store, clinics, clock, secret, keyring, index_key, engine_deps,
        delivery_deps,
    ):  # fmt: skip
        fn.cache_clear()


@cache
def settings() -> Settings:
    return load_settings()


@cache
def redis_url() -> str:
    """REDIS_URL, or the embedded server under CAREDRIP_VAR_DIR (started on first need)."""
    from worker.redis_server import ensure_embedded

    configured = settings().redis_url
    return configured or ensure_embedded(settings().var_dir).url


def broker_url() -> str:
    return kombu_url(redis_url())


def kombu_url(url: str) -> str:
    """The kombu (Celery broker) form of a redis-py URL: a unix socket is `redis+socket://`."""
    return url.replace("unix://", "redis+socket://", 1) if url.startswith("unix://") else url


REDIS_MAX_CONNECTIONS = 128  # per process
REDIS_POOL_WAIT_SECONDS = 30


@cache
def redis_client() -> redis.Redis:
    import redis

    # Bounded waits: an unreachable Redis fails a health check in seconds, not minutes.
    # A blocking pool: a `-P threads -c 32` send worker runs 32 batches at once, each with up to
    # `parallelism` provider threads, more than redis-py's default pool of 100 connections; a
    # plain pool then fails the batch (MaxConnectionsError) and strands its leases until they
    # expire. Here a thread waits for a free connection instead.
    pool = redis.BlockingConnectionPool.from_url(
        redis_url(),
        decode_responses=True,
        health_check_interval=30,
        socket_connect_timeout=2,
        socket_timeout=15,
        max_connections=REDIS_MAX_CONNECTIONS,
        timeout=REDIS_POOL_WAIT_SECONDS,
    )
    return redis.Redis(connection_pool=pool)


@cache
def store() -> Store:
    from worker.store import Store

    return Store(redis_client(), keyring(), index_key())


@cache
def keyring() -> Keyring:
    """The PHI keyring: CAREDRIP_DATA_KEYS, or (not in production) the one kept under var/keys/."""
    from worker.phi import load_or_create_keyring

    s = settings()
    return load_or_create_keyring(s.var_dir, s.data_keys, s.env)


@cache
def index_key() -> IndexKey:
    from worker.phi import IndexKey

    return IndexKey.from_secret(secret())


@cache
def clinics() -> ClinicStore:
    if "clinics" in _overrides:
        return _overrides["clinics"]  # type: ignore[no-any-return]
    from worker.store import ClinicStore

    return ClinicStore(redis_client())


@cache
def clock() -> Clock:
    """Real time, or the scaled clock whose origin every process on this Redis shares."""
    from worker.clock import SystemClock, shared_scaled_clock

    scale = settings().time_scale
    if scale == 1:
        return SystemClock()
    return shared_scaled_clock(store(), scale)


@cache
def secret() -> bytes:
    """CAREDRIP_SECRET_KEY, or the one generated once under var/keys/ (see worker.secret_file)."""
    from worker.secret_file import load_or_create_secret
    from worker.store import LegacySecret

    s = settings()
    return load_or_create_secret(s.var_dir, s.secret_key, s.env, LegacySecret(redis_client())).encode()


@cache
def engine_deps() -> EngineDeps:
    if "engine" in _overrides:
        return _overrides["engine"]  # type: ignore[no-any-return]
    from worker.deps import EngineDeps
    from worker.programs import catalog_for

    s = settings()
    return EngineDeps(
        clock=clock(),
        store=store(),
        catalog=catalog_for(s.content_dir),
        quiet=s.quiet_hours,
        secret=secret(),
        keyring=keyring(),
        index=index_key(),
        retention_days=s.retention_days,
    )


@cache
def delivery_deps() -> DeliveryDeps:
    if "delivery" in _overrides:
        return _overrides["delivery"]  # type: ignore[no-any-return]
    from worker.delivery.types import DeliveryDeps
    from worker.render import Renderer

    s = settings()
    clinic_store = clinics()
    return DeliveryDeps(
        engine=engine_deps(),
        renderer=Renderer(s.templates_dir),
        channels=build_channels(s),
        caps=s.caps,
        public_base_url=s.public_base_url,
        rate_per_second={"sms": s.sms_rate_per_second, "email": s.email_rate_per_second},
        send_batch=s.send_batch,
        lease_seconds=s.lease_seconds,
        clinics=_cached_clinic_lookup(clinic_store),
    )


def _cached_clinic_lookup(clinic_store: ClinicStore) -> Any:
    seen: dict[str, tuple[float, dict[str, str]]] = {}

    def lookup(cid: str) -> dict[str, str]:
        hit = seen.get(cid)
        if hit is None or time.monotonic() - hit[0] > 60:
            hit = seen[cid] = (time.monotonic(), clinic_store.get(cid))
        return hit[1]

    return lookup


def build_channels(s: Settings) -> dict[str, Sender]:
    from worker.channels.outbox import OutboxChannel

    channels: dict[str, Sender] = {}
    if s.sms_channel == "twilio":
        from worker.channels.twilio_sms import TwilioSmsChannel

        channels["sms"] = TwilioSmsChannel(
            account_sid=s.twilio_account_sid or "",
            auth_token=s.twilio_auth_token or "",
            messaging_service_sid=s.twilio_messaging_service_sid,
            from_number=s.twilio_from_number,
            api_base_url=s.twilio_api_base_url,
        )
    else:
        channels["sms"] = OutboxChannel("sms", s.outbox_path)
    if s.email_channel == "smtp":
        from worker.channels.smtp_email import SmtpEmailChannel

        channels["email"] = SmtpEmailChannel(
            host=s.smtp_host or "",
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password,
            starttls=s.smtp_starttls,
            mail_from=s.mail_from or "",
        )
    else:
        channels["email"] = OutboxChannel("email", s.outbox_path)
    return channels
