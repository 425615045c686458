"""`kotae eval gate` fits the answer gate (kotae.answer.gate) on gate dev sets built from BEIR
directories, reports its held-out figures beside the current threshold gate's, and with
``--out`` writes the model (coefficients, threshold and provenance) as JSON."""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from kotae.cli.console import out, progress_bar, settings

if TYPE_CHECKING:
    from kotae.answer.gate import GateModel
    from kotae.evaluation.gate_fit import Observation
    from kotae.evaluation.gate_sets import GateSet


def eval_gate(
    datasets: Annotated[
        list[Path],
        typer.Argument(
            help="BEIR directories (corpus.jsonl, queries.jsonl, qrels/test.tsv, optional "
            "unanswerable.jsonl); half of each one's questions lose their relevant documents."
        ),
    ],
    out_path: Annotated[
        Path | None,
        typer.Option("--out", help="Write the fitted model here, e.g. kotae/answer/data/gate.json."),
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Seeds the sample, the silenced half and the fit/held-out split.")
    ] = 13,
    limit: Annotated[
        int | None, typer.Option(min=2, help="At most N questions per set (a seeded sample).")
    ] = None,
    l2: Annotated[float, typer.Option(min=0.0, help="L2 penalty of the logistic regression.")] = 1.0,
    also_lexical: Annotated[
        bool,
        typer.Option(
            "--also-lexical",
            help="With an embedder, observe each set a second time by lexical retrieval alone (as "
            "NAME/lexical), so the model also serves deployments without one.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Build a gate dev set from each directory, retrieve for every question from a throwaway
    store of what is left of its corpus, fit the gate on a seeded half of each set and report
    the right-outcome rate on the other half, for the fitted gate and the current threshold."""
    from kotae.evaluation.gate_fit import fit_gate, report, split
    from kotae.evaluation.gate_sets import load_gate_set

    observations: list[Observation] = []
    sizes: dict[str, dict[str, Any]] = {}
    for directory in datasets:
        gate_set = load_gate_set(directory, seed=seed, limit=limit)
        name = gate_set.name
        sizes[name] = {
            "path": str(directory), "answerable": len(gate_set.answerable),
            "unanswerable": len(gate_set.unanswerable), "removed_documents": len(gate_set.removed),
        }  # fmt: skip
        observations.extend(_observe(gate_set, also_lexical))
    fit, held = split(observations, seed)
    model = fit_gate(fit, l2=l2)
    figures = report(model, held)
    model = model.model_copy(
        update={"provenance": _provenance(datasets, seed, l2, limit, also_lexical, sizes, fit, held, figures)}
    )
    if out_path is not None:
        out_path.write_text(model.model_dump_json(indent=2) + "\n", encoding="utf-8")
    if as_json:
        lexical = model.lexical.threshold if model.lexical else None
        summary = {"held_out": figures, "threshold": model.threshold, "lexical_threshold": lexical}
        print(json.dumps({**summary, "sets": sizes}))
        return
    _print(figures, model, out_path)


def _provenance(
    datasets: list[Path],
    seed: int,
    l2: float,
    limit: int | None,
    also_lexical: bool,
    sizes: dict[str, dict[str, Any]],
    fit: list[Observation],
    held: list[Observation],
    figures: dict[str, Any],
) -> dict[str, Any]:
    """Where a fitted model comes from: the command that reproduces it, its sets and figures."""
    config = settings()
    return {
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "kotae eval gate " + " ".join(str(d) for d in datasets) + f" --seed {seed} --l2 {l2}"
        + (f" --limit {limit}" if limit else "")
        + (" --also-lexical" if also_lexical else ""),
        "sets": sizes, "embedder": config.embedder, "retrieval": config.retrieval_mode,
        "top_k": config.top_k, "fit_questions": len(fit), "held_out_questions": len(held), "held_out": figures,
    }  # fmt: skip


def _observe(gate_set: GateSet, also_lexical: bool) -> list[Observation]:
    """Index the set's remaining corpus into a throwaway SQLite store and observe every question
    (a second time by lexical retrieval alone when asked and an embedder is configured)."""
    from kotae.answer.retrieval import Retriever
    from kotae.app import Kotae
    from kotae.evaluation.gate_fit import in_embedder_language, observe
    from kotae.evaluation.retrieval import corpus_items
    from kotae.indexing.loader import batches
    from kotae.providers.sqlite_store import SQLiteStore

    with tempfile.TemporaryDirectory(prefix="kotae-gate-") as scratch:
        kotae = Kotae(settings(data_dir=Path(scratch)), store=SQLiteStore(Path(scratch) / "gate.sqlite3"))
        try:
            with progress_bar() as progress:
                task = progress.add_task(f"indexing {gate_set.name}", total=len(gate_set.corpus))
                for part in batches(corpus_items(gate_set.corpus), 128):
                    kotae.indexer.index_many([(item, None) for item in part])
                    progress.advance(task, len(part))
            config = kotae.settings

            def seen(named: GateSet, retriever: Retriever) -> list[Observation]:
                return observe(
                    named,
                    lambda q: retriever.search(q, config.top_k),
                    kotae.store,
                    min_relevance=config.min_relevance,
                    max_context_chars=config.max_context_chars,
                )

            found = seen(gate_set, kotae.retriever)
            if also_lexical and kotae.embedder is not None and in_embedder_language(found):
                lexical = Retriever(kotae.store, None, mode="lexical")
                found += seen(replace(gate_set, name=f"{gate_set.name}/lexical"), lexical)
            return found
        finally:
            kotae.close()


def _print(figures: dict[str, dict[str, Any]], model: GateModel, written: Path | None) -> None:
    for name, row in figures.items():
        gate, before = row["gate"], row["threshold"]
        out.print(
            escape(f"{name}: {gate['questions']} held-out questions")
            + f"\n  gate       right {gate['right_outcome']:.3f} · answers {gate['answer_rate']:.3f} · "
            f"refuses {gate['refusal_rate']:.3f}\n  threshold  right {before['right_outcome']:.3f} · "
            f"answers {before['answer_rate']:.3f} · refuses {before['refusal_rate']:.3f}"
        )
    out.print(
        f"operating threshold {model.threshold:.3f}"
        + (f" (without a dense score {model.lexical.threshold:.3f})" if model.lexical else "")
        + (escape(f"; model written to {written}") if written else "")
    )
