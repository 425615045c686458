"""`kotae eval answers` scores the answer pipeline on a question set, per prompt version;
`kotae eval retrieval` scores retrieval alone on a BEIR set with the standard IR metrics."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from kotae.cli.console import make_kotae, out, progress_bar, settings
from kotae.errors import ConfigError, InputError

if TYPE_CHECKING:  # imported lazily at run time, so `kotae --help` stays fast
    from kotae.app import Kotae
    from kotae.evaluation.answers import EvalCase, EvalRun
    from kotae.evaluation.judge import LLMJudge
    from kotae.evaluation.retrieval import BeirSet, Metrics
    from kotae.models import Answer


def _judge(kotae: Any, wanted: bool | None, version: str) -> Any:
    """The judge runs when an LLM is configured (or is asked for and fails loudly without one)."""
    from kotae.evaluation.judge import LLMJudge
    from kotae.providers import GENERATORS

    config = kotae.settings
    if wanted is False:
        return None
    if not getattr(kotae.generator, "uses_llm", False):
        if wanted:
            raise ConfigError("--judge needs an LLM: set KOTAE_GENERATOR=bedrock (and KOTAE_JUDGE_MODEL_ID)")
        return None
    generator = kotae.generator
    if config.judge_model_id and config.judge_model_id != config.generation_model_id:
        generator = GENERATORS.create(
            config.generator, config.model_copy(update={"generation_model_id": config.judge_model_id})
        )
    return LLMJudge(kotae.prompts, generator, version=version)


def eval_answers(
    datasets: Annotated[
        list[Path],
        typer.Argument(
            help="JSONL question sets (one or more, run together): id, question, and expected_keys, "
            "answerable, scopes, or expected_records for a record question."
        ),
    ],
    prompt_version: Annotated[
        list[str] | None,
        typer.Option(
            "--prompt-version", "-p", help="Repeat to compare versions (default KOTAE_PROMPT_VERSION)."
        ),
    ] = None,
    knowledge: Annotated[
        list[Path] | None,
        typer.Option(
            "--knowledge",
            help="JSONL items to answer from, indexed into a throwaway embedded store for this run "
            "(repeatable). Without it, the configured store is used as it is.",
        ),
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Report directory.")] = None,
    judge: Annotated[
        bool | None,
        typer.Option("--judge/--no-judge", help="LLM-as-judge grades (default: when an LLM is set)."),
    ] = None,
    judge_version: Annotated[str, typer.Option(help="Version of prompts/judge/.")] = "v1",
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N questions.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run every question under each prompt version against the knowledge and score retrieval
    hits, citations, refusals, exact record answers and (with an LLM) judge grades. Writes
    summary.json, report.md and report.html."""
    from kotae.evaluation.answers import load_datasets
    from kotae.evaluation.feedback_dataset import ready_cases
    from kotae.evaluation.report import prepare, write_reports

    cases, pending = ready_cases(load_datasets(datasets))  # lines awaiting review are not scored
    cases = cases[:limit]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = prepare(out_dir or settings().data_dir / "eval" / f"answers-{stamp}")
    with _answering_from(knowledge) as kotae:
        versions = _versions(kotae, prompt_version)
        grader = _judge(kotae, judge, judge_version)
        described = _described(kotae, grader)
        if knowledge:
            count = _index(kotae, knowledge)
            described["store"] = "sqlite (throwaway, --knowledge)"
            described["knowledge"] = f"{count} items from {', '.join(map(str, knowledge))}"
        run = _run(kotae, cases, versions, grader, ", ".join(map(str, datasets)), described)
    paths = write_reports(run, target)
    summary = run.summary()
    if as_json:
        files = {k: str(v) for k, v in paths.items()}
        print(json.dumps({**summary, "awaiting_review": pending, "files": files}, ensure_ascii=False))
        return
    _print_summary(summary, paths)
    if pending:
        out.print(f"{pending} questions awaiting review (needs_review) were not scored")


@contextmanager
def _answering_from(knowledge: list[Path] | None) -> Iterator[Kotae]:
    """The configured deployment; with ``--knowledge``, one whose store is a throwaway SQLite
    file (in a temporary data dir, removed afterwards) that will hold just those items."""
    if not knowledge:
        kotae = make_kotae()
        try:
            yield kotae
        finally:
            kotae.close()
        return
    from kotae.app import Kotae
    from kotae.providers.sqlite_store import SQLiteStore

    with tempfile.TemporaryDirectory(prefix="kotae-eval-") as scratch:
        kotae = Kotae(settings(data_dir=Path(scratch)), store=SQLiteStore(Path(scratch) / "eval.sqlite3"))
        try:
            yield kotae
        finally:
            kotae.close()


def _index(kotae: Kotae, paths: list[Path]) -> int:
    """Index the knowledge files; any bad line stops the run, as it would change the figures."""
    from kotae.indexing.loader import ItemFile, batches

    sources = [ItemFile(path) for path in paths]
    for source in sources:
        problems = [f"line {e.line}: {e.message}" for e in source.scan()]
        if problems:
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            raise InputError(f"--knowledge {source.path}: " + "; ".join(problems[:3]) + more)
    with progress_bar() as progress:
        task = progress.add_task("indexing", total=sum(s.count for s in sources))
        for source in sources:
            for part in batches(source.items(), 256):
                kotae.indexer.index_many([(item, None) for item in part])
                progress.advance(task, len(part))
    return sum(s.count for s in sources)


