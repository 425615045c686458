"""The `kotae` command line: ingest, search, ask and evaluate on the configured deployment."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from kotae.cli.console import State, err, make_kotae, out, progress_bar
from kotae.cli.eval_dataset import eval_dataset
from kotae.cli.evaluate import eval_answers, eval_retrieval
from kotae.cli.gate import eval_gate
from kotae.cli.ops import athena_app, doctor, load, prompts_app
from kotae.errors import ConfigError, InputError, KotaeError, StoreError

app = typer.Typer(help="kotae (答え): answers from your team's own knowledge.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure retrieval and answers.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
eval_app.command("answers")(eval_answers)
eval_app.command("retrieval")(eval_retrieval)
eval_app.command("gate")(eval_gate)
eval_app.command("dataset")(eval_dataset)
app.add_typer(prompts_app, name="prompts")
app.add_typer(athena_app, name="athena")
app.command("load")(load)
app.command("doctor")(doctor)


@app.callback()
def main_options(
    data_dir: Annotated[Path | None, typer.Option(help="Overrides KOTAE_DATA_DIR.")] = None,
    embedder: Annotated[str | None, typer.Option(help="none | local | titan (KOTAE_EMBEDDER).")] = None,
    generator: Annotated[str | None, typer.Option(help="extractive | bedrock (KOTAE_GENERATOR).")] = None,
) -> None:
    """Options given here win over KOTAE_* environment variables."""
    State.overrides = {"data_dir": data_dir, "embedder": embedder, "generator": generator}


@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(help="A JSONL file of knowledge items.")],
    batch: Annotated[int, typer.Option(min=1, help="Items embedded together.")] = 64,
    key: Annotated[
        list[str] | None,
        typer.Option(
            help="A key attribute of the table the file comes from, NAME or NAME:S|N|B; give two for "
            "a partition + sort key. Without it, the key is the first of item_key, key, pk, id."
        ),
    ] = None,
) -> None:
    """Index knowledge items from a JSONL file; bad lines are reported, good ones still indexed,
    and of several lines with one key the last wins. The file is streamed: read once for each
    key's last line, then again in batches that are indexed and let go."""
    from kotae.indexing.loader import ItemFile, Rules, batches
    from kotae.records.keys import KeySchema

    key_schema = KeySchema.parse(key) if key else None
    kotae = make_kotae()
    try:
        source = ItemFile(path, Rules(key_schema, kotae.schema))
        for error in source.scan():
            err.print(f"[yellow]line {error.line}[/]: {escape(error.message)}")
        outcomes: Counter[str] = Counter()
        with progress_bar() as progress:
            task = progress.add_task("indexing", total=source.count)
            for part in batches(source.items(), batch):
                for result in kotae.indexer.index_many([(item, None) for item in part]):
                    outcomes[result.outcome] += 1
                progress.advance(task, len(part))
        summary = ", ".join(f"{n} {name}" for name, n in sorted(outcomes.items())) or "nothing indexed"
        out.print(
            f"{path}: {summary}; {source.rejected} line(s) rejected; "
            f"{source.superseded} line(s) superseded by a later line; store has {kotae.store.count()} chunks"
        )
    finally:
        kotae.close()
    if source.rejected and not source.count:
        raise typer.Exit(1)


