"""`kotae eval dataset --from-feedback` writes an evaluation set from the answer log: the
questions users gave 👎 or kotae could not answer (kotae.evaluation.feedback_dataset)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from kotae.cli.console import err, settings
from kotae.errors import ConfigError, InputError

if TYPE_CHECKING:
    from kotae.evaluation.feedback_dataset import ScopesFor
    from kotae.models import Item
    from kotae.ops.log_reader import LogReader
    from kotae.settings import Settings


def eval_dataset(
    out_path: Annotated[Path, typer.Argument(metavar="OUT.jsonl", help="Where to write the dataset.")],
    from_feedback: Annotated[
        bool, typer.Option("--from-feedback", help="From 👎 answers and not-found questions in the log.")
    ] = False,
    since: Annotated[str, typer.Option(help="The window: 30d, 12h or an ISO date.")] = "30d",
    bucket: Annotated[
        str | None,
        typer.Option(
            help="S3 bucket of the answer log (default KOTAE_ANSWER_LOG_BUCKET, else the local log)."
        ),
    ] = None,
    items: Annotated[
        list[Path] | None,
        typer.Option(
            "--items",
            help="JSONL items (e.g. a knowledge export) to find the item saved for a question: by "
            "its saved_for_answer_id, or by the same question or title (repeatable).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Write OUT.jsonl in the `kotae eval answers` format. Lines without a saved item have empty
    expected_keys and needs_review: true, for a person to fill; `kotae eval answers` skips
    them until then."""
    from kotae.evaluation.feedback_dataset import DatasetReport, SavedItems, build_dataset, write_dataset
    from kotae.ops.log_reader import parse_since, read_records

    if not from_feedback:
        raise InputError("say where the questions come from: --from-feedback (the only source so far)")
    config = settings()
    now = datetime.now(UTC)
    start = parse_since(since, now)
    reader, where = _log(config, bucket)
    problems: Counter[str] = Counter()
    answers = list(read_records(reader, "answers", start, now, problems))
    feedback = list(read_records(reader, "feedback", start, now, problems))
    report = DatasetReport()
    saved = SavedItems.of(_items(items or []))
    cases = build_dataset(answers, feedback, scopes_for=_scopes_for(config), saved=saved, report=report)
    report.skipped.update(problems)
    write_dataset(out_path, cases)
    summary = {"out": str(out_path), "log": where, "since": start.isoformat(), **report.as_dict(cases)}
    if as_json:
        print(json.dumps(summary, ensure_ascii=False))
        return
    _print_summary(summary)


def _log(config: Settings, bucket: str | None) -> tuple[LogReader, str]:
    """The answer log to read and how to name it: S3 when a bucket is given or configured."""
    from kotae.ops.log_reader import LocalLog, S3Log

    name = bucket or config.answer_log_bucket
    if name:
        from kotae.aws import client

        return S3Log(client("s3", config.aws_region), name), f"s3://{name}/"
    root = config.data_dir / "logs"
    return LocalLog(root), str(root)


def _scopes_for(config: Settings) -> ScopesFor:
    """Channel → scopes through the configured channel profiles; without any, scopes are left
    for a person (the line keeps the channel ids)."""
    from kotae.evaluation.feedback_dataset import profile_scopes

    if config.channel_profiles_parameter:
        return profile_scopes(
            _parameter(config), f"KOTAE_CHANNEL_PROFILES_PARAMETER={config.channel_profiles_parameter}"
        )
    if config.channel_profiles:
        where = f"KOTAE_CHANNEL_PROFILES={config.channel_profiles}"
        try:
            return profile_scopes(config.channel_profiles.read_text(encoding="utf-8"), where)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{where} cannot be read: {exc}") from exc
    return lambda channel: None


def _parameter(config: Settings) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    from kotae.aws import client

    name = config.channel_profiles_parameter
    try:
        return client("ssm", config.aws_region).get_parameter(Name=name)["Parameter"]["Value"]
    except (ClientError, BotoCoreError) as exc:
        raise ConfigError(f"KOTAE_CHANNEL_PROFILES_PARAMETER={name} cannot be read: {exc}") from exc


def _items(paths: list[Path]) -> Iterator[Item]:
    """The items of the --items files; a bad line stops the command, as for --knowledge."""
    from kotae.indexing.loader import ItemFile

    for path in paths:
        source = ItemFile(path)
        problems = [f"line {e.line}: {e.message}" for e in source.scan()]
        if problems:
            raise InputError(f"--items {path}: " + "; ".join(problems[:3]))
        yield from source.items()


def _print_summary(summary: dict[str, Any]) -> None:
    """One line on stderr with the counts, and a hint for what is left to a person."""
    skipped = ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in summary["skipped"].items()) or "none"
    err.print(
        escape(
            f"read {summary['read']['answers']} answers and {summary['read']['feedback']} feedback "
            f"records from {summary['log']}; selected {summary['selected']} "
            f"({', '.join(f'{n} {s}' for s, n in summary['by_source'].items()) or 'none'}); wrote "
            f"{summary['cases']} cases ({summary['from_saved_items']} from saved items, "
            f"{summary['needs_review']} need review) to {summary['out']}; skipped: {skipped}"
        )
    )
    if summary["skipped"].get("question_not_logged"):
        err.print("questions the log dropped (KOTAE_LOG_TEXT=drop) cannot become test cases")
    if summary["needs_review"]:
        err.print(
            "fill expected_keys (or set answerable to false) and remove needs_review on each line to score it"
        )
