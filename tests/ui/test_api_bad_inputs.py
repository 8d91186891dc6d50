"""The bad-input corpus through the real server's API (gradio_client): a clear error message, an answer with an
estimate, or (a blank or colourless frame) a refusal with the gate's reason; and afterwards the server answers real
image turns sent all at once, each in its own thread with its own image's estimate (no worker hung, leaked or mixed up)."""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gradio_client import handle_file

from knowledge.taxonomy import CODES

pytestmark = pytest.mark.slow
CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad_inputs"
CASES = json.loads((CORPUS / "cases.json").read_text())
TURN_TIMEOUT_S = 180  # a full turn on 2 shared cores; a hung worker shows up as a timeout, not a hang


def consult(client, thread: str, question: str, path: Path | None):
    job = client.submit(thread, question, handle_file(str(path)) if path else None, "", api_name="/consult")
    return job.result(timeout=TURN_TIMEOUT_S)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_corpus_file_over_the_api_gets_its_error_its_estimate_or_its_reasoned_refusal(api_client, name):
    case = CASES[name]
    if case["expect"] == "error":
        with pytest.raises(Exception, match=case["match"]):
            consult(api_client, "api-corpus-bad", "what is this?", CORPUS / name)
        return
    result = consult(api_client, f"api-corpus-{sorted(CASES).index(name)}", "What is this lesion?", CORPUS / name)
    assert result["turn"] == 1 and "not a diagnosis" in result["answer"]
    diagnosis = result["diagnosis"]
    if "refused" in case:  # a blank or colourless frame: no lesion to judge
        assert diagnosis["label"] is None and diagnosis["probabilities"] is None and case["refused"] in diagnosis["abstain_reason"]
        assert "image_refused" in result["flags"] and result["risk_tier"] is None and result["similar_cases"] == []
        assert result["answer"].startswith("**I will not estimate a diagnosis for this image:**")
    else:
        assert diagnosis["label"] in CODES and abs(sum(diagnosis["probabilities"].values()) - 1) < 1e-6
        assert "image_refused" not in result["flags"] and result["risk_tier"] and len(result["similar_cases"]) == 10


@pytest.fixture(scope="module")
def one_image_per_class(dataset, split):
    """The app's examples: a test-split image of each class, seven real HAM10000 images, seven different diagnoses."""
    from ui.examples import example_records

    records = example_records(dataset, split)
    assert [r.dx for r in records] == list(CODES)
    return records


def test_after_the_corpus_image_turns_sent_at_once_are_each_answered_in_their_own_thread(api_client, auth_server,
                                                                                        one_image_per_class):
    first = consult(api_client, "api-after", "What is this lesion?", CORPUS / "valid_lesion.jpg")
    assert first["turn"] == 1 and first["diagnosis"]["label"] in CODES
    # One at a time first: what each image's turn answers when nothing else runs.
    alone = [consult(api_client, f"api-alone-{i}", "What is this lesion?", r.image_path)
             for i, r in enumerate(one_image_per_class)]
    questions = ["What is this lesion?", "这是什么病变？"]  # alternate languages: a mixed-up turn shows in its language too

    def at_once(i: int) -> dict:
        return consult(api_client, f"api-at-once-{i}", questions[i % 2], one_image_per_class[i].image_path)

    with ThreadPoolExecutor(len(one_image_per_class)) as pool:  # 7 at once: 2 run (serve_concurrency), 5 queue
        turns = list(pool.map(at_once, range(len(one_image_per_class))))

    for i, (turn, before) in enumerate(zip(turns, alone)):
        assert turn["thread_id"] == f"api-at-once-{i}" and turn["turn"] == 1, (i, turn["thread_id"], turn["turn"])
        assert turn["language"] == ("en", "zh")[i % 2] and "image_refused" not in turn["flags"], (i, turn["flags"])
        probs = turn["diagnosis"]["probabilities"]
        assert turn["diagnosis"]["label"] == before["diagnosis"]["label"] and set(probs) == set(CODES), i
        # its own image's estimate, not a neighbour's: the same as when it ran alone
        assert all(abs(probs[c] - before["diagnosis"]["probabilities"][c]) < 1e-4 for c in CODES), (i, probs)
        assert turn["risk_tier"] == before["risk_tier"] and len(turn["similar_cases"]) == 10
        assert {c["image_id"] for c in turn["similar_cases"]} == {c["image_id"] for c in before["similar_cases"]}, i
    assert len({json.dumps(t["diagnosis"]["probabilities"], sort_keys=True) for t in turns}) == len(turns)  # 7 images, 7 estimates
    assert auth_server.proc.poll() is None and auth_server.status("/config") == 401
