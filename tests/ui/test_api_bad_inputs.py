"""The bad-input corpus through the real server's API (gradio_client): a clear error message or a correct answer,
and afterwards the server still answers, at full concurrency (no worker hung or leaked)."""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gradio_client import handle_file

pytestmark = pytest.mark.slow
CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad_inputs"
CASES = json.loads((CORPUS / "cases.json").read_text())
TURN_TIMEOUT_S = 180  # a full turn on 2 shared cores; a hung worker shows up as a timeout, not a hang


def consult(client, thread: str, question: str, path: Path | None):
    job = client.submit(thread, question, handle_file(str(path)) if path else None, "", api_name="/consult")
    return job.result(timeout=TURN_TIMEOUT_S)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_corpus_file_over_the_api(api_client, name):
    case = CASES[name]
    if case["expect"] == "error":
        with pytest.raises(Exception, match=case["match"]):
            consult(api_client, "api-corpus-bad", "what is this?", CORPUS / name)
    else:
        result = consult(api_client, f"api-corpus-{sorted(CASES).index(name)}", "What is this lesion?", CORPUS / name)
        assert result["turn"] == 1 and "not a diagnosis" in result["answer"]
        assert result["diagnosis"]["label"] or result["diagnosis"]["abstain_reason"]


def test_after_the_corpus_the_server_serves_turns_at_full_concurrency(api_client, auth_server, settings):
    first = consult(api_client, "api-after", "What is this lesion?", CORPUS / "valid_lesion.jpg")
    questions = ["why not melanoma?", "为什么不是黑色素瘤？", "what should I do?", "show me more similar cases"]
    with ThreadPoolExecutor(len(questions)) as pool:  # more requests than the concurrency limit: they queue
        turns = list(pool.map(lambda i: consult(api_client, f"api-after-{i}", questions[i], None), range(len(questions))))
    assert all(t["answer"] for t in turns) and first["turn"] == 1
    assert auth_server.proc.poll() is None and auth_server.status("/config") == 401
