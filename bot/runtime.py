"""What the bot builds once per process: settings, the core, idempotency, the answer log."""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer, IdempotencyConfig

from bot.idempotency import ThreadMemory, idempotency_config, stores_for
from bot.profiles import ChannelProfiles
from kotae.app import Kotae
from kotae.ops.answer_log import LocalSink, LogSink, S3Sink
from kotae.settings import Settings


@dataclass
class BotRuntime:
    kotae: Kotae
    persistence: BasePersistenceLayer
    idempotency: IdempotencyConfig
    threads: ThreadMemory
    log_sink: LogSink
    profiles: ChannelProfiles

    @classmethod
    def from_settings(cls, settings: Settings) -> BotRuntime:
        from kotae.aws import client

        persistence, threads = stores_for(settings)
        sink: LogSink
        if settings.answer_log_bucket:
            sink = S3Sink(client("s3", settings.aws_region), settings.answer_log_bucket)
        else:
            sink = LocalSink(settings.data_dir / "logs")
        return cls(
            Kotae(settings),
            persistence,
            idempotency_config(),
            threads,
            sink,
            ChannelProfiles(settings.channel_profiles, settings.channel_profiles_parameter),
        )
