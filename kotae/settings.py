"""The one Settings object of a kotae process.

Resolution order: explicit argument > environment (``KOTAE_*``) > default. A bad value raises
:class:`~kotae.errors.ConfigError` naming the environment variable to fix.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BeforeValidator, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from kotae.errors import ConfigError
from kotae.ops.budgets.limits import SettingQuestions, SettingTokens

ENV_PREFIX = "KOTAE_"


def _comma_list(value: Any) -> Any:
    """``"U1, U2"`` as ("U1", "U2"); other shapes are left to pydantic."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


SlackUserId = Annotated[str, Field(pattern=r"^[UW][A-Z0-9]{2,20}$")]
# A person (U…, W…) or a user group (S…), as knowledge editors are named.
SlackEditorId = Annotated[str, Field(pattern=r"^[UWS][A-Z0-9]{2,20}$")]


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kotae"


class Settings(BaseSettings):
    """Everything kotae reads from its environment."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", validate_default=True)

    # Where the embedded deployment keeps its files (store, dedupe, answer logs).
    data_dir: Path = Field(default_factory=_default_data_dir)
    prompts_dir: Path | None = None

    # Providers, chosen by name from their registries.
    store: Literal["sqlite", "opensearch"] = "sqlite"
    embedder: Literal["none", "local", "titan"] = "none"
    generator: Literal["extractive", "bedrock"] = "extractive"

    # AWS. The region falls back to the standard AWS variables.
    aws_region: str | None = Field(
        default=None, validation_alias=AliasChoices("KOTAE_AWS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION")
    )
    knowledge_table: str = "kotae-knowledge"
    prompt_table: str = "kotae-prompt-templates"

    # Embedding.
    local_model: str = "sentence-transformers/all-MiniLM-L6-v2"
    titan_model_id: str = "amazon.titan-embed-text-v2:0"
    embedding_dimensions: int = 1024
    embedding_normalize: bool = True
    embedding_concurrency: int = Field(default=16, ge=1, le=64)

    # Generation.
    # Claude Haiku 4.5 through the Japan inference profile, as infra deploys it (kotae doctor
    # warns when the Region cannot call it; see README "Choosing the model").
    generation_model_id: str = "jp.anthropic.claude-haiku-4-5-20251001-v1:0"
    model_prices: Path | None = None  # USD per 1k tokens per model: answer costs, the Athena cost query
    # Model routing (kotae.answer.routing, README "Choosing the model"): "auto" sends short
    # questions on one or two short sources to the light model and the rest to the strong one;
    # "off" sends every question to KOTAE_GENERATION_MODEL_ID, as before. The light model is the
    # generation model unless set. Channel profiles may pin a model or a route either way.
    routing: Literal["off", "auto"] = "off"
    light_model_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9.:_/-]{0,199}$")
    strong_model_id: str = Field(
        default="jp.anthropic.claude-sonnet-4-5-20250929-v1:0",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9.:_/-]{0,199}$",
    )
    judge_model_id: str | None = None  # `kotae eval answers` judge; the generation model when unset
    max_output_tokens: int = Field(default=1024, ge=16, le=8192)
    # An Amazon Bedrock guardrail applied to every Converse call (both or neither; the version is
    # a number or DRAFT). https://docs.aws.amazon.com/bedrock/latest/userguide/guardrails-use-converse-api.html
    guardrail_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9:/._-]{1,2048}$")
    guardrail_version: str | None = Field(default=None, pattern=r"^([1-9][0-9]{0,7}|DRAFT)$")
    temperature: float = Field(default=0.0, ge=0.0, le=1.0)

    # OpenSearch (production store).
    opensearch_endpoint: str | None = None
    opensearch_index: str = "kotae-knowledge"
    opensearch_auth: Literal["sigv4-es", "sigv4-aoss", "basic", "none"] = "sigv4-aoss"
    opensearch_username: str | None = None
    opensearch_password: str | None = None

    # Slack bot. Secrets come from SLACK_SIGNING_SECRET / SLACK_BOT_TOKEN (Bolt's names).
    slack_api_url: str | None = None  # Web API base URL override (tests, proxies)
    dedupe_table: str | None = None  # DynamoDB table for event dedupe; embedded file when unset
    answer_log_bucket: str | None = None  # S3 bucket for answer logs; local JSONL when unset
    # What of people's text the answer log keeps: off (all), mask (e-mail addresses, phone
    # numbers, long digit runs replaced), drop (no question text at all). kotae.ops.redaction.
    log_text: Literal["off", "mask", "drop"] = "off"
    channel_profiles: Path | None = None  # JSON file of per-channel profiles (local)
    channel_profiles_parameter: str | None = None  # SSM parameter holding the same JSON (AWS)
    slack_streaming: bool = True  # stream answers (chat.startStream); off: post, then update
    # kotae's steps in a streamed answer as task cards: one by one between the text (timeline),
    # together in one plan (plan), or not at all (off). chat.startStream's task_display_mode.
    slack_task_display_mode: Literal["timeline", "plan", "off"] = "timeline"
    # Secrets Manager secret (JSON with SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET), used in AWS.
    slack_secret_id: str | None = None

    # Prompts and answering.
    prompt_source: Literal["directory", "dynamodb"] = "directory"
    prompt_task: str = "answer"
    prompt_version: str = "v1"
    retrieval_mode: Literal["hybrid", "lexical", "dense"] = "hybrid"
    # Weight of dense scores in hybrid fusion (lexical gets 1 - alpha).
    hybrid_alpha: float = Field(default=0.8, ge=0.0, le=1.0)
    top_k: int = Field(default=5, ge=1, le=50)
    max_question_chars: int = Field(default=4000, ge=10, le=100_000)
    max_context_chars: int = Field(default=12_000, ge=500)
    chunk_chars: int = Field(default=800, ge=100, le=20_000)
    chunk_overlap: int = Field(default=100, ge=0, le=5_000)
    # Retrieval. Hits whose relevance is below this are not treated as evidence.
    min_relevance: float = Field(default=0.25, ge=0.0, le=1.0)
    # How "answer" vs "not found" is decided: the calibrated model (kotae/answer/data/gate.json,
    # refit with `kotae eval gate`) or the single KOTAE_MIN_RELEVANCE threshold of earlier versions.
    answer_gate: Literal["model", "threshold"] = "model"
    # An optional reranking stage after fusion: the Bedrock Rerank API on the top N fused hits
    # (kotae.providers.rerankers). Models and Regions:
    # https://docs.aws.amazon.com/bedrock/latest/userguide/rerank-supported.html
    reranker: Literal["none", "bedrock"] = "none"
    rerank_model_id: Literal["amazon.rerank-v1:0", "cohere.rerank-v3-5:0"] = "amazon.rerank-v1:0"
    rerank_top_n: int = Field(default=20, ge=1, le=100)

    # Items and records (kotae.records). The schema file maps a table's attribute names onto a
    # kind's fields and names each kind's facets; the two settings below override its values.
    schema_file: Path | None = None
    kind_attribute: str | None = Field(default=None, pattern=r"^[^\x00-\x1f]{1,255}$")
    default_kind: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    # Record questions: "auto" lets Claude call the record query and knowledge search as tools
    # (when KOTAE_GENERATOR=bedrock); "off" answers them with the deterministic parser only.
    record_tools: Literal["auto", "off"] = "auto"
    max_tool_rounds: int = Field(default=4, ge=1, le=8)
    record_prompt_version: str = Field(default="v1", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    # Records an answer lists before "and N more".
    record_list_limit: int = Field(default=10, ge=1, le=100)

    # Budgets (kotae.ops.budgets, README "Budgets"): questions per fixed window, written
    # COUNT/WINDOW (20/1h, 5/10m, 200/1d), and tokens per day, for each user, each channel and
    # the whole workspace; unset or "off" is no limit. Channel profiles may override the user
    # and channel limits. Admins (Slack user ids, comma-separated) are not limited.
    budget_user: Annotated[SettingQuestions, NoDecode] = None
    budget_channel: Annotated[SettingQuestions, NoDecode] = None
    budget_workspace: Annotated[SettingQuestions, NoDecode] = None
    budget_user_tokens: SettingTokens = None
    budget_channel_tokens: SettingTokens = None
    budget_workspace_tokens: SettingTokens = None
    budget_admins: Annotated[tuple[SlackUserId, ...], NoDecode, BeforeValidator(_comma_list)] = ()
    budget_table: str | None = None  # DynamoDB table of budget counters; embedded file when unset

    # The knowledge loop in Slack (README "Keeping the knowledge"): who may save a thread as an
    # FAQ and see the App Home figures (Slack user or user-group ids, comma-separated; channel
    # profiles may name their own), and where "not found" questions are handed to people.
    knowledge_editors: Annotated[tuple[SlackEditorId, ...], NoDecode, BeforeValidator(_comma_list)] = ()
    escalation_channel: str | None = Field(default=None, pattern=r"^[CGD][A-Z0-9]{2,20}$")
    # The App Home figures in AWS (kotae.ops.home_source): the Glue database and Athena workgroup
    # infra defines (<prefix>_logs and <prefix>), and how long one query's rows serve Home opens.
    athena_database: str = Field(default="kotae_logs", pattern=r"^[a-z0-9_]{1,255}$")
    athena_workgroup: str = Field(default="kotae", pattern=r"^[A-Za-z0-9._-]{1,128}$")
    home_cache_seconds: float = Field(default=600.0, ge=0.0, le=86_400.0)

    # Bulk embedding through Bedrock batch inference (`kotae reindex --batch`, kotae.indexing.batch).
    # Quotas: https://docs.aws.amazon.com/general/latest/gr/bedrock.html#limits_bedrock
    batch_bucket: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    batch_prefix: str = Field(default="kotae-batch", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
    batch_role_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.{1,512}$")
    # Fewer texts than this are embedded on demand (Bedrock needs at least 100 records a job).
    batch_min_records: int = Field(default=1000, ge=100)
    batch_records_per_file: int = Field(default=10_000, ge=100)
    batch_file_bytes: int = Field(default=100_000_000, ge=1_000_000)
    batch_records_per_job: int = Field(default=50_000, ge=200)  # jobs are cut evenly: ≥ 100 each
    batch_timeout_hours: int = Field(default=24, ge=24, le=168)
    batch_poll_seconds: float = Field(default=60.0, ge=0.0, le=3600.0)
    batch_wait_minutes: float = Field(default=24 * 60.0, ge=0.0)  # how long one run follows its jobs
    batch_retry_limit: int = Field(default=100, ge=0)  # failed records re-embedded on demand, at most

    @field_validator("embedding_dimensions")
    @classmethod
    def _titan_dimensions(cls, value: int) -> int:
        if value not in (256, 512, 1024):
            raise ValueError("must be 256, 512 or 1024 (Titan Text Embeddings V2)")
        return value

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_chunk(cls, value: int, info: Any) -> int:
        chunk = info.data.get("chunk_chars")
        if chunk is not None and value >= chunk:
            raise ValueError("must be smaller than KOTAE_CHUNK_CHARS")
        return value

    @field_validator("guardrail_version")
    @classmethod
    def _guardrail_pair(cls, value: str | None, info: Any) -> str | None:
        if (value is None) != (info.data.get("guardrail_id") is None):
            raise ValueError("KOTAE_GUARDRAIL_ID and KOTAE_GUARDRAIL_VERSION are set together or not at all")
        return value

    @property
    def guardrail(self) -> dict[str, str] | None:
        """Converse's guardrailConfig identity, or None without a guardrail."""
        if self.guardrail_id is None or self.guardrail_version is None:
            return None
        return {"guardrailIdentifier": self.guardrail_id, "guardrailVersion": self.guardrail_version}

    @property
    def store_path(self) -> Path:
        return self.data_dir / "kotae.sqlite3"

    def require(self, name: str) -> Any:
        """The value of a setting that this code path cannot work without."""
        value = getattr(self, name)
        if value in (None, ""):
            raise ConfigError(f"{ENV_PREFIX}{name.upper()} is not set; it is required for this configuration")
        return value


def load_settings(**overrides: Any) -> Settings:
    """Build Settings, turning validation errors into one clear ConfigError."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            problems.append(f"{ENV_PREFIX}{field.upper()}: {error['msg']} (got {error.get('input')!r})")
        raise ConfigError("invalid setting: " + "; ".join(problems)) from exc