@app.command()
def search(
    query: str,
    k: Annotated[int, typer.Option("--k", min=1, max=100)] = 10,
    scope: Annotated[list[str] | None, typer.Option(help="Only what these scopes may see.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Ranked hits for a query, with keys, titles and scores."""
    from kotae.models import Filters

    kotae = make_kotae()
    question = kotae.pipeline.validate(query)
    hits = kotae.retriever.search(question, k, Filters(scopes=tuple(scope) if scope else None))
    if as_json:
        print(json.dumps([_hit_json(h) for h in hits], ensure_ascii=False, indent=2))
        return
    table = Table("#", "key", "title", "score", "relevance")
    for rank, hit in enumerate(hits, start=1):
        table.add_row(
            str(rank),
            escape(hit.document.item_key),
            escape(hit.document.title[:70]),
            f"{hit.score:.4f}",
            f"{hit.relevance:.2f}",
        )
    out.print(table if hits else "no hits")


def _hit_json(hit: Any) -> dict[str, Any]:
    d = hit.document
    return {
        "key": d.item_key,
        "chunk_id": d.chunk_id,
        "title": d.title,
        "url": d.url,
        "kind": d.kind,
        "score": hit.score,
        "relevance": hit.relevance,
        "lexical_rank": hit.lexical_rank,
        "dense_rank": hit.dense_rank,
    }


@app.command()
def ask(
    question: str,
    scope: Annotated[list[str] | None, typer.Option(help="Scopes the asker may see (default: all).")] = None,
    prompt_version: Annotated[str | None, typer.Option(help="Overrides KOTAE_PROMPT_VERSION.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Answer a question from the knowledge, with sources."""
    from kotae.answer.pipeline import AskOptions

    kotae = make_kotae()
    options = AskOptions(scopes=tuple(scope) if scope else None, prompt_version=prompt_version)
    answer = kotae.pipeline.ask(question, options=options)
    if as_json:
        print(answer.model_dump_json(indent=2, exclude={"hits"}))
        return
    out.print(escape(answer.text))
    if answer.citations:
        out.print("\n[bold]Sources[/]")
        for c in answer.citations:
            where = f" <{c.url}>" if c.url else ""
            out.print(f"  [{c.id}] {escape(c.title)} ({escape(c.key)}){escape(where)}")
    out.print(
        f"\n[dim]prompt {answer.prompt_task}/{answer.prompt_version} · model {answer.model_id} · "
        + " · ".join(f"{k} {v:.0f} ms" for k, v in answer.timings_ms.items())
        + "[/]"
    )


def _report(report: Any) -> None:
    for key, reason in report.failures[:20]:
        err.print(f"[yellow]{escape(key)}[/]: {escape(reason)}")
    if report.failed > 20:
        err.print(f"... and {report.failed - 20} more failures")
    parts = [f"{report.outcomes.get(name, 0)} {name}" for name in ("indexed", "unchanged", "stale")]
    out.print(", ".join(parts) + f", {report.failed} failed")


def _table_scan(kotae: Any, table: str | None, segments: int, target_indexer: Any) -> Any:
    """Backfill ``target_indexer`` from the table, its items read with the table's key schema."""
    from botocore.exceptions import BotoCoreError, ClientError

    from kotae.aws import client
    from kotae.indexing.backfill import backfill
    from kotae.records.keys import KeySchema

    name = table or kotae.settings.knowledge_table
    dynamodb = client("dynamodb", kotae.settings.aws_region)
    try:
        described = dynamodb.describe_table(TableName=name)
    except (ClientError, BotoCoreError) as exc:
        raise StoreError(f"cannot read table {name}: {exc}") from exc
    key_schema = KeySchema.from_describe_table(described)
    with progress_bar() as progress:
        task = progress.add_task(f"backfilling {name}", total=described["Table"].get("ItemCount") or None)
        return backfill(
            target_indexer,
            dynamodb,
            name,
            key_schema=key_schema,
            schema=kotae.schema,
            segments=segments,
            progress=lambda n: progress.advance(task, n),
        )


BATCH_HELP = (
    "Embed through a Bedrock batch inference job (about half the on-demand price) when at least "
    "KOTAE_BATCH_MIN_RECORDS texts need it; re-running attaches to the same job."
)


@app.command()
def backfill(
    table: Annotated[
        str | None, typer.Option(help="Knowledge table (default KOTAE_KNOWLEDGE_TABLE).")
    ] = None,
    segments: Annotated[int, typer.Option(min=1, max=64, help="Parallel scan segments.")] = 4,
    batch: Annotated[bool, typer.Option("--batch", help=BATCH_HELP)] = False,
) -> None:
    """Index every item of the knowledge table through the ingest pipeline."""
    from kotae.cli.batch import batch_embedder
    from kotae.indexing.indexer import Indexer

    kotae = make_kotae()
    embedder = batch_embedder(kotae, table, segments, fresh=False) if batch else None
    indexer = Indexer(kotae.renderer, kotae.store, embedder) if embedder else kotae.indexer
    report = _table_scan(kotae, table, segments, indexer)
    _report(report)
    kotae.close()
    if report.failed:
        raise typer.Exit(1)


@app.command()
def reindex(
    table: Annotated[
        str | None, typer.Option(help="Knowledge table (default KOTAE_KNOWLEDGE_TABLE).")
    ] = None,
    segments: Annotated[int, typer.Option(min=1, max=64)] = 4,
    batch: Annotated[bool, typer.Option("--batch", help=BATCH_HELP)] = False,
) -> None:
    """Build a new index with the current settings (e.g. new embedding dimensions), fill it
    from the table, then switch to it: the OpenSearch alias moves atomically; the SQLite file is
    replaced in one rename. Nothing switches if any item failed (or, with --batch, if a batch
    job failed, timed out or wrote malformed results)."""
    from kotae.cli.batch import batch_embedder
    from kotae.indexing.indexer import Indexer

    kotae = make_kotae()
    dimensions = kotae.embedder.dimensions if kotae.embedder else kotae.settings.embedding_dimensions
    embedder = (batch_embedder(kotae, table, segments, fresh=True) if batch else None) or kotae.embedder

    def fill(target: Any) -> None:
        report = _table_scan(kotae, table, segments, Indexer(kotae.renderer, target, embedder))
        _report(report)
        if report.failed:
            raise StoreError(
                "reindex stopped before switching: some items failed (above); the index in use is unchanged"
            )

    kotae.store.reindex(dimensions, fill, report=lambda line: out.print(escape(line)))
    if batch:
        # What the stream wrote to the old index while the new one was being filled (README,
        # "Reindexing at scale"): one more pass, which embeds only what changed.
        out.print("catching up on changes made while the new index was filled")
        report = _table_scan(kotae, table, segments, kotae.indexer)
        _report(report)
        if report.failed:
            kotae.close()
            raise typer.Exit(1)
    kotae.close()


COMMANDS_GROUP = "kotae.commands"
"""Entry-point group through which other packages add commands (the bot adds `kotae slack`)."""


def add_plugin_commands(cli: typer.Typer, entries: Iterable[EntryPoint] | None = None) -> None:
    """Register each installed plugin command on the CLI under its entry point's name.

    A plugin that cannot be loaded (a missing dependency, an error at import), is not callable,
    or takes a name already in use is skipped with a one-line warning: the rest of the CLI works."""
    taken = _command_names(cli)
    for entry in entry_points(group=COMMANDS_GROUP) if entries is None else entries:
        try:
            command = entry.load()
        except Exception as exc:  # any failure inside a plugin's import is the plugin's, not ours
            _plugin_warning(entry, f"{type(exc).__name__}: {exc}".splitlines()[0])
            continue
        if not callable(command):
            _plugin_warning(entry, "it is not a function")
        elif entry.name in taken:
            _plugin_warning(entry, "a command of that name exists")
        else:
            cli.command(entry.name)(command)
            taken.add(entry.name)


def _command_names(cli: typer.Typer) -> set[str]:
    """The names the CLI already answers to (Typer names a command after its function)."""
    names = {
        c.name or (c.callback.__name__.replace("_", "-") if c.callback else "")
        for c in cli.registered_commands
    }
    return names | {group.name for group in cli.registered_groups if group.name}


def _plugin_warning(entry: EntryPoint, reason: str) -> None:
    err.print(
        f"[yellow]warning[/]: plugin command '{escape(entry.name)}' ({escape(entry.value)}) "
        f"is unavailable: {escape(reason)}"
    )


add_plugin_commands(app)


def main() -> None:
    """Console entry point. Click handles usage errors and exit codes itself (standalone mode);
    a KotaeError becomes one clear line: exit 2 for bad input or settings, 1 for the rest."""
    try:
        app()
    except KotaeError as exc:
        err.print(f"[red]error[/]: {escape(str(exc))}")
        sys.exit(2 if isinstance(exc, ConfigError | InputError) else 1)
