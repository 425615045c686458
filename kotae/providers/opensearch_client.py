"""The opensearch-py client the OpenSearch store talks through, built from Settings: endpoint,
authentication (SigV4 for managed domains and Serverless, basic, or none) and transport retries;
and what of OpenSearch's error answers may be repeated in kotae's errors and logs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

from opensearchpy import (
    AuthenticationException,
    AuthorizationException,
    NotFoundError,
    OpenSearch,
    RequestsHttpConnection,
    TransportError,
)
from opensearchpy import ConnectionError as OSConnectionError

from kotae.errors import ConfigError, StoreError
from kotae.settings import Settings


def sigv4_auth(region: str, service: str) -> Any:
    """A requests auth that signs every request with the current boto3 session credentials.

    ``RequestsAWSV4SignerAuth`` asks the credentials for a frozen copy at each request, so
    refreshable credentials (assumed roles, SSO, container roles) are renewed as they expire.
    ``service`` is ``es`` for managed domains and ``aoss`` for Serverless collections.
    """
    import boto3
    from opensearchpy import RequestsAWSV4SignerAuth

    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise ConfigError(
            "no AWS credentials found to sign OpenSearch requests (KOTAE_OPENSEARCH_AUTH="
            f"sigv4-{service}); set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use a role"
        )
    return RequestsAWSV4SignerAuth(credentials, region, service)


def client_from_settings(settings: Settings) -> OpenSearch:
    """A client for KOTAE_OPENSEARCH_ENDPOINT (https unless the URL says http) with the
    configured KOTAE_OPENSEARCH_AUTH; 429 and 5xx answers are retried by the client itself."""
    endpoint = str(settings.require("opensearch_endpoint"))
    if "://" not in endpoint:
        endpoint = "https://" + endpoint
    parsed = urlparse(endpoint)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(f"KOTAE_OPENSEARCH_ENDPOINT={endpoint!r} is not an http(s) URL")
    auth: Any = None
    if settings.opensearch_auth in ("sigv4-es", "sigv4-aoss"):
        auth = sigv4_auth(settings.require("aws_region"), settings.opensearch_auth.removeprefix("sigv4-"))
    elif settings.opensearch_auth == "basic":
        auth = (settings.require("opensearch_username"), settings.require("opensearch_password"))
    https = parsed.scheme == "https"
    return OpenSearch(
        hosts=[endpoint],
        http_auth=auth,
        use_ssl=https,
        verify_certs=https,
        timeout=10,
        connection_class=RequestsHttpConnection,
        max_retries=3,
        retry_on_status=(429, 502, 503, 504),
        retry_on_timeout=True,
    )


# Where an error reason starts quoting a document: mapper errors preview the field's value, the
# immense-term error the term's first bytes (and its "original message" repeats them).
_VALUE_TAILS = ("Preview of field's value", "The prefix of the first immense term", "original message")
# A bracketed name after one of these words is a field, type, index or analyzer name, kept; any
# other bracketed part can be a value ("Failed to parse value [x]"), and is masked.
_NAME_WORDS = frozenset({"field", "fields", "mapper", "type", "index", "alias", "analyzer", "tokenizer"})
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_BRACKETED = re.compile(r"(\w+)?(\s*)\[[^\]]*\]")
MAX_REASON = 300


def redacted(reason: str) -> str:
    """An OpenSearch error reason without the document values it may quote: cut where a value
    preview starts, quoted parts masked, bracketed parts masked unless they name a field, type,
    index or analyzer."""
    for tail in _VALUE_TAILS:
        reason = reason.split(tail, 1)[0]
    reason = _QUOTED.sub("'…'", reason)

    def bracket(match: re.Match[str]) -> str:
        word, space = match.group(1) or "", match.group(2)
        return match.group(0) if word.lower() in _NAME_WORDS else f"{word}{space}[…]"

    text = _BRACKETED.sub(bracket, reason).strip().rstrip(".,;:")
    return text[:MAX_REASON]


def error_summary(error: Any) -> str:
    """``type: reason`` of an OpenSearch error object (a bulk item's, or a response's ``error``),
    the reason redacted; never its ``caused_by`` chain, whose reasons quote values too."""
    if isinstance(error, dict):
        kind, reason = error.get("type"), error.get("reason")
        return f"{kind}: {redacted(str(reason))}" if reason else str(kind)
    return redacted(str(error))


@contextmanager
def translated(alias: str, what: str) -> Iterator[None]:
    """Translate opensearch-py exceptions (after its own retries) into StoreError. An answer's
    body is not chained (``from None``): its reasons can quote field values."""
    try:
        yield
    except NotFoundError as exc:
        raise StoreError(
            f"{what}: {alias!r} not found in OpenSearch ({_reason(exc)}); create it with ensure_index()"
        ) from None
    except OSConnectionError as exc:  # includes timeouts and TLS failures
        raise StoreError(f"{what}: cannot reach OpenSearch ({exc})") from exc
    except (AuthenticationException, AuthorizationException) as exc:
        raise StoreError(
            f"{what}: OpenSearch refused the credentials ({exc.status_code} {_reason(exc)}); check the "
            "IAM role, the domain or collection data access policy, or the username and password"
        ) from None
    except TransportError as exc:
        raise StoreError(f"{what}: OpenSearch answered {exc.status_code} {_reason(exc)}") from None


def _reason(exc: TransportError) -> str:
    """The error type and redacted reason of an OpenSearch error body, else what the client has
    (a proxy's text answer), redacted alike."""
    info = exc.info
    error = info.get("error") if isinstance(info, dict) else None
    return error_summary(error or exc.error)
