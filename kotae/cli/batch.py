"""`--batch` for `kotae reindex` and `kotae backfill`: embed through Bedrock batch inference.

The command scans the table once to gather the texts that need embedding; below
KOTAE_BATCH_MIN_RECORDS it embeds on demand as usual, above it runs the batch jobs (see
kotae.indexing.batch) and hands back an embedder that serves their vectors to the indexing pass.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from kotae.cli.console import err, out, progress_bar
from kotae.errors import ConfigError, StoreError


def _check(settings: Any) -> None:
    if settings.embedder != "titan":
        raise ConfigError("--batch embeds with Titan on Bedrock: set KOTAE_EMBEDDER=titan")
    for name in ("batch_bucket", "batch_role_arn"):
        settings.require(name)


def _key_schema(dynamodb: Any, name: str) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    from kotae.records.keys import KeySchema

    try:
        return KeySchema.from_describe_table(dynamodb.describe_table(TableName=name))
    except (ClientError, BotoCoreError) as exc:
        raise StoreError(f"cannot read table {name}: {exc}") from exc


def batch_embedder(kotae: Any, table: str | None, segments: int, *, fresh: bool) -> Any:
    """An embedder for the indexing pass: batch vectors first, on demand for the rest; None
    when there is too little to embed for a batch job (the caller embeds on demand)."""
    from kotae.aws import client
    from kotae.indexing.batch import BatchRun, Collection, Jobs, PrecomputedEmbedder, collect
    from kotae.indexing.indexer import embedding_text

    settings = kotae.settings
    _check(settings)
    embedder = kotae.embedder
    name = table or settings.knowledge_table
    dynamodb = client("dynamodb", settings.aws_region)
    collection = Collection(embedder.body, settings.data_dir / "batch")
    with progress_bar() as progress:
        task = progress.add_task(f"finding texts to embed in {name}", total=None)
        collect(
            collection,
            dynamodb,
            name,
            key_schema=_key_schema(dynamodb, name),
            schema=kotae.schema,
            todo=(lambda item: kotae.renderer.render(item))
            if fresh
            else (lambda item: kotae.indexer.plan(item).todo),
            text=embedding_text,
            segments=segments,
            progress=lambda n: progress.advance(task, n),
        )
    if len(collection) < settings.batch_min_records:
        out.print(
            f"{len(collection)} text(s) to embed, fewer than KOTAE_BATCH_MIN_RECORDS="
            f"{settings.batch_min_records}: embedding on demand"
        )
        collection.close()
        return None
    config = _run_config(settings, embedder)
    run = BatchRun(
        config,
        client("s3", settings.aws_region),
        Jobs(client("bedrock", settings.aws_region)),
        settings.data_dir / "batch",
    )
    out.print(f"{len(collection)} text(s) to embed through Bedrock batch inference")
    try:
        with progress_bar() as progress:
            task = progress.add_task("batch jobs", total=len(collection))
            outcome = run.execute(
                collection,
                progress=lambda jobs: progress.update(
                    task,
                    completed=sum(j.processed for j in jobs),
                    description=", ".join(sorted({j.status for j in jobs})),
                ),
            )
    finally:
        collection.close()
    _summary(outcome)
    return PrecomputedEmbedder(embedder, outcome.vectors)


def _run_config(settings: Any, embedder: Any) -> Any:
    """The run's settings, from KOTAE_BATCH_* and the Titan embedder's model settings."""
    from kotae.indexing.batch import Limits, RunConfig

    return RunConfig(
        bucket=settings.batch_bucket,
        prefix=settings.batch_prefix,
        role_arn=settings.batch_role_arn,
        model_id=embedder.model_id,
        dimensions=embedder.dimensions,
        normalize=embedder.normalize,
        limits=Limits(
            settings.batch_records_per_file, settings.batch_file_bytes, settings.batch_records_per_job
        ),
        timeout_hours=settings.batch_timeout_hours,
        poll_seconds=settings.batch_poll_seconds,
        wait_seconds=settings.batch_wait_minutes * 60,
        retry_limit=settings.batch_retry_limit,
    )


def _summary(outcome: Any) -> None:
    attached = len(outcome.jobs) - outcome.started
    out.print(
        f"batch: {len(outcome.jobs)} job(s) ({outcome.started} started, {attached} found from an earlier run); "
        f"{len(outcome.vectors.rows) - outcome.missing} vectors; {outcome.missing} to embed on demand"
    )
    for rid, error in outcome.failed_records[:10]:
        err.print(f"[yellow]record {escape(rid)}[/]: {escape(error)}")
    if len(outcome.failed_records) > 10:
        err.print(f"... and {len(outcome.failed_records) - 10} more failed records")
