"""The Bedrock models the bot may call: inference profile ids, and the two routing models.

Model routing (README "Choosing the model") sends each question to a light or a strong model.
Both are granted to the bot like the generation model (the profile ARN and the foundation
models it routes to, infra/kotae_infra/permissions.py); an empty id is the generation model,
so the defaults grant nothing new. ``kotae:routing=auto`` turns the rule on in the bot
(KOTAE_ROUTING); with it off, a channel profile's ``route`` still names one of the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Geography prefixes of cross-Region (system-defined) inference profile ids.
# https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html
PROFILE_GEOS = ("us", "eu", "apac", "jp", "au", "ca", "in", "us-gov", "global")
ROUTING_DEFAULTS: dict[str, Any] = {
    "kotae:routing": "off",
    "kotae:lightModelId": "",
    "kotae:strongModelId": "",
}


def split_profile(model_id: str) -> tuple[bool, str, str]:
    """``(is_profile, geo, base model id)``: ``jp.anthropic.x`` -> ``(True, "jp", "anthropic.x")``."""
    for geo in sorted(PROFILE_GEOS, key=len, reverse=True):
        if model_id.startswith(geo + "."):
            return True, geo, model_id[len(geo) + 1 :]
    return False, "", model_id


@dataclass(frozen=True)
class Routing:
    """``kotae:routing``, ``kotae:lightModelId`` and ``kotae:strongModelId``, validated."""

    mode: str  # "off" or "auto"
    light_model_id: str  # "" is the generation model
    strong_model_id: str  # "" is the generation model

    @classmethod
    def parse(cls, p: Any, generation_model_id: str) -> Routing:
        """Read the three keys through the config parser (``kotae_infra.config._Parser``),
        recording a problem for a bad value, or for routing between one model and itself."""
        mode = p.choice("kotae:routing", ("off", "auto"))
        ids = {}
        for key in ("kotae:lightModelId", "kotae:strongModelId"):
            found = p.model_ids(key)
            if len(found) > 1:
                p.fail(key, "must be one Bedrock model or inference profile id", ",".join(found))
            ids[key] = found[0] if len(found) == 1 else ""
        routing = cls(mode, ids["kotae:lightModelId"], ids["kotae:strongModelId"])
        light, strong = routing.models(generation_model_id)
        if mode == "auto" and light == strong:
            p.fail("kotae:strongModelId", "must differ from the light model when kotae:routing=auto", strong)
        return routing

    def models(self, generation_model_id: str) -> tuple[str, str]:
        """(light, strong) model ids, empty ones resolved to the generation model."""
        return self.light_model_id or generation_model_id, self.strong_model_id or generation_model_id

    def environment(self, generation_model_id: str) -> dict[str, str]:
        """The bot's KOTAE_ROUTING and model variables; none when nothing was configured."""
        if self.mode == "off" and not (self.light_model_id or self.strong_model_id):
            return {}
        light, strong = self.models(generation_model_id)
        return {"KOTAE_ROUTING": self.mode, "KOTAE_LIGHT_MODEL_ID": light, "KOTAE_STRONG_MODEL_ID": strong}
