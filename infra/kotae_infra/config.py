"""The deployment's settings: CDK context values, parsed and validated in one place.

Every setting is a context key ``kotae:<name>``. ``infra/cdk.json`` holds the defaults (the same
as :data:`DEFAULTS`, a test keeps them equal) and ``cdk synth|deploy -c kotae:<name>=<value>``
overrides one. Values given with ``-c`` arrive as strings, so numbers and booleans are parsed
here. Every problem is collected and raised together as one :class:`ContextError`, so a bad
deploy command fails before any resource is built, with a message naming the key to fix.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .models import PROFILE_GEOS, ROUTING_DEFAULTS, Routing, split_profile

PREFIX = "kotae:"

# Defaults of every context key; infra/cdk.json carries the same values.
DEFAULTS: dict[str, Any] = {
    "kotae:stackName": "Kotae",
    "kotae:prefix": "kotae",
    "kotae:region": "ap-northeast-1",
    # Claude Haiku 4.5 through the Japan cross-Region inference profile (Tokyo + Osaka), so
    # prompts stay in Japan. Elsewhere use "us.", "eu.", "apac." or "global." profile ids.
    "kotae:generationModelId": "jp.anthropic.claude-haiku-4-5-20251001-v1:0",
    # More Claude models or profiles the bot may invoke: those named by channel profiles.
    "kotae:extraModelIds": "",
    **ROUTING_DEFAULTS,  # model routing: "off" or "auto", the light and strong models (models.py)
    # An Amazon Bedrock guardrail for every answer: its id and version (both, or neither).
    "kotae:guardrailId": "",
    "kotae:guardrailVersion": "",
    "kotae:rerankModelId": "",  # a Bedrock reranker after fusion: amazon.rerank-v1:0 or cohere.rerank-v3-5:0
    "kotae:embeddingModelId": "amazon.titan-embed-text-v2:0",
    "kotae:embeddingDimensions": 1024,
    "kotae:search": "serverless",
    "kotae:standbyReplicas": "ENABLED",
    "kotae:domainInstanceType": "t3.medium.search",
    "kotae:domainDataNodes": 1,
    "kotae:searchAdminPrincipals": "",
    "kotae:openSearchIndex": "kotae-knowledge",
    "kotae:channelProfilesParameter": "/kotae/channel-profiles",
    "kotae:botMemoryMb": 1024,
    "kotae:botTimeoutSeconds": 60,
    # Reserved (and so maximum) concurrency of the bot: its public URL can be called by anyone,
    # and a flood must not use up the account's concurrency. "off" leaves it unreserved.
    "kotae:botReservedConcurrency": 20,
    "kotae:ingestMemoryMb": 1024,
    "kotae:ingestTimeoutSeconds": 300,
    "kotae:logRetentionDays": 30,
    "kotae:answerLogTransitionDays": 90,
    "kotae:answerLogExpirationDays": 730,
    "kotae:answerLogVersioning": False,
    "kotae:accessLogExpirationDays": 365,
    "kotae:alarmEmail": "",
    "kotae:iteratorAgeAlarmSeconds": 300,
    "kotae:streamBatchSize": 100,
    "kotae:streamBatchingWindowSeconds": 5,
    "kotae:streamMaxRetries": 3,
    "kotae:streamMaxRecordAgeSeconds": 21600,
    "kotae:bundle": "local",
    "kotae:assetDir": "",
    "kotae:bundleBoto3": True,
}

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
# fmt: off
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                      2557, 2922, 3288, 3653)
# fmt: on
_MODEL_ID = re.compile(r"^[a-z0-9-]+\.[A-Za-z0-9._:-]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:(role|user|assumed-role)/\S+$")


class ContextError(ValueError):
    """One or more CDK context values are invalid; the message names each key."""


@dataclass(frozen=True)
class KotaeConfig:
    """Validated settings of one deployment (see infra/README.md for each key)."""

    stack_name: str
    prefix: str
    region: str
    generation_model_id: str
    extra_model_ids: tuple[str, ...]
    routing: Routing
    guardrail_id: str
    guardrail_version: str
    rerank_model_id: str
    embedding_model_id: str
    embedding_dimensions: int
    search: str
    standby_replicas: str
    domain_instance_type: str
    domain_data_nodes: int
    search_admin_principals: tuple[str, ...]
    opensearch_index: str
    channel_profiles_parameter: str
    bot_memory_mb: int
    bot_timeout_seconds: int
    bot_reserved_concurrency: int | None
    ingest_memory_mb: int
    ingest_timeout_seconds: int
    log_retention_days: int
    answer_log_transition_days: int
    answer_log_expiration_days: int
    answer_log_versioning: bool
    access_log_expiration_days: int
    alarm_email: str
    iterator_age_alarm_seconds: int
    stream_batch_size: int
    stream_batching_window_seconds: int
    stream_max_retries: int
    stream_max_record_age_seconds: int
    bundle: str
    asset_dir: str
    bundle_boto3: bool

    @classmethod
    def from_context(
        cls, lookup: Callable[[str], Any], known: Mapping[str, Any] | None = None
    ) -> KotaeConfig:
        """Read every ``kotae:*`` key through ``lookup`` (e.g. ``node.try_get_context``).

        ``known`` is all context the app was given; a ``kotae:`` key not in :data:`DEFAULTS`
        there is a typo and is reported rather than silently ignored.
        """
        p = _Parser(lookup)
        for key in sorted(known or {}):
            if key.startswith(PREFIX) and key not in DEFAULTS:
                p.problems.append(f"{key}: unknown key (known keys: see infra/cdk.json)")
        config = cls(
            stack_name=p.match("kotae:stackName", r"^[A-Za-z][A-Za-z0-9-]{0,127}$", "letters, digits, '-'"),
            prefix=p.match(
                "kotae:prefix",
                r"^[a-z][a-z0-9-]{1,19}$",
                "2-20 lower-case letters, digits or '-', starting with a letter",
            ),
            region=p.match(
                "kotae:region", r"^[a-z]{2}(-gov)?-[a-z]+-\d$", "an AWS Region such as ap-northeast-1"
            ),
            generation_model_id=p.model_id("kotae:generationModelId"),
            extra_model_ids=p.model_ids("kotae:extraModelIds"),
            routing=Routing.parse(p, str(p.raw("kotae:generationModelId")).strip()),
            guardrail_id=p.match(
                "kotae:guardrailId", r"^[a-z0-9]{1,64}$", "a Bedrock guardrail id (lower-case letters and digits)", True
            ),
            guardrail_version=p.match(
                "kotae:guardrailVersion", r"^([1-9][0-9]{0,7}|DRAFT)$", "a guardrail version number or DRAFT", True
            ),
            rerank_model_id=p.choice("kotae:rerankModelId", ("", "amazon.rerank-v1:0", "cohere.rerank-v3-5:0")),
            embedding_model_id=p.match(
                "kotae:embeddingModelId",
                r"^amazon\.titan-embed-text-v2[A-Za-z0-9.:-]*$",
                "a Titan Text Embeddings V2 model id (amazon.titan-embed-text-v2:0)",
            ),
            embedding_dimensions=p.choice("kotae:embeddingDimensions", (256, 512, 1024), int),
            search=p.choice("kotae:search", ("serverless", "domain")),
            standby_replicas=p.choice("kotae:standbyReplicas", ("ENABLED", "DISABLED")),
            domain_instance_type=p.match(
                "kotae:domainInstanceType",
                r"^[a-z0-9]+\.[a-z0-9]+\.search$",
                "an instance type such as t3.medium.search",
            ),
            domain_data_nodes=p.integer("kotae:domainDataNodes", 1, 10),
            search_admin_principals=p.principals("kotae:searchAdminPrincipals"),
            opensearch_index=p.match(
                "kotae:openSearchIndex", r"^[a-z0-9][a-z0-9_-]{0,200}$", "a lower-case OpenSearch index name"
            ),
            channel_profiles_parameter=p.parameter_name("kotae:channelProfilesParameter"),
            bot_memory_mb=p.integer("kotae:botMemoryMb", 128, 10240),
            bot_timeout_seconds=p.integer("kotae:botTimeoutSeconds", 10, 900),
            # At least 2: a question holds the URL's ack and the lazy answer at the same time.
            bot_reserved_concurrency=p.integer_or_off("kotae:botReservedConcurrency", 2, 1000),
            ingest_memory_mb=p.integer("kotae:ingestMemoryMb", 128, 10240),
            ingest_timeout_seconds=p.integer("kotae:ingestTimeoutSeconds", 30, 900),
            log_retention_days=p.choice("kotae:logRetentionDays", LOG_RETENTION_DAYS, int),
            # S3 moves objects to Standard-IA only after 30 days or more.
            answer_log_transition_days=p.integer("kotae:answerLogTransitionDays", 30, 36500),
            answer_log_expiration_days=p.integer("kotae:answerLogExpirationDays", 1, 36500),
            answer_log_versioning=p.boolean("kotae:answerLogVersioning"),
            access_log_expiration_days=p.integer("kotae:accessLogExpirationDays", 1, 36500),
            alarm_email=p.match(
                "kotae:alarmEmail", _EMAIL.pattern, "an e-mail address or empty", optional=True
            ),
            iterator_age_alarm_seconds=p.integer("kotae:iteratorAgeAlarmSeconds", 10, 86400),
            # Bounded retries and record age: the Lambda default (-1) retries a poison batch
            # until the record expires from the stream, blocking its shard for up to 24 hours.
            stream_batch_size=p.integer("kotae:streamBatchSize", 1, 10000),
            stream_batching_window_seconds=p.integer("kotae:streamBatchingWindowSeconds", 0, 300),
            stream_max_retries=p.integer("kotae:streamMaxRetries", 0, 10000),
            stream_max_record_age_seconds=p.integer("kotae:streamMaxRecordAgeSeconds", 60, 604800),
            bundle=p.choice("kotae:bundle", ("local", "skip")),
            asset_dir=p.asset_dir("kotae:assetDir"),
            bundle_boto3=p.boolean("kotae:bundleBoto3"),
        )
        p.problems.extend(config._conflicts())
        p.raise_problems()
        return config

    def _conflicts(self) -> list[str]:
        """Problems between values that are each valid alone."""
        problems = []
        if bool(self.guardrail_id) != bool(self.guardrail_version):
            problems.append("kotae:guardrailId and kotae:guardrailVersion: set both, or neither")
        if self.answer_log_expiration_days <= self.answer_log_transition_days:
            problems.append(
                "kotae:answerLogExpirationDays: must be greater than kotae:answerLogTransitionDays "
                f"(got {self.answer_log_expiration_days} <= {self.answer_log_transition_days})"
            )
        return problems

    @property
    def glue_database(self) -> str:
        """Glue/Athena names allow no '-'."""
        return f"{self.prefix.replace('-', '_')}_logs"


class _Parser:
    """Typed reads of context values that record problems instead of stopping at the first."""

    def __init__(self, lookup: Callable[[str], Any]) -> None:
        self._lookup = lookup
        self.problems: list[str] = []

    def raise_problems(self) -> None:
        if self.problems:
            raise ContextError(
                "invalid CDK context (fix it in infra/cdk.json or with -c key=value):\n  "
                + "\n  ".join(self.problems)
            )

    def raw(self, key: str) -> Any:
        value = self._lookup(key)
        return DEFAULTS[key] if value is None else value

    def fail(self, key: str, why: str, value: Any) -> Any:
        self.problems.append(f"{key}: {why} (got {value!r})")
        return DEFAULTS[key]

    def match(self, key: str, pattern: str, why: str, optional: bool = False) -> str:
        value = str(self.raw(key)).strip()
        if (optional and value == "") or re.match(pattern, value):
            return value
        return self.fail(key, f"must be {why}", value)

    def integer(self, key: str, low: int, high: int) -> int:
        value = self.raw(key)
        try:
            number = int(str(value).strip())
        except ValueError:
            return self.fail(key, "must be a whole number", value)
        if isinstance(value, bool) or not low <= number <= high:
            return self.fail(key, f"must be between {low} and {high}", value)
        return number

    def integer_or_off(self, key: str, low: int, high: int) -> int | None:
        """A whole number in ``[low, high]``, or ``off`` (None: the setting is not applied)."""
        value = self.raw(key)
        if str(value).strip().lower() == "off":
            return None
        try:
            number = int(str(value).strip())
        except ValueError:
            number = None
        if number is None or isinstance(value, bool) or not low <= number <= high:
            return self.fail(key, f"must be a whole number from {low} to {high}, or off", value)
        return number

    def boolean(self, key: str) -> bool:
        value = self.raw(key)
        text = str(value).strip().lower()
        if text in ("true", "false"):
            return text == "true"
        return self.fail(key, "must be true or false", value)

    def choice(self, key: str, allowed: tuple[Any, ...], kind: Callable[[Any], Any] = str) -> Any:
        value = self.raw(key)
        try:
            parsed = kind(str(value).strip())
        except ValueError:
            parsed = None
        if parsed in allowed:
            return parsed
        return self.fail(key, "must be one of " + ", ".join(str(a) for a in allowed), value)

    def model_id(self, key: str) -> str:
        value = str(self.raw(key)).strip()
        _, _, base = split_profile(value)
        if _MODEL_ID.match(base) and not base.startswith(tuple(g + "." for g in PROFILE_GEOS)):
            return value
        return self.fail(
            key,
            "must be a Bedrock model id or a cross-Region inference profile id "
            "(e.g. jp.anthropic.claude-haiku-4-5-20251001-v1:0)",
            value,
        )

    def model_ids(self, key: str) -> tuple[str, ...]:
        value = self.raw(key)
        items = value if isinstance(value, list) else [v for v in str(value).split(",") if v.strip()]
        found = []
        for item in items:
            _, _, base = split_profile(str(item).strip())
            if not _MODEL_ID.match(base) or base.startswith(tuple(g + "." for g in PROFILE_GEOS)):
                self.fail(key, "must be Bedrock model or inference profile ids, comma-separated", item)
                continue
            found.append(str(item).strip())
        return tuple(found)

    def principals(self, key: str) -> tuple[str, ...]:
        value = self.raw(key)
        items = value if isinstance(value, list) else [v for v in str(value).split(",") if v.strip()]
        bad = [v for v in items if not _PRINCIPAL.match(str(v).strip())]
        if bad:
            return self.fail(key, "must be IAM role or user ARNs, comma-separated", bad) or ()
        return tuple(str(v).strip() for v in items)

    def parameter_name(self, key: str) -> str:
        value = str(self.raw(key)).strip()
        # https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-su-create.html
        if re.match(r"^/?[A-Za-z0-9_.\-/]{1,1000}$", value) and not re.match(r"^/?(aws|ssm)", value, re.I):
            return value
        return self.fail(
            key, "must be an SSM parameter name (letters, digits, . _ - /; not aws* or ssm*)", value
        )

    def asset_dir(self, key: str) -> str:
        value = str(self.raw(key)).strip()
        if value == "":
            return value
        missing = [n for n in ("bot", "ingest") if not (Path(value) / n).is_dir()]
        if missing:
            return self.fail(
                key, "must be a directory with bot/ and ingest/ (built by infra/bundle.py)", value
            )
        return str(Path(value).resolve())
