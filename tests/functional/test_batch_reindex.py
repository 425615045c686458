"""`kotae reindex --batch` and `kotae backfill --batch` against moto (DynamoDB, S3), the Bedrock
runtime stand-in (on-demand embedding) and the batch control-plane stand-in."""

from __future__ import annotations

import boto3
import pytest

from kotae.indexing.indexer import embedding_text
from kotae.models import Filters
from kotae.providers.sqlite_store import SQLiteStore
from tests.standins.bedrock import bedrock_standin, titan_vector
from tests.standins.bedrock_batch import Script, batch_standin
from tests.standins.streams import knowledge_table

ITEMS = 120
ROLE = "arn:aws:iam::123456789012:role/kotae-batch"


@pytest.fixture
def world(monkeypatch, tmp_path):
    """A table of 120 FAQs, an S3 bucket, both Bedrock stand-ins, and the settings for --batch."""
    env = {
        "KOTAE_AWS_REGION": "ap-northeast-1",
        "KOTAE_KNOWLEDGE_TABLE": "knowledge",
        "KOTAE_EMBEDDER": "titan",
        "KOTAE_EMBEDDING_DIMENSIONS": "256",
        "KOTAE_BATCH_BUCKET": "kotae-batch-bucket",
        "KOTAE_BATCH_ROLE_ARN": ROLE,
        "KOTAE_BATCH_MIN_RECORDS": "100",
        "KOTAE_BATCH_RECORDS_PER_FILE": "100",
        "KOTAE_BATCH_POLL_SECONDS": "0",
        "KOTAE_BATCH_RETRY_LIMIT": "5",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with knowledge_table() as table, bedrock_standin() as runtime, batch_standin() as batch:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", runtime.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", batch.url)
        boto3.client("s3", region_name="ap-northeast-1").create_bucket(
            Bucket="kotae-batch-bucket", CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"}
        )
        for i in range(ITEMS):
            table.put(
                {
                    "item_key": f"faq-{i}",
                    "kind": "faq",
                    "question": f"Question {i}?",
                    "answer": f"Answer {i}.",
                }
            )
        yield table, runtime, batch


def _store(tmp_path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "data" / "kotae.sqlite3")


def _assert_every_chunk_has_its_vector(store: SQLiteStore) -> None:
    keys = set(store.item_keys())
    assert len(keys) == ITEMS
    for key in keys:
        assert all(store.state(key).has_vector.values())
    doc = store.documents("faq-7")[0]
    hit = store.vector_search(titan_vector(embedding_text(doc), 256), 1, Filters())[0]
    assert hit.document.chunk_id == doc.chunk_id and hit.score == pytest.approx(1.0, abs=1e-4)


def test_reindex_batch_embeds_through_one_job_and_switches(run, world, tmp_path) -> None:
    _, runtime, batch = world
    # WHEN the index is rebuilt with --batch
    code, out, err = run("reindex", "--batch")
    # THEN one job embedded every text, nothing went on demand, and the new index is in use
    assert code == 0, err
    assert len(batch.calls("CreateModelInvocationJob")) == 1 and not runtime.calls("invoke")
    created = batch.calls("CreateModelInvocationJob")[0]
    assert created["roleArn"] == ROLE and created["modelId"] == "amazon.titan-embed-text-v2:0"
    assert "120 vectors; 0 to embed on demand" in out and "rebuilt" in out
    _assert_every_chunk_has_its_vector(_store(tmp_path))
    inputs = boto3.client("s3", region_name="ap-northeast-1").list_objects_v2(Bucket="kotae-batch-bucket")
    names = [o["Key"].rsplit("/", 1)[-1] for o in inputs["Contents"]]
    assert (
        names.count("part-0000.jsonl") == 1
        and "part-0001.jsonl.out" in names
        and "manifest.json.out" in names
    )


