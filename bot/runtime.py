"""What the bot's answers need, built once per process, and only when the first answer needs it.

``BotRuntime`` holds the core (``Kotae``), the idempotency store and config, the thread memory,
the answer log, the channel profiles and the budgets. Each can be passed in (tests pass fakes); the rest is
built from Settings. ``LazyRuntime`` builds it on first use: on Lambda that is the second
invocation, the one that runs the lazy listener, so the ack (Slack allows 3 seconds) imports and
builds none of it. For the same reason this module imports its dependencies inside the
functions that use them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer, IdempotencyConfig

    from bot.idempotency import ThreadMemory
    from bot.profiles import ChannelProfiles
    from kotae.app import Kotae
    from kotae.ops.answer_log import LogSink
    from kotae.ops.budgets import Budgets
    from kotae.settings import Settings


@dataclass
class BotRuntime:
    """Everything an answer, a follow-up check or a feedback click uses beyond Slack itself."""

    kotae: Kotae
    persistence: BasePersistenceLayer
    idempotency: IdempotencyConfig
    threads: ThreadMemory
    log_sink: LogSink
    profiles: ChannelProfiles
    budgets: Budgets | None = None  # None: no budget applies (tests that build a runtime by hand)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        kotae: Kotae | None = None,
        persistence: BasePersistenceLayer | None = None,
        threads: ThreadMemory | None = None,
        log_sink: LogSink | None = None,
        profiles: ChannelProfiles | None = None,
        budgets: Budgets | None = None,
    ) -> BotRuntime:
        """The runtime these settings describe; a part passed in is used instead of building it."""
        from bot.idempotency import idempotency_config, stores_for
        from bot.profiles import ChannelProfiles
        from kotae.app import Kotae
        from kotae.ops.budgets import budgets_for

        if persistence is None or threads is None:
            built_persistence, built_threads = stores_for(settings)
            persistence = built_persistence if persistence is None else persistence
            threads = built_threads if threads is None else threads
        return cls(
            kotae if kotae is not None else Kotae(settings),
            persistence,
            idempotency_config(),
            threads,
            log_sink if log_sink is not None else answer_log_for(settings),
            profiles
            if profiles is not None
            else ChannelProfiles(settings.channel_profiles, settings.channel_profiles_parameter),
            budgets if budgets is not None else budgets_for(settings),
        )


def answer_log_for(settings: Settings) -> LogSink:
    """S3 when KOTAE_ANSWER_LOG_BUCKET is set, else JSONL files under the data directory; the
    question text masked or dropped as KOTAE_LOG_TEXT says."""
    from kotae.ops.answer_log import LocalSink, S3Sink
    from kotae.ops.redaction import RedactingSink

    sink: LogSink
    if settings.answer_log_bucket:
        from kotae.aws import client

        sink = S3Sink(client("s3", settings.aws_region), settings.answer_log_bucket)
    else:
        sink = LocalSink(settings.data_dir / "logs")
    return RedactingSink(sink, settings.log_text) if settings.log_text != "off" else sink


def runtime_from_environment() -> BotRuntime:
    """The runtime the process's KOTAE_* settings describe."""
    from kotae.settings import load_settings

    return BotRuntime.from_settings(load_settings())


RuntimeSource = Callable[[], BotRuntime]
"""How listeners reach the runtime: called when, and only when, they need it."""


class LazyRuntime:
    """The process's ``BotRuntime``, built by its first caller (thread-safe) and then reused.

    It also carries the Lambda context of the current invocation to the idempotency config:
    Powertools uses the remaining time to expire an INPROGRESS answer record if the answering
    invocation times out, so that Slack's retry is not locked out until the record's own expiry.
    The context is registered at every invocation once the runtime exists, and when it is built,
    so always in the invocation that answers.
    """

    def __init__(self, build: RuntimeSource = runtime_from_environment) -> None:
        self._build = build
        self._runtime: BotRuntime | None = None
        self._lambda_context: Any = None
        self._lock = threading.Lock()

    def __call__(self) -> BotRuntime:
        with self._lock:
            if self._runtime is None:
                self._runtime = self._build()
                self._register_context()
            return self._runtime

    @property
    def built(self) -> bool:
        return self._runtime is not None

    def enter(self, lambda_context: Any) -> None:
        """Note the Lambda context of the invocation that is starting."""
        with self._lock:
            self._lambda_context = lambda_context
            self._register_context()

    def install(self, runtime: BotRuntime | None) -> None:
        """Use this runtime from now on (tests: one built with fakes), or with None build it
        again from the environment at the next use."""
        with self._lock:
            self._runtime = runtime
            self._register_context()

    def _register_context(self) -> None:
        if self._runtime is not None and self._lambda_context is not None:
            self._runtime.idempotency.register_lambda_context(self._lambda_context)
