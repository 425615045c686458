"""One exception hierarchy for kotae.

Adapters translate SDK errors into these; callers catch narrowly. ``user_message`` is safe to
show a person (no internals); the exception text itself is for logs.
"""

from __future__ import annotations

import uuid


def new_reference() -> str:
    """A short id that ties a user-visible error to its log line."""
    return uuid.uuid4().hex[:8]


class KotaeError(Exception):
    """Base of every error kotae raises on purpose."""

    user_message = "Something went wrong while answering."

    def __init__(self, message: str = "", *, reference: str | None = None) -> None:
        super().__init__(message or self.user_message)
        self.reference = reference or new_reference()


class ConfigError(KotaeError):
    """A setting is missing or invalid; the message names the variable."""

    user_message = "kotae is not configured correctly."


class InputError(KotaeError):
    """The caller's input cannot be used as it is."""

    user_message = "That input could not be used."

    def __init__(self, message: str = "", **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        # Input errors are the caller's to fix, so their text is safe to show.
        self.user_message = message or type(self).user_message


class InvalidItem(InputError):
    """A knowledge item has no usable key or is not an object."""


class InvalidQuestion(InputError):
    """A question is empty or too long."""


class InvalidRecordQuery(InputError):
    """A record query that names a facet or kind the schema does not have (or is otherwise unusable)."""


class PromptNotFound(KotaeError):
    """No template for the requested prompt task and version."""

    user_message = "The configured prompt version does not exist."


class PromptRenderError(KotaeError):
    """A template refers to a variable the caller did not pass."""

    user_message = "The prompt template could not be rendered."


class PromptConflict(InputError):
    """Publishing would change a prompt version that is already live; versions are immutable."""


class StoreError(KotaeError):
    """The knowledge store failed."""

    user_message = "The knowledge store is not available right now."


class StoreCorrupt(StoreError):
    """The embedded store file exists but is not a kotae store."""


class IndexMismatch(StoreError):
    """The store holds vectors of another size than the embedder makes."""


class ProviderError(KotaeError):
    """An external model provider (embedding or generation) failed."""

    user_message = "The language model service failed."


class JudgeReplyError(ProviderError):
    """An evaluation judge model replied with something that is not a grade."""


class ProviderThrottled(ProviderError):
    """The provider kept throttling after all retries."""

    user_message = "The language model service is busy right now. Please try again in a minute."


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or answered with a server error after retries."""

    user_message = "The language model service is unavailable right now. Please try again later."


class MissingExtra(ConfigError):
    """An optional dependency is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"{package} is not installed: run `pip install 'kotae[{extra}]'`")