def test_batch_vectors_equal_on_demand_ones(run, world, tmp_path) -> None:
    # GIVEN the index built on demand
    assert run("reindex")[0] == 0
    store = _store(tmp_path)
    doc = store.documents("faq-3")[0]
    before = store.vector_search(titan_vector(embedding_text(doc), 256), 3, Filters())
    store.close()
    # WHEN it is rebuilt through a batch job
    assert run("reindex", "--batch")[0] == 0
    # THEN the same query finds the same chunks with the same scores
    after = _store(tmp_path).vector_search(titan_vector(embedding_text(doc), 256), 3, Filters())
    assert [(h.document.chunk_id, round(h.score, 5)) for h in after] == [
        (h.document.chunk_id, round(h.score, 5)) for h in before
    ]


def test_failed_records_are_embedded_on_demand_when_few(run, world, tmp_path) -> None:
    _, runtime, batch = world
    batch.scripts.append(Script(fail_record=lambda position, rid: position < 3))
    code, out, err = run("reindex", "--batch")
    assert code == 0, err
    assert len(runtime.calls("invoke")) == 3 and "3 to embed on demand" in out and "Malformed input" in err
    _assert_every_chunk_has_its_vector(_store(tmp_path))


@pytest.mark.parametrize(
    ("script", "said"),
    [
        pytest.param(
            Script(fail_record=lambda position, rid: position < 10),
            "KOTAE_BATCH_RETRY_LIMIT",
            id="many-failed-records",
        ),
        pytest.param(
            Script(outcome="fail", message="role cannot read s3"), "role cannot read s3", id="failed-job"
        ),
        pytest.param(Script(outcome="expire"), "Expired", id="expired-job"),
        pytest.param(Script(malformed=1), "malformed", id="malformed-line"),
        pytest.param(Script(wrong_size=1), "3 values, not 256", id="wrong-size-embedding"),
        pytest.param(Script(outcome="partial"), "have no vector", id="partially-completed"),
    ],
)
def test_a_bad_job_never_switches_and_says_what_next(run, world, tmp_path, script, said) -> None:
    # GIVEN an index in use
    table, _, batch = world
    assert run("reindex")[0] == 0
    table.delete("faq-0")
    # WHEN the batch rebuild's job goes wrong
    batch.scripts.append(script)
    code, _, err = run("reindex", "--batch")
    # THEN the command fails with the reason and the next step, and the old index still serves
    text = " ".join(err.split())
    assert code == 1 and said in text and "index in use keeps serving" in text
    assert "faq-0" in set(_store(tmp_path).item_keys())


def test_a_job_that_never_finishes_times_out_and_a_rerun_attaches(run, world, tmp_path, monkeypatch) -> None:
    _, _, batch = world
    monkeypatch.setenv("KOTAE_BATCH_WAIT_MINUTES", "0")
    batch.scripts.append(Script(outcome="hang"))
    code, _, err = run("reindex", "--batch")
    assert code == 1 and "still running" in err and "attaches" in " ".join(err.split())
    # WHEN the same command runs again once the job can finish
    job = next(iter(batch.jobs.values()))
    job["_script"] = Script()
    monkeypatch.setenv("KOTAE_BATCH_WAIT_MINUTES", "5")
    code, out, err = run("reindex", "--batch")
    # THEN it used the running job: no second CreateModelInvocationJob
    assert code == 0, err
    assert len(batch.calls("CreateModelInvocationJob")) == 1 and "1 found from an earlier run" in out
    _assert_every_chunk_has_its_vector(_store(tmp_path))


def test_a_rerun_after_completion_reuses_the_outputs(run, world, tmp_path) -> None:
    _, runtime, batch = world
    assert run("reindex", "--batch")[0] == 0
    code, out, _ = run("reindex", "--batch")
    assert code == 0 and len(batch.calls("CreateModelInvocationJob")) == 1 and not runtime.calls("invoke")
    assert "0 started, 1 found" in out


def test_a_rerun_after_a_failed_job_starts_a_new_attempt(run, world) -> None:
    _, _, batch = world
    batch.scripts.append(Script(outcome="fail"))
    assert run("reindex", "--batch")[0] == 1
    assert run("reindex", "--batch")[0] == 0
    names = [c["jobName"] for c in batch.calls("CreateModelInvocationJob")]
    assert len(names) == 2 and names[1] == names[0] + "-a1"


