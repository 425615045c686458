"""Channel profiles: what each channel may see and how it is answered, changed without a deploy.

A JSON document, in AWS an SSM parameter (``KOTAE_CHANNEL_PROFILES_PARAMETER``, read through
Powertools parameters and cached for a minute), locally a file (``KOTAE_CHANNEL_PROFILES``)
re-read when it changes:

    {"default": {"scopes": ["public"]},
     "channels": {"C0HR": {"scopes": ["public", "hr"], "prompt_version": "v2",
                           "model_id": "jp.anthropic.claude-sonnet-4-5-20250929-v1:0",
                           "budget": {"user": "5/1h", "channel_tokens": 200000}},
                  "C0OPS": {"route": "strong"}}}

DMs and channels without an entry use ``default``. Scopes go into the store query itself.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from kotae.answer.pipeline import AskOptions
from kotae.answer.routing import ProfileRoute
from kotae.errors import ConfigError
from kotae.ops.budgets.limits import BudgetOverride
from kotae.settings import SlackEditorId


class ChannelProfile(BaseModel):
    scopes: tuple[str, ...] = ("public",)
    prompt_task: str | None = None
    prompt_version: str | None = None
    # A Bedrock model or inference profile id for this channel; the bot's role must be allowed
    # to invoke it (infra: kotae:extraModelIds).
    model_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9.:_/-]{0,199}$")
    answer_followups: bool = False
    # The light or strong model (KOTAE_LIGHT_MODEL_ID / KOTAE_STRONG_MODEL_ID) for every answer
    # here, instead of the routing rule (README "Choosing the model"); model_id, if set, wins.
    route: ProfileRoute | None = None
    # This channel's user and channel limits instead of KOTAE_BUDGET_* (README "Budgets"):
    # {"user": "5/1h", "channel": "off", "user_tokens": 20000, "channel_tokens": "off"}
    budget: BudgetOverride | None = None
    # Who may save an FAQ from this channel (Slack user or user-group ids) instead of
    # KOTAE_KNOWLEDGE_EDITORS, and where its "not found" questions go (README "Keeping the
    # knowledge"): a channel, and optionally a user group to ping there.
    editors: tuple[SlackEditorId, ...] | None = None
    escalation_channel: str | None = Field(default=None, pattern=r"^[CGD][A-Z0-9]{2,20}$")
    escalation_usergroup: str | None = Field(default=None, pattern=r"^S[A-Z0-9]{2,20}$")

    def ask_options(self) -> AskOptions:
        return AskOptions(
            scopes=self.scopes,
            prompt_task=self.prompt_task,
            prompt_version=self.prompt_version,
            model_id=self.model_id,
            route=self.route,
        )


class ProfileFile(BaseModel):
    default: ChannelProfile = Field(default_factory=ChannelProfile)
    channels: dict[str, ChannelProfile] = Field(default_factory=dict)


class ChannelProfiles:
    def __init__(self, path: Path | None, parameter: str | None = None, max_age: int = 60) -> None:
        self.path = path
        self.parameter = parameter
        self.max_age = max_age
        self._lock = threading.Lock()
        self._stamp: float | None = None
        self._data = ProfileFile()

    def _from_parameter(self, name: str) -> ProfileFile:
        from aws_lambda_powertools.utilities.parameters import get_parameter
        from aws_lambda_powertools.utilities.parameters.exceptions import (
            GetParameterError,
            TransformParameterError,
        )

        try:
            raw = get_parameter(name, transform="json", max_age=self.max_age)
            return ProfileFile.model_validate(raw)
        except (GetParameterError, TransformParameterError, ValidationError) as exc:
            raise ConfigError(
                f"KOTAE_CHANNEL_PROFILES_PARAMETER={name} is not a readable profile document: {exc}"
            ) from exc

    def _load(self) -> ProfileFile:
        if self.parameter:
            return self._from_parameter(self.parameter)
        if self.path is None:
            return self._data
        try:
            stamp = self.path.stat().st_mtime
        except OSError as exc:
            raise ConfigError(f"KOTAE_CHANNEL_PROFILES={self.path} cannot be read: {exc.strerror}") from exc
        with self._lock:
            if stamp != self._stamp:
                try:
                    self._data = ProfileFile.model_validate(json.loads(self.path.read_text(encoding="utf-8")))
                except (json.JSONDecodeError, ValidationError) as exc:
                    raise ConfigError(
                        f"KOTAE_CHANNEL_PROFILES={self.path} is not a valid profile file: {exc}"
                    ) from exc
                self._stamp = stamp
            return self._data

    def document(self) -> ProfileFile:
        """Every profile (the default and each channel's), e.g. to find every knowledge editor."""
        return self._load()

    def for_channel(self, channel_id: str) -> ChannelProfile:
        data = self._load()
        return data.channels.get(channel_id, data.default)
