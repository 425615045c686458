"""The opensearch-py client the OpenSearch store talks through, built from Settings: endpoint,
authentication (SigV4 for managed domains and Serverless, basic, or none) and transport retries."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from opensearchpy import OpenSearch, RequestsHttpConnection

from kotae.errors import ConfigError
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
