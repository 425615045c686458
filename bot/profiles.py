"""Channel profiles: what each channel may see and how it is answered, changed without a deploy.

A JSON file (``KOTAE_CHANNEL_PROFILES``), re-read when it changes:

    {"default": {"scopes": ["public"]},
     "channels": {"C0HR": {"scopes": ["public", "hr"], "prompt_version": "v2"}}}

DMs and channels without an entry use ``default``. Scopes go into the store query itself.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from kotae.errors import ConfigError


class ChannelProfile(BaseModel):
    scopes: tuple[str, ...] = ("public",)
    prompt_task: str | None = None
    prompt_version: str | None = None
    answer_followups: bool = False


class ProfileFile(BaseModel):
    default: ChannelProfile = Field(default_factory=ChannelProfile)
    channels: dict[str, ChannelProfile] = Field(default_factory=dict)


class ChannelProfiles:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: float | None = None
        self._data = ProfileFile()

    def _load(self) -> ProfileFile:
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

    def for_channel(self, channel_id: str) -> ChannelProfile:
        data = self._load()
        return data.channels.get(channel_id, data.default)