def test_below_the_minimum_embeds_on_demand(run, world, monkeypatch, tmp_path) -> None:
    _, runtime, batch = world
    monkeypatch.setenv("KOTAE_BATCH_MIN_RECORDS", "500")
    code, out, _ = run("reindex", "--batch")
    assert code == 0 and "embedding on demand" in out
    assert not batch.requests and len(runtime.calls("invoke")) == ITEMS
    _assert_every_chunk_has_its_vector(_store(tmp_path))


def test_backfill_batch_embeds_only_what_changed(run, world, tmp_path) -> None:
    table, runtime, batch = world
    assert run("backfill", "--batch")[0] == 0  # everything new: one job
    assert len(batch.calls("CreateModelInvocationJob")) == 1 and not runtime.calls("invoke")
    table.put({"item_key": "faq-1", "kind": "faq", "question": "Changed?", "answer": "Changed."})
    code, out, _ = run("backfill", "--batch")  # one text changed: below the minimum, on demand
    assert code == 0 and "1 text(s) to embed" in out and "1 indexed" in out
    assert len(runtime.calls("invoke")) == 1 and len(batch.calls("CreateModelInvocationJob")) == 1


@pytest.mark.parametrize(
    ("env", "said"),
    [
        pytest.param({"KOTAE_EMBEDDER": "none"}, "KOTAE_EMBEDDER=titan", id="not-titan"),
        pytest.param({"KOTAE_BATCH_BUCKET": ""}, "KOTAE_BATCH_BUCKET", id="no-bucket"),
        pytest.param({"KOTAE_BATCH_ROLE_ARN": "role"}, "KOTAE_BATCH_ROLE_ARN", id="bad-role"),
        pytest.param(
            {"KOTAE_BATCH_MIN_RECORDS": "10"}, "KOTAE_BATCH_MIN_RECORDS", id="below-bedrock-minimum"
        ),
    ],
)
def test_batch_settings_are_checked_first(run, world, monkeypatch, env, said) -> None:
    _, _, batch = world
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, _, err = run("reindex", "--batch")
    assert code == 2 and said in err and not batch.requests


def test_many_texts_are_cut_into_even_jobs_each_above_the_minimum(run, world, monkeypatch, tmp_path) -> None:
    # GIVEN 300 texts and at most 200 records a job
    table, runtime, batch = world
    for i in range(ITEMS, 300):
        table.put(
            {"item_key": f"faq-{i}", "kind": "faq", "question": f"Question {i}?", "answer": f"Answer {i}."}
        )
    monkeypatch.setenv("KOTAE_BATCH_RECORDS_PER_JOB", "200")
    code, _, err = run("reindex", "--batch")
    # THEN two jobs of 150 (the stand-in fails a job under 100 records, as Bedrock does)
    assert code == 0, err
    assert len(batch.calls("CreateModelInvocationJob")) == 2 and not runtime.calls("invoke")
    assert sorted(j["totalRecordCount"] for j in batch.jobs.values()) == [150, 150]
    assert _store(tmp_path).count() == 300


def test_changes_written_while_the_new_index_fills_are_caught_up(run, world, monkeypatch, tmp_path) -> None:
    # GIVEN an item that changes in the table after the indexing pass has read it
    table, _, _ = world
    real = SQLiteStore.reindex

    def reindex(self, dimensions, fill, **kwargs):
        def fill_then_change(target):
            fill(target)
            table.put({"item_key": "faq-2", "kind": "faq", "question": "Moved?", "answer": "Moved late."})

        return real(self, dimensions, fill_then_change, **kwargs)

    monkeypatch.setattr(SQLiteStore, "reindex", reindex)
    code, out, err = run("reindex", "--batch")
    # THEN the pass after the switch wrote it into the new index, and only it
    assert code == 0, err
    assert "catching up" in out and "1 indexed, 119 unchanged" in " ".join(out.split())
    assert "Moved late." in _store(tmp_path).documents("faq-2")[0].text


