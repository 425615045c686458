"""What the bot builds once per process: settings, the core, dedupe, the answer log."""

from __future__ import annotations

from dataclasses import dataclass

from bot.dedupe import Dedupe, DynamoDBDedupe, SQLiteDedupe
from bot.profiles import ChannelProfiles
from kotae.answer_log import LocalSink, LogSink, S3Sink
from kotae.app import Kotae
from kotae.settings import Settings


@dataclass
class BotRuntime:
    kotae: Kotae
    dedupe: Dedupe
    log_sink: LogSink
    profiles: ChannelProfiles

    @classmethod
    def from_settings(cls, settings: Settings) -> BotRuntime:
        from kotae.aws import client

        dedupe: Dedupe
        if settings.dedupe_table:
            dedupe = DynamoDBDedupe(client("dynamodb", settings.aws_region), settings.dedupe_table)
        else:
            dedupe = SQLiteDedupe(settings.data_dir / "dedupe.sqlite3")
        sink: LogSink
        if settings.answer_log_bucket:
            sink = S3Sink(client("s3", settings.aws_region), settings.answer_log_bucket)
        else:
            sink = LocalSink(settings.data_dir / "logs")
        return cls(
            Kotae(settings),
            dedupe,
            sink,
            ChannelProfiles(settings.channel_profiles, settings.channel_profiles_parameter),
        )
