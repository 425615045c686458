"""Which Bedrock model ids will answer, and which are on their way out.

Current Claude models on Bedrock are invoked through inference profiles: a geographic one
(``us.``, ``eu.``, ``apac.``, ``jp.``, ``au.`` …) that keeps requests inside that geography and
can be called only from a source Region there, or ``global.``, callable from any commercial
Region. A model in the Legacy state still answers until its end-of-life date, then every call
fails. https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html and
https://docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle.html

``offline_warnings`` needs no network (used when a generator is built); ``live_warnings`` asks
the Bedrock control plane (``kotae doctor``), whose ``modelLifecycle`` is the authority.
"""

from __future__ import annotations

import re
from typing import Any

# Source Regions of the geographic profiles (prefix of the profile id -> Region name prefixes).
GEOGRAPHIES: dict[str, tuple[str, ...]] = {
    "us": ("us-east-", "us-west-"),
    "us-gov": ("us-gov-",),
    "eu": ("eu-",),
    "apac": ("ap-",),
    "jp": ("ap-northeast-1", "ap-northeast-3"),
    "au": ("ap-southeast-2", "ap-southeast-4"),
}
# Legacy models with a published end-of-life date (Bedrock model cards). kotae doctor asks
# Bedrock itself; this list only catches the common case without a network call.
KNOWN_LEGACY: dict[str, str] = {
    "anthropic.claude-3-5-haiku-20241022-v1:0": "2026-06-19",
}
# Claude models that Bedrock serves only through an inference profile (no on-demand base id).
_PROFILE_ONLY = re.compile(r"^anthropic\.claude-(3-7-sonnet|(opus|sonnet|haiku)-4)")
_PREFIX = re.compile(r"^(global|us-gov|[a-z]{2,4})\.(?=[a-z]+\.)")


def split_profile(model_id: str) -> tuple[str | None, str]:
    """(profile prefix or None, base model id): ``jp.anthropic.x`` -> ("jp", "anthropic.x")."""
    match = _PREFIX.match(model_id)
    return (match.group(1), model_id[match.end() :]) if match else (None, model_id)


def offline_warnings(model_id: str, region: str | None) -> list[str]:
    """What is wrong with a model id for a Region, as far as can be told without AWS."""
    prefix, base = split_profile(model_id)
    warnings = []
    if base in KNOWN_LEGACY:
        warnings.append(
            f"{model_id} is a legacy Bedrock model (end of life {KNOWN_LEGACY[base]}); choose a "
            "current one, e.g. jp.anthropic.claude-haiku-4-5-20251001-v1:0"
        )
    if prefix is None and _PROFILE_ONLY.match(base):
        warnings.append(
            f"{model_id} is served only through an inference profile: use e.g. jp.{base} or global.{base}"
        )
    sources = GEOGRAPHIES.get(prefix or "")
    if sources and region and not region.startswith(sources):
        warnings.append(
            f"the {prefix}. inference profile cannot be called from {region}; use the profile of "
            f"{region}'s geography or global.{base}"
        )
    return warnings


def live_warnings(bedrock: Any, model_id: str) -> list[str]:
    """Ask Bedrock (control plane client) whether the model or profile exists here and is active."""
    from botocore.exceptions import BotoCoreError, ClientError

    prefix, base = split_profile(model_id)
    try:
        if prefix is not None:
            profile = bedrock.get_inference_profile(inferenceProfileIdentifier=model_id)
            if profile.get("status") != "ACTIVE":
                return [f"inference profile {model_id} is {profile.get('status')}"]
        details = bedrock.get_foundation_model(modelIdentifier=base)["modelDetails"]
    except ClientError as exc:
        return [f"{model_id}: {exc.response.get('Error', {}).get('Message', 'not found in this Region')}"]
    except BotoCoreError as exc:
        return [f"{model_id}: cannot reach Bedrock ({exc})"]
    status = (details.get("modelLifecycle") or {}).get("status", "ACTIVE")
    return [] if status == "ACTIVE" else [f"{base} is {status} on Bedrock; move to a current model"]
