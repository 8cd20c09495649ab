"""The appliance's one settings object.

Read from environment variables prefixed ``APPLIANCE_`` (nested fields with ``__``) and from
the settings file named by ``APPLIANCE_SETTINGS_FILE`` (an env file that Ansible or the local
runtime renders). Nothing else configures the running services: no database rows override it.
Validated at start-up; outside development, placeholder secrets are refused.
"""

from __future__ import annotations

import json
import os
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from appliance.rag.config import RagSettings

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "password"})
# The shortest audit retention accepted (``AuditSettings.retention_days``).
MIN_RETENTION_DAYS = 180


class CaptureMode(StrEnum):
    """How much of prompts and answers the audit log keeps."""

    FULL = "full"
    REDACTED = "redacted"
    HASH = "hash"


class ChainHash(StrEnum):
    SHA256 = "sha256"
    SM3 = "sm3"


class ThinkingMode(StrEnum):
    """How a served model reasons, which decides what a chat's ``thinking`` switch does.

    ``always``: it always reasons and cannot be told not to (DeepSeek-R1 and its distills,
    served with vLLM's ``deepseek_r1`` reasoning parser). ``template``: its chat template
    takes ``thinking`` and it answers with or without reasoning (DeepSeek-V3.1, V3.2 and V4,
    parsers ``deepseek_v3`` and ``deepseek_v4``). ``none``: it never reasons.
    """

    ALWAYS = "always"
    TEMPLATE = "template"
    NONE = "none"


class KeycloakSettings(BaseModel):
    """Where tokens come from and what the gateway accepts."""

    issuer: str = "http://127.0.0.1:8180/realms/appliance"
    # The realm's key set as the gateway reaches it, when that is not under the issuer
    # (Keycloak behind a reverse proxy or on an internal address). Empty: OIDC discovery.
    jwks_url: str = ""
    # Audience the gateway requires in `aud` (or as `azp` for tokens of its own clients).
    audience: str = "appliance-gateway"
    # Clients whose tokens are accepted (checked against `azp`). The local runtime's
    # password-grant client (`appliance-dev`) is not among them: the runtime's settings file
    # adds it (appliance/runtime/gateway_service.py), so no other install accepts it.
    allowed_clients: list[str] = Field(
        default_factory=lambda: [
            "appliance-webui",
            "appliance-gateway",
            "appliance-cli",
        ]
    )
    # Integration clients (`appliance clients add`) are named with this prefix; their
    # client-credentials tokens are accepted too. Empty: no integration clients.
    service_client_prefix: str = "svc-"
    # The gateway's own service-account client for account management (/api/admin/accounts).
    # Without a secret those routes answer 503.
    accounts_client_id: str = "appliance-accounts"
    accounts_client_secret: SecretStr = SecretStr("")
    # Keycloak's base URL for its admin API as the gateway reaches it. Empty: the issuer's.
    admin_url: str = ""
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256", "PS256"])
    leeway_s: int = 30
    jwks_min_refresh_interval_s: float = 30.0
    http_timeout_s: float = 3.0


class LimitSettings(BaseModel):
    """Admission control, quotas and request limits."""

    max_body_bytes: int = 1_048_576
    max_messages: int = 256
    max_tokens_cap: int = 8192
    default_max_tokens: int = 1024
    # Chats one user may have open at once (429 beyond), across every worker and gateway on
    # the database: each chat leases a slot in PostgreSQL (appliance/gateway/quota/slots.py).
    per_user_concurrency: int = 4
    # How long a slot outlives a gateway process killed while holding it (renewed every
    # third of this while the chat runs).
    concurrency_lease_s: float = 30.0
    # Prompt plus completion tokens per user and day, summed from the audit log (all
    # workers, all gateways: one figure).
    daily_token_quota: int = 200_000
    # Requests one worker sends to one backend at once (503 backends_busy beyond); a
    # backend sees at most workers times gateways times this, by design (see
    # appliance/gateway/replicas/pool.py).
    per_backend_inflight: int = 64
    upstream_connect_timeout_s: float = 3.0
    upstream_read_timeout_s: float = 300.0
    # Load shedding per worker, checked before authentication or parsing (503 overloaded,
    # see appliance/gateway/edge/shedding.py). 0 turns a check off.
    # Queueing delay (CoDel): new requests are refused while the time requests spend in the
    # gateway's own stages (admitted until handed to a backend, or answered) stayed above
    # shed_target_ms for a whole shed_interval_ms, until it drops. The minimum counts, so
    # slow requests among fast ones (a RAG retrieval embeds the question, ~50 ms on CPU) do
    # not trip it; traffic made only of requests slower than the target would.
    shed_target_ms: float = 50.0
    shed_interval_ms: float = 100.0
    # ...and only once the queue grows: in each of the last two intervals more than this
    # many times as many requests were admitted as left the stages. A closed loop (each client waits
    # for its answer before asking again) or a burst that has arrived holds a standing
    # queue that does not grow, and is served whole; an overload is refused. 0 turns the
    # test off (refuse on the standing queue alone).
    shed_demand_ratio: float = 2.0
    # Requests working through those stages at once; the rest wait for their turn in
    # arrival order, costing no CPU, so the event loop stays prompt for new arrivals and
    # their refusals (appliance/gateway/edge/turns.py). The wait counts as queueing delay
    # above. 0: no limit.
    stage_concurrency_per_worker: int = 16
    # All requests in progress (streams until their last byte): bounds memory.
    max_inflight_per_worker: int = 512
    max_loop_lag_ms: float = 100.0


