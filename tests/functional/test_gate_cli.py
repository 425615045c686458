"""The answer gate end to end: `kotae eval gate` fits it on a gate dev set, and `kotae ask` refuses
a question whose documents were removed while it answers one whose documents were kept."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kotae.answer.gate import load_model
from kotae.evaluation.gate_sets import build_gate_set
from kotae.evaluation.retrieval import load_beir
from tests.conftest import PROMPTS, ROOT

MINI = ROOT / "tests" / "fixtures" / "gate-mini"

def test_eval_gate_fits_reports_and_writes_a_loadable_model(run, tmp_path: Path) -> None:
    # GIVEN a small BEIR set WHEN the gate is fitted on it
    out = tmp_path / "gate.json"
    code, stdout, _ = run("eval", "gate", str(MINI), "--out", str(out), "--seed", "3", "--json")
    # THEN the held-out figures of both gates are reported and the model is written with provenance
    assert code == 0
    summary = json.loads(stdout)
    row = summary["held_out"]["gate-mini"]
    assert set(row) == {"gate", "threshold"} and row["gate"]["questions"] == row["threshold"]["questions"]
    model = load_model(out)
    assert model.provenance["sets"]["gate-mini"]["removed_documents"] > 0
    assert (
        model.provenance["command"].startswith("kotae eval gate") and model.threshold == summary["threshold"]
    )
    code, stdout, _ = run("eval", "gate", str(MINI), "--seed", "3")
    assert code == 0 and "gate-mini" in stdout and "operating threshold" in stdout


def test_eval_gate_reports_a_directory_that_is_not_a_beir_set(run, tmp_path: Path) -> None:
    code, _, err = run("eval", "gate", str(tmp_path))
    assert code != 0 and "not a BEIR directory" in err


def test_ask_refuses_a_removed_documents_question_and_answers_a_kept_ones(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the knowledge of a gate set: the documents of half its questions removed
    gate_set = build_gate_set(load_beir(MINI), seed=2)
    knowledge = tmp_path / "knowledge.jsonl"
    knowledge.write_text(
        "".join(
            json.dumps({"item_key": d["_id"], "kind": "faq", "question": d["title"], "answer": d["text"]})
            + "\n"
            for d in gate_set.corpus
        )
    )
    assert run("ingest", str(knowledge))[0] == 0
    removed = next(q for q in gate_set.unanswerable if q.id == "q4")  # its entry (parking) is gone
    kept = next(q for q in gate_set.answerable if q.id == "q2")  # its entry (VPN) is there
    # WHEN both are asked THEN the first is refused and the second answered from its entry
    code, stdout, _ = run("ask", removed.text, "--json")
    assert code == 0 and json.loads(stdout)["found"] is False
    code, stdout, _ = run("ask", kept.text, "--json")
    answer = json.loads(stdout)
    assert code == 0 and answer["found"] is True and answer["citations"][0]["key"] in kept.relevant
    # AND a prompt version may move the operating point: at 1.0 nothing passes (the threshold
    # gate alone would still answer), so the gate is what decides
    prompts = tmp_path / "prompts"
    shutil.copytree(PROMPTS, prompts)
    body = (PROMPTS / "answer" / "v1.j2").read_text()
    (prompts / "answer" / "closed.j2").write_text(
        '{% block parameters %}{"gate_threshold": 1.0}{% endblock %}' + body
    )
    monkeypatch.setenv("KOTAE_PROMPTS_DIR", str(prompts))
    code, stdout, _ = run("ask", kept.text, "--json", "--prompt-version", "closed")
    assert code == 0 and json.loads(stdout)["found"] is False


@pytest.mark.model
def test_eval_gate_with_an_embedder_can_also_observe_lexical_retrieval(run) -> None:
    pytest.importorskip("sentence_transformers", reason="extra 'local' is not installed")
    # GIVEN the packaged local embedder WHEN the gate is fitted with --also-lexical
    code, stdout, _ = run(
        "--embedder", "local", "eval", "gate", str(MINI), "--seed", "2", "--also-lexical", "--json"
    )
    # THEN each set is observed twice: with dense retrieval and by lexical retrieval alone
    assert code == 0
    assert set(json.loads(stdout)["held_out"]) == {"gate-mini", "gate-mini/lexical"}
