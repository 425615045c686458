"""Operator commands for a deployment: publish and list prompt versions, load knowledge items.

kotae prompts publish [--dir prompts] [--table NAME] [--dry-run]
kotae prompts list [--table NAME | --local]
kotae load FILE.jsonl [--table NAME]
kotae doctor [--aws] [--json]
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from kotae.cli.console import err, out, progress_bar, settings
from kotae.errors import InputError, PromptConflict, StoreError

athena_app = typer.Typer(help="Athena queries over the answer and feedback logs.", no_args_is_help=True)
prompts_app = typer.Typer(
    help="Versioned prompt templates in the prompt_templates table.", no_args_is_help=True
)

TableOption = Annotated[str | None, typer.Option(help="Table name (default from KOTAE_* settings).")]


def _dynamodb() -> Any:
    from kotae.aws import client

    return client("dynamodb", settings().aws_region)


def _prompt_dir(directory: Path | None) -> Path:
    from kotae.templates import default_prompts_dir

    return directory or default_prompts_dir(settings().prompts_dir)


@prompts_app.command("publish")
def prompts_publish(
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Templates as <task>/<version>.j2 (default: prompts/).")
    ] = None,
    table: TableOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
) -> None:
    """Publish every prompt version that is not live yet. Live versions are immutable: a changed
    template under a published version is refused (publish it as a new version)."""
    from kotae.answer.prompts import DirectorySource, publish

    name = table or settings().prompt_table
    templates = DirectorySource(_prompt_dir(directory)).list()
    if not templates:
        raise InputError(f"no templates under {_prompt_dir(directory)} (expected <task>/<version>.j2)")
    results = publish(templates, name, _dynamodb(), dry_run=dry_run)
    view = Table("task", "version", "outcome", "sha256", title=f"prompts → {name}")
    for result in results:
        style = {"conflict": "red", "published": "green"}.get(result.outcome, "")
        view.add_row(
            result.task,
            result.version,
            f"[{style}]{result.outcome}[/]" if style else result.outcome,
            result.sha256[:12],
        )
    out.print(view)
    conflicts = [f"{r.task}/{r.version}" for r in results if r.outcome == "conflict"]
    if conflicts:
        raise PromptConflict(
            f"{', '.join(conflicts)} already published with different text; published versions are "
            "immutable, so save the change as a new version (e.g. prompts/answer/v3.j2) and publish that"
        )


@prompts_app.command("list")
def prompts_list(
    table: TableOption = None,
    local: Annotated[bool, typer.Option("--local", help="List the template files instead.")] = False,
) -> None:
    """Show the prompt versions that are live (the table), or on disk with --local."""
    from kotae.answer.prompts import DirectorySource, DynamoDBSource, content_hash

    if local:
        templates = DirectorySource(_prompt_dir(None)).list()
        title = str(_prompt_dir(None))
    else:
        name = table or settings().prompt_table
        templates = DynamoDBSource(name, _dynamodb()).list()
        title = name
    view = Table("task", "version", "sha256", "published", title=f"prompts in {title}")
    for template in templates:
        view.add_row(
            template.task, template.version, content_hash(template.text)[:12], template.published_at or ""
        )
    out.print(view)


def _dynamo_value(value: Any) -> Any:
    """JSON values as boto3 wants them: floats as Decimal (DynamoDB numbers), recursively."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dynamo_value(v) for v in value]
    return value


def load(
    path: Annotated[Path, typer.Argument(help="A JSONL file of knowledge items.")],
    table: TableOption = None,
) -> None:
    """Put knowledge items into the knowledge table; its stream brings them to the ingest Lambda.
    Every line must carry the table's key attributes (read with DescribeTable) with their types.
    Bad lines are reported by number and the good ones are still written, as they are; of
    several lines with one key only the last is written. The file is streamed, never held."""
    from botocore.exceptions import BotoCoreError, ClientError

    from kotae.aws import client
    from kotae.indexing.loader import ItemFile, Rules
    from kotae.records.keys import describe_key_schema
    from kotae.records.schema import load_schema

    config = settings()
    name = table or config.knowledge_table
    dynamodb = client("dynamodb", config.aws_region)
    schema = load_schema(
        config.schema_file, kind_attribute=config.kind_attribute, default_kind=config.default_kind
    )
    key_schema = describe_key_schema(dynamodb, name)
    source = ItemFile(path, Rules(key_schema, schema))
    written: Counter[str] = Counter()
    try:
        for error in source.scan():
            err.print(f"[yellow]line {error.line}[/]: {escape(error.message)}")
        import boto3

        target = boto3.resource("dynamodb", region_name=config.aws_region).Table(name)
        with progress_bar() as progress, target.batch_writer() as batch:
            task = progress.add_task(f"loading {name}", total=source.count)
            for item, line in source.lines():
                batch.put_item(Item=_dynamo_value(line))
                written[item.kind] += 1
                progress.advance(task)
    except (ClientError, BotoCoreError) as exc:
        raise StoreError(f"writing to table {name}: {exc}") from exc
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(written.items())) or "nothing"
    out.print(
        f"{path}: wrote {kinds} to {name} (keyed {key_schema}); {source.rejected} line(s) rejected; "
        f"{source.superseded} line(s) superseded by a later line"
    )
    if source.rejected and not source.count:
        raise typer.Exit(1)


@athena_app.command("list")
def athena_list() -> None:
    """The shipped queries and what each answers."""
    from kotae.ops.athena import HERE, queries

    view = Table("query", "what it answers", title=f"Athena queries in {HERE}")
    for name, what in queries().items():
        view.add_row(name, what)
    out.print(view)


@athena_app.command("show")
def athena_show(
    name: Annotated[str, typer.Argument(help="A query name from `kotae athena list`.")],
    database: Annotated[
        str, typer.Option(help="Glue database (the stack's GlueDatabase output).")
    ] = "kotae_logs",
    days: Annotated[int, typer.Option(help="Time window in days.")] = 30,
) -> None:
    """Print the query, ready for the Athena console or `aws athena start-query-execution`."""
    from kotae.ops.athena import load_prices, render

    print(render(name, database=database, days=days, prices=load_prices(settings().model_prices)), end="")


def doctor(
    live: Annotated[
        bool, typer.Option("--aws", help="Also ask Bedrock whether the models exist here and are active.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Check the configured models against their Region and lifecycle; exit 1 on any warning."""
    import json

    from kotae.providers.bedrock_models import live_warnings, offline_warnings

    config = settings()
    models = {"generation": config.generation_model_id}
    if config.routing == "auto":  # the two models routing chooses between (README "Choosing the model")
        models.update(light=config.light_model_id or config.generation_model_id, strong=config.strong_model_id)
    if config.embedder == "titan":
        models["embedding"] = config.titan_model_id
    warnings = [w for model in models.values() for w in offline_warnings(model, config.aws_region)]
    if live:
        from kotae.aws import client

        bedrock = client("bedrock", config.aws_region)
        warnings += [w for model in models.values() for w in live_warnings(bedrock, model)]
    if as_json:
        print(json.dumps({"region": config.aws_region, "models": models, "warnings": warnings}))
    else:
        for role, model in models.items():
            out.print(f"{role} model: {escape(model)} (region {config.aws_region or 'not set'})")
        for warning in warnings:
            err.print(f"[yellow]warning[/]: {escape(warning)}")
        out.print("ok" if not warnings else f"{len(warnings)} warning(s)")
    if warnings:
        raise typer.Exit(1)