class AuditSettings(BaseModel):
    capture: CaptureMode = CaptureMode.FULL
    chain_hash: ChainHash = ChainHash.SHA256
    # How long a request waits for its "begin" event to be durably committed before 503.
    commit_timeout_s: float = 2.0
    # Group commit: at most this many events per transaction. Events that arrive while a
    # batch is being written form the next one; batch_wait_ms > 0 additionally waits that
    # long for company when the queue holds a single event (trades latency for fewer fsyncs).
    batch_max: int = 256
    batch_wait_ms: float = 0.0
    # Events that need no wait (ends, denials) linger at most this long for a durable commit
    # to share its transaction; a crash inside that window loses only "end" records, which
    # the next start marks as interrupted.
    submit_linger_ms: float = 20.0
    # Every N events a checkpoint (sequence, chain head) is signed with the checkpoint key.
    checkpoint_every: int = 1000
    checkpoint_key_file: str = ""
    # A checkpoint also at most this long after rows were added (0: by count only), so the
    # tail that nothing signed pins is seconds of events, not up to checkpoint_every rows.
    checkpoint_interval_s: float = 10.0
    # Every checkpoint is also sent out of the database (``appliance.audit.anchor``): RFC 5424
    # syslog over TCP to ``host:port`` (empty: not sent), TLS when a CA file is given.
    anchor_syslog: str = ""
    anchor_ca_file: str = ""
    # Checkpoints waiting for the receiver; beyond this the oldest is dropped, logged, counted.
    anchor_queue_max: int = 10_000
    # Rows older than this many days may leave the database for signed archive files
    # (``appliance audit archive``, ``appliance.audit.retention``); they are never deleted
    # unarchived. The Cybersecurity Law (art. 21) and 等保 2.0 keep logs six months at least.
    retention_days: int = 365

    @field_validator("retention_days")
    @classmethod
    def _retention_at_least_six_months(cls, value: int) -> int:
        if value < MIN_RETENTION_DAYS:
            raise ValueError(
                f"audit.retention_days must be at least {MIN_RETENTION_DAYS} (six months, the "
                f"least the Cybersecurity Law and 等保 2.0 allow), not {value}"
            )
        return value


class ChatPiiPolicy(StrEnum):
    """What a chat does with personal information (``appliance.content.pii``) in a prompt."""

    MASK = "mask"
    ALLOW = "allow"


class ContentSettings(BaseModel):
    """The keyword filter (``appliance.content``); its library lives in the database."""

    # How long a gateway worker uses the library it loaded before checking (one indexed
    # read) whether the secadmin imported a newer one; the importing worker reloads at once.
    reload_ttl_s: float = 5.0
    # Whether a ``content.blocked`` audit row keeps the matched text; by default it names
    # the rule and its category only, so the audit log holds no copy of the banned terms.
    audit_matched_text: bool = False
    # The largest CSV file an import accepts (10,000 entries take well under 1 MiB).
    max_import_bytes: int = 16 * 1024 * 1024
    # Personal information in a chat's prompt, per realm role: ``mask`` (each number replaced
    # by its kind before the model sees it) or ``allow``. A role not listed counts for
    # nothing; a caller none of whose roles is listed gets ``pii_chat_default``, and where
    # their listed roles disagree ``mask`` wins. Masking by default is what a bank's data
    # protection officer asks for: the model needs to know that a number was there, not
    # which (PIPL's minimum necessary), and a team whose work needs the numbers is named.
    pii_chat_default: ChatPiiPolicy = ChatPiiPolicy.MASK
    pii_chat_roles: dict[str, ChatPiiPolicy] = Field(default_factory=dict)