def _versions(kotae: Kotae, asked: list[str] | None) -> list[str]:
    """The prompt versions to compare, each checked to exist so a typo fails before the run."""
    versions = list(dict.fromkeys(asked or [kotae.settings.prompt_version]))
    for version in versions:
        kotae.prompts.template(kotae.settings.prompt_task, version)
    return versions


def _described(kotae: Kotae, grader: LLMJudge | None) -> dict[str, Any]:
    """The settings the report records next to the figures, so runs can be compared."""
    config = kotae.settings
    return {
        "store": config.store,
        "embedder": config.embedder,
        "generator": f"{config.generator} ({kotae.generator.model_id})",
        "retrieval": config.retrieval_mode,
        "top_k": config.top_k,
        "routing": config.routing,
        "judge": grader.label if grader else "not run (no LLM configured)",
    }


def _run(
    kotae: Kotae,
    cases: list[EvalCase],
    versions: list[str],
    grader: LLMJudge | None,
    dataset: str,
    described: dict[str, Any],
) -> EvalRun:
    """Ask every case under every version, with a progress bar; the scored run."""
    from kotae.answer.pipeline import AskOptions
    from kotae.evaluation.answers import run_eval

    def ask(case: EvalCase, version: str) -> Answer:
        scopes = tuple(case.scopes) if case.scopes else None
        return kotae.pipeline.ask(case.question, options=AskOptions(scopes=scopes, prompt_version=version))

    with progress_bar() as progress:
        task = progress.add_task("evaluating", total=len(cases) * len(versions))
        return run_eval(
            cases, versions, ask, judge=grader, dataset=dataset, settings=described,
            progress=lambda: progress.advance(task),
        )  # fmt: skip


def _print_summary(summary: dict[str, Any], paths: dict[str, Path]) -> None:
    """One line of figures per prompt version, then where the reports are."""
    from kotae.evaluation.records import records_line

    for version, figures in summary["versions"].items():
        records = records_line(figures)
        out.print(
            f"[bold]{version}[/]: hit rate {figures['retrieval_hit_rate']}, answered {figures['answer_rate']}, "
            f"expected cited {figures['expected_cited_rate']}, citations valid {figures['citation_validity']}, "
            f"refused unanswerable {figures['correct_refusal_rate']}, right outcome {figures['accuracy']}"
            + (
                f", faithfulness {figures['faithfulness']}, correctness {figures['correctness']}"
                if figures["judged"]
                else ""
            )
            + (f", {records}" if records else "")
            + f", cost per answer {figures['cost_usd_per_answer']} USD"
        )
    out.print("reports: " + escape(", ".join(str(p) for p in paths.values())))


def eval_retrieval(
    directory: Annotated[
        Path, typer.Argument(help="A BEIR directory: corpus.jsonl, queries.jsonl, qrels/test.tsv.")
    ],
    k: Annotated[int, typer.Option("--k", min=1, max=100)] = 10,
    mode: Annotated[str | None, typer.Option(help="hybrid | lexical | dense (KOTAE_RETRIEVAL_MODE).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N queries.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Index a BEIR set into a throwaway store and report nDCG, Recall and MRR at k, as
    trec_eval and BEIR define them (computed by ir-measures; the JSON names the provider)."""
    from kotae.app import Kotae
    from kotae.evaluation.retrieval import Metrics, load_beir
    from kotae.providers.sqlite_store import SQLiteStore

    metrics = Metrics.at(k)  # a missing metrics library fails before anything is indexed
    data = load_beir(directory)
    queries = dict(list(data.queries.items())[:limit]) if limit else data.queries
    with tempfile.TemporaryDirectory(prefix="kotae-eval-") as scratch:
        config = settings(data_dir=Path(scratch), retrieval_mode=mode)
        if config.retrieval_mode == "dense" and config.embedder == "none":
            raise ConfigError("--mode dense needs an embedder: set KOTAE_EMBEDDER=local or titan")
        kotae = Kotae(config, store=SQLiteStore(Path(scratch) / "eval.sqlite3"))
        try:
            result = _score_retrieval(kotae, data, queries, metrics)
        finally:
            kotae.close()
    result = {**result, "mode": config.retrieval_mode, "embedder": config.embedder, "set": str(directory)}
    if as_json:
        print(json.dumps(result))
        return
    by = ", ".join(f"{key} {name}" for key, name in result["metrics_provider"].items())
    out.print(
        escape(
            f"{directory}: {result['queries']} queries, mode {result['mode']}, embedder {result['embedder']}"
        )
        + f"\nnDCG@{k} {result[f'ndcg@{k}']:.3f} · Recall@{k} {result[f'recall@{k}']:.3f} · "
        f"MRR@{k} {result[f'mrr@{k}']:.3f}\ncomputed by {result['metrics_library']} ({by})"
    )


def _score_retrieval(
    kotae: Kotae, data: BeirSet, queries: dict[str, str], metrics: Metrics
) -> dict[str, Any]:
    """Index the corpus, then search each judged query and score the rankings, with progress bars."""
    from kotae.evaluation.retrieval import corpus_items, evaluate
    from kotae.indexing.loader import batches

    k = metrics.k
    with progress_bar() as progress:
        task = progress.add_task("indexing", total=len(data.corpus))
        for part in batches(corpus_items(data.corpus), 128):
            kotae.indexer.index_many([(item, None) for item in part])
            progress.advance(task, len(part))
        task = progress.add_task("searching", total=len(queries))
        return evaluate(
            lambda q: [h.document.item_key for h in kotae.retriever.search(q, k, relevance=False)],
            queries, data.qrels, k, progress=lambda: progress.advance(task), metrics=metrics,
        )  # fmt: skip
