"""The `kotae` command end to end on the embedded default: ingest -> search -> ask -> eval."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES

BEIR = ROOT / "tests" / "fixtures" / "beir-mini"


def test_ingest_search_ask_on_the_sample_knowledge(run) -> None:
    # GIVEN the shipped sample knowledge ingested into a fresh data dir
    code, out, _ = run("ingest", str(SAMPLES / "knowledge.jsonl"))
    assert code == 0
    lines = (SAMPLES / "knowledge.jsonl").read_text(encoding="utf-8").splitlines()
    assert f"{len(lines)} indexed; 0 line(s) rejected" in out
    # WHEN it is ingested again THEN nothing changes
    code, out, _ = run("ingest", str(SAMPLES / "knowledge.jsonl"))
    assert f"{len(lines)} unchanged" in out
    # AND search ranks the VPN entries first, in both languages
    code, out, _ = run("search", "VPN connect from outside", "--json", "--k", "3")
    hits = json.loads(out)
    assert code == 0 and {hits[0]["key"], hits[1]["key"]} == {"faq-en-003", "faq-ja-003"}
    assert set(hits[0]) >= {"key", "title", "score", "relevance", "url"}
    # AND ask answers with sources, extractively
    code, out, _ = run("ask", "返品はいつまで受け付けていますか？", "--json")
    answer = json.loads(out)
    assert code == 0 and answer["found"] is True and answer["model_id"] == "extractive"
    assert answer["citations"][0]["key"] == "faq-ja-014"
    assert answer["prompt_task"] == "answer" and answer["prompt_version"] == "v1"
    code, out, _ = run("ask", "How do I connect to the VPN?")
    assert "Sources" in out and "faq-en-003" in out and "prompt answer/v1" in out


def test_restricted_scopes_and_unanswerable_questions(run) -> None:
    run("ingest", str(SAMPLES / "knowledge.jsonl"))
    code, out, _ = run("ask", "Who won the bowling tournament in 1987?", "--json")
    assert code == 0 and json.loads(out)["found"] is False
    code, out, _ = run("search", "給与 等級 G4", "--scope", "public", "--json")
    assert all(not hit["key"].startswith("faq-ja-020") for hit in json.loads(out))
    code, out, _ = run("search", "給与 等級 G4", "--scope", "hr", "--json")
    assert json.loads(out)[0]["key"] == "faq-ja-020"


def test_bad_lines_are_reported_and_good_lines_ingested(run, tmp_path: Path) -> None:
    source = tmp_path / "items.jsonl"
    source.write_bytes(
        b'{"item_key": "a", "kind": "faq", "question": "Q1?", "answer": "A1."}\n'
        b"{not json\n"
        b'{"kind": "faq", "question": "no key"}\n'
        b'["a list"]\n'
        b"\n"
        b'{"item_key": "b", "kind": "alien", "weird": {"deep": [1, 2]}}\n'
        b"\xff\xfe\n"
    )
    code, out, err = run("ingest", str(source))
    assert code == 0
    assert "2 indexed; 4 line(s) rejected" in out
    assert "line 2" in err and "not valid JSON" in err
    assert "line 3" in err and "has no key" in err
    assert "line 4" in err and "line 7" in err and "not UTF-8" in err


def test_a_file_of_only_bad_lines_fails(run, tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text("nope\n")
    code, _, err = run("ingest", str(source))
    assert code == 1 and "line 1" in err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        pytest.param(("ask", ""), 2, "question is empty", id="empty-question"),
        pytest.param(("ask", "x" * 20_000), 2, "20,000 characters long", id="20k-question"),
        pytest.param(
            ("ingest", "/no/such/file.jsonl"), 2, "cannot read /no/such/file.jsonl", id="missing-file"
        ),
        pytest.param(("eval", "retrieval", "/no/such/dir"), 2, "not a BEIR directory", id="not-beir"),
        pytest.param(("--embedder", "bogus", "ask", "hi"), 2, "KOTAE_EMBEDDER", id="bad-embedder"),
        pytest.param(
            ("ask", "VPN", "--prompt-version", "v404"),
            1,
            "no prompt template answer/v404",
            id="missing-prompt",
        ),
        pytest.param(("ask",), 2, "Missing argument 'question'", id="usage-error"),
        pytest.param(("search", "VPN", "--k", "0"), 2, "Invalid value for '--k'", id="bad-option"),
    ],
)
def test_bad_input_gets_one_clear_line(run, args, code, message) -> None:
    run("ingest", str(SAMPLES / "knowledge.jsonl"))
    got, _, err = run(*args)
    assert got == code
    assert message in " ".join(err.split())
    assert "Traceback" not in err


def test_invalid_environment_setting_names_the_variable(run, monkeypatch) -> None:
    monkeypatch.setenv("KOTAE_TOP_K", "zero")
    code, _, err = run("search", "VPN")
    assert code == 2 and "KOTAE_TOP_K" in err


def test_corrupt_store_file_is_reported(run, tmp_path: Path, monkeypatch) -> None:
    data = tmp_path / "corrupt"
    data.mkdir()
    (data / "kotae.sqlite3").write_bytes(b"garbage" * 1000)
    monkeypatch.setenv("KOTAE_DATA_DIR", str(data))
    code, _, err = run("search", "VPN")
    assert code == 1 and "not a readable kotae store" in " ".join(err.split())


def test_eval_retrieval_reports_the_three_metrics(run) -> None:
    code, out, _ = run("eval", "retrieval", str(BEIR), "--json")
    result = json.loads(out)
    assert code == 0 and result["queries"] == 4  # q5 has no judgements
    assert set(result) == {
        *("ndcg@10", "recall@10", "mrr@10", "queries", "mode", "embedder", "set"),
        *("metrics_provider", "metrics_library"),
    }
    assert result["mode"] == "hybrid" and result["embedder"] == "none" and result["set"] == str(BEIR)
    assert result["recall@10"] == 1.0 and result["mrr@10"] == 1.0 and result["ndcg@10"] == pytest.approx(1.0)
    assert result["metrics_provider"] == {
        "ndcg@10": "pytrec_eval",
        "recall@10": "pytrec_eval",
        "mrr@10": "msmarco",
    }
    assert result["metrics_library"].startswith("ir-measures ")
    code, out, _ = run("eval", "retrieval", str(BEIR), "--k", "1", "--limit", "2")
    assert code == 0 and "2 queries" in out and "nDCG@1 1.000" in out
    assert (
        "computed by ir-measures" in out and "ndcg@1 pytrec_eval, recall@1 pytrec_eval, mrr@1 msmarco" in out
    )


def test_eval_retrieval_without_the_metrics_library_fails_first(run, monkeypatch) -> None:
    # GIVEN the 'eval' extra is not installed
    monkeypatch.setitem(sys.modules, "ir_measures", None)
    # WHEN asked to evaluate (a directory that does not even exist) THEN the library is named first
    code, _, err = run("eval", "retrieval", "/no/such/dir")
    assert code == 2 and "pip install 'kotae[eval]'" in " ".join(err.split())
    assert "Traceback" not in err


def test_eval_dense_without_embedder_is_refused(run) -> None:
    code, _, err = run("eval", "retrieval", str(BEIR), "--mode", "dense")
    assert code == 2 and "--mode dense needs an embedder" in err


@pytest.mark.model
def test_eval_with_the_local_model(run) -> None:
    pytest.importorskip("sentence_transformers", reason="extra 'local' is not installed")
    code, out, _ = run("--embedder", "local", "eval", "retrieval", str(BEIR), "--mode", "dense", "--json")
    assert code == 0 and json.loads(out)["recall@10"] == 1.0


def test_slack_socket_mode_needs_an_app_token(run, monkeypatch) -> None:
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    code, _, err = run("slack")
    assert code == 2 and "SLACK_APP_TOKEN" in err


def test_slack_socket_mode_starts_the_same_app(run, monkeypatch) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    started = []
    monkeypatch.setattr(SocketModeHandler, "start", lambda self: started.append(self.app))
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    code, out, _ = run("slack")
    assert code == 0 and "Socket Mode" in out
    # every listener of the Lambda's app: the same build_app, over Socket Mode
    from bot.app import SlackConnection, build_app

    lambda_app = build_app(lambda: None, SlackConnection("xoxb-test", "s"))  # type: ignore[arg-type, return-value]
    listened = [type(m).__name__ for m in lambda_app._listeners]
    assert len(started) == 1 and [type(m).__name__ for m in started[0]._listeners] == listened