class LabelSettings(BaseModel):
    """The GB 45438-2025 labels on exported files (``appliance.labels``)."""

    # The ContentProducer and ContentPropagator of every label: the name or code of the site
    # that runs the appliance, as registered with the regulator where it is.
    content_producer: str = "DeepSeek-R1 appliance"


class ApiKeySettings(BaseModel):
    """Personal API keys (``appliance.apikeys``) for OpenAI-compatible clients."""

    # The gateway's secret that every key's HMAC-SHA256 is taken under, so the table alone
    # verifies nothing. Empty: creating keys and signing in with one answer 503
    # ``api_keys_disabled``; everything else works. Changing it invalidates every key.
    pepper: SecretStr = SecretStr("")
    # A new key's lifetime when its owner names none, and the longest one may ask for (the
    # security administrator's to set).
    default_days: int = Field(default=90, ge=1)
    max_days: int = Field(default=365, ge=1)
    # How long a worker trusts its last look at a key owner's Keycloak account (enabled,
    # roles, departments): a disabled account's keys stop working within this.
    account_recheck_s: float = Field(default=60.0, gt=0)
    # Failed key attempts one source address may make per window in one worker (429 beyond).
    failed_attempts_limit: int = 20
    failed_attempts_window_s: float = 60.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="APPLIANCE_",
        env_nested_delimiter="__",
        env_file=os.environ.get("APPLIANCE_SETTINGS_FILE"),
        extra="ignore",
    )

    environment: str = "development"
    # Runtime database URL (the gateway's least-privilege role), SQLAlchemy form.
    database_url: SecretStr = SecretStr(
        "postgresql+psycopg://appliance_gateway@127.0.0.1:55432/appliance"
    )
    # Owner role used only for migrations.
    migration_database_url: SecretStr | None = None
    backends: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://127.0.0.1:8011"]
    )
    backend_health_interval_s: float = 2.0
    # The key every replica requires (vLLM's VLLM_API_KEY), sent as a bearer token on every
    # call to a replica, so the gateway is the only way to the model. Empty: none sent.
    backend_api_key: SecretStr = SecretStr("")
    # CA certificate that https:// backends (replicas on other nodes) are verified against:
    # the site's internal CA. Empty: the system's trust store.
    backend_ca_file: str = ""
    # The thinking mode of a served model, by the id its backends list it under; a model
    # not named here gets the mode its name implies (``gateway.replicas.thinking``).
    model_thinking: dict[str, ThinkingMode] = Field(default_factory=dict)
    keycloak: KeycloakSettings = Field(default_factory=KeycloakSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    rag: RagSettings = Field(default_factory=RagSettings)
    content: ContentSettings = Field(default_factory=ContentSettings)
    labels: LabelSettings = Field(default_factory=LabelSettings)
    api_keys: ApiKeySettings = Field(default_factory=ApiKeySettings)

    @model_validator(mode="before")
    @classmethod
    def _split_backends(cls, data: object) -> object:
        """Accept ``APPLIANCE_BACKENDS=http://a,http://b`` as well as a JSON list."""
        if isinstance(data, dict):
            raw = data.get("backends")
            if isinstance(raw, str):
                text = raw.strip()
                if text.startswith("["):
                    data["backends"] = json.loads(text)
                else:
                    data["backends"] = [b.strip() for b in text.split(",") if b.strip()]
        return data

    @model_validator(mode="after")
    def _no_placeholders_in_production(self) -> Settings:
        if self.environment != "development":
            url = self.database_url.get_secret_value()
            password = url.split("://", 1)[-1].split("@", 1)[0].partition(":")[2]
            if password.lower() in PLACEHOLDER_SECRETS:
                raise ValueError("database_url needs a real password outside development")
            if not self.audit.checkpoint_key_file:
                raise ValueError("audit.checkpoint_key_file is required outside development")
            # Without checkpoints nothing the database cannot rewrite pins the chain.
            if self.audit.checkpoint_every <= 0:
                raise ValueError("audit.checkpoint_every must be positive outside development")
        return self


def load_settings() -> Settings:
    """Build and validate the settings (one call per process, at start-up)."""
    return Settings()
