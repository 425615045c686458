"""boto3 clients, built once per process, with botocore's retry modes.

"standard" retries throttling and 5xx with exponential backoff and jitter; "adaptive" adds
client-side rate limiting. See
https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from botocore.config import Config

from kotae.errors import ConfigError, ProviderError, ProviderThrottled, ProviderUnavailable

THROTTLING_CODES = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "ServiceQuotaExceededException", "Throttling"}
)
UNAVAILABLE_CODES = frozenset(
    {
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelNotReadyException",
        "ModelTimeoutException",
    }
)


def retry_config(max_attempts: int = 6, mode: str = "adaptive", **kwargs: Any) -> Config:
    """``max_attempts`` counts every call, the first included (botocore's total_max_attempts)."""
    return Config(retries={"total_max_attempts": max_attempts, "mode": mode}, **kwargs)


@lru_cache(maxsize=16)
def client(service: str, region: str | None, max_attempts: int = 6, max_pool: int = 16) -> Any:
    """A cached boto3 client (boto3 is imported here, not at module import, for cold starts)."""
    import boto3

    if region is None and service not in ("s3",):
        raise ConfigError(f"KOTAE_AWS_REGION (or AWS_REGION) must be set to use {service}")
    return boto3.session.Session().client(
        service,
        region_name=region,
        config=retry_config(max_attempts, max_pool_connections=max_pool),
    )


def translate(exc: Exception, what: str) -> ProviderError:
    """Map a botocore error to kotae's hierarchy (after botocore has done its retries)."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        message = exc.response.get("Error", {}).get("Message", "")
        if code in THROTTLING_CODES or status == 429:
            return ProviderThrottled(f"{what}: throttled after retries ({code}: {message})")
        if code in UNAVAILABLE_CODES or status >= 500:
            return ProviderUnavailable(f"{what}: unavailable after retries ({code}: {message})")
        return ProviderError(f"{what}: {code}: {message}")
    if isinstance(exc, BotoCoreError):
        return ProviderUnavailable(f"{what}: {exc}")
    return ProviderError(f"{what}: {exc}")