def test_a_job_that_cannot_start_is_one_clear_error(run, world, monkeypatch) -> None:
    # GIVEN a bucket that does not exist: the upload fails before any job starts
    _, _, batch = world
    monkeypatch.setenv("KOTAE_BATCH_BUCKET", "no-such-bucket")
    code, _, err = run("reindex", "--batch")
    assert code == 1 and "no-such-bucket" in err and "Traceback" not in err
    assert not batch.calls("CreateModelInvocationJob")


@pytest.mark.parametrize(
    ("operation", "fault", "said"),
    [
        pytest.param(
            "ListModelInvocationJobs", (403, "AccessDeniedException"), "listing batch jobs", id="list-denied"
        ),
        pytest.param(
            "CreateModelInvocationJob",
            (400, "ValidationException"),
            "starting batch job",
            id="create-refused",
        ),
        pytest.param(
            "GetModelInvocationJob", (404, "ResourceNotFoundException"), "reading batch job", id="get-fails"
        ),
    ],
)
def test_control_plane_errors_stop_before_any_switch(run, world, tmp_path, operation, fault, said) -> None:
    table, _, batch = world
    assert run("reindex")[0] == 0
    table.delete("faq-0")
    batch.faults[operation] = fault
    code, _, err = run("reindex", "--batch")
    assert code == 1 and said in err and fault[1] in err and "Traceback" not in err
    assert "faq-0" in set(_store(tmp_path).item_keys())


def test_a_job_stopped_by_an_operator_is_retried_by_the_next_run(run, world, monkeypatch) -> None:
    # GIVEN a run that gave up waiting, and the job then stopped in the console
    _, _, batch = world
    monkeypatch.setenv("KOTAE_BATCH_WAIT_MINUTES", "0")
    batch.scripts.append(Script(outcome="hang"))
    assert run("reindex", "--batch")[0] == 1
    bedrock = boto3.client("bedrock", region_name="ap-northeast-1", endpoint_url=batch.url)
    bedrock.stop_model_invocation_job(jobIdentifier=next(iter(batch.jobs)))
    # WHEN the command runs again
    monkeypatch.setenv("KOTAE_BATCH_WAIT_MINUTES", "5")
    code, _, err = run("reindex", "--batch")
    # THEN it started a second attempt of that job and finished
    assert code == 0, err
    names = [c["jobName"] for c in batch.calls("CreateModelInvocationJob")]
    assert names == [names[0], names[0] + "-a1"]


def test_reindex_batch_on_opensearch_moves_the_alias_once_every_item_is_in(run, world, monkeypatch) -> None:
    from tests.standins.opensearch import OpenSearchStandIn

    _, runtime, batch = world
    with OpenSearchStandIn() as server:
        for name, value in {
            "KOTAE_STORE": "opensearch",
            "KOTAE_OPENSEARCH_ENDPOINT": server.url,
            "KOTAE_OPENSEARCH_AUTH": "none",
            "KOTAE_OPENSEARCH_INDEX": "knowledge-alias",
        }.items():
            monkeypatch.setenv(name, value)
        from kotae.app import Kotae
        from kotae.settings import load_settings

        Kotae(load_settings()).store.ensure_index()
        # GIVEN a job that fails: the alias stays where it is
        batch.scripts.append(Script(outcome="fail"))
        assert run("reindex", "--batch")[0] == 1
        assert server.aliases["knowledge-alias"] == {"knowledge-alias-v1"}
        # WHEN the next run's job completes
        code, out, err = run("reindex", "--batch")
        # THEN the new index holds every item and the alias moved to it
        assert code == 0, err
        (target,) = server.aliases["knowledge-alias"]
        assert target != "knowledge-alias-v1" and f"knowledge-alias now points at {target}" in out
        assert len({d["item_key"] for d in server.docs(target).values()}) == ITEMS
        assert not runtime.calls("invoke")
