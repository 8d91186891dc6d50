"""The bad-input corpus through the graph (`Consultation.ask`): a clear ImageError or ValueError; an answer with an
estimate for a lesion in an odd file; a refusal with the intake gate's reason for a frame with no lesion to judge (blank,
colourless); and a bad turn leaves the conversation exactly as it was, with nothing stored."""

import json
from pathlib import Path

import pytest

from agents.resources import load_resources
from agents.retention import thread_upload_dir
from agents.session import Consultation
from knowledge.images import ImageError
from knowledge.taxonomy import CODES

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad_inputs"
CASES = json.loads((CORPUS / "cases.json").read_text())
ERRORS = sorted(n for n, c in CASES.items() if c["expect"] == "error")
READABLE = sorted(n for n, c in CASES.items() if c["expect"] == "ok")


@pytest.fixture(scope="module")
def consult(tmp_path_factory, index_dir, settings, dataset, split):
    root = tmp_path_factory.mktemp("bad-inputs")
    c = Consultation(resources=load_resources(), settings=settings.with_overrides(var_dir=root / "var"))
    lesion = next(r for r in dataset if split[r.image_id] == "test" and r.dx == "mel")
    c.ask("bad", "What is this lesion?", image=lesion.image_path)  # the conversation bad input must not disturb
    yield c
    c.close()


def _snapshot(consult: Consultation, thread_id: str) -> tuple:
    state = consult.state(thread_id)
    folder = thread_upload_dir(consult.settings.uploads_dir, thread_id)
    return consult.history(thread_id), state.get("turn"), state.get("image_hash"), sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("name", ERRORS)
def test_an_unusable_file_is_a_clear_error_and_changes_nothing(consult, name):
    before = _snapshot(consult, "bad")
    with pytest.raises(ImageError, match=CASES[name]["match"]):
        consult.ask("bad", "what about this one?", image=CORPUS / name)
    assert _snapshot(consult, "bad") == before


ANSWERED = sorted(n for n in READABLE if "refused" not in CASES[n])
REFUSED = sorted(n for n in READABLE if "refused" in CASES[n])


@pytest.mark.parametrize("name", ANSWERED)
def test_a_lesion_in_an_odd_but_readable_file_is_answered_with_an_estimate(consult, name):
    result = consult.ask(f"ok-{READABLE.index(name)}", "What is this lesion?", image=CORPUS / name)
    assert result.turn == 1 and "not a diagnosis" in result.answer and "image_refused" not in result.flags
    assert result.diagnosis["label"] in CODES and abs(sum(result.diagnosis["probabilities"].values()) - 1) < 1e-6
    assert result.risk_tier and len(result.similar_cases) == 10


@pytest.mark.parametrize("name", REFUSED)
def test_a_blank_or_colourless_image_is_refused_with_the_gates_reason_and_no_estimate(consult, name):
    """A uniform grey frame, a fully transparent one, a greyscale picture: no lesion to judge, so no estimate."""
    result = consult.ask(f"ok-{READABLE.index(name)}", "What is this lesion?", image=CORPUS / name)
    assert result.turn == 1 and "not a diagnosis" in result.answer and "image_refused" in result.flags
    assert result.diagnosis["label"] is None and result.diagnosis["probabilities"] is None and result.diagnosis["abstained"]
    assert CASES[name]["refused"] in result.diagnosis["abstain_reason"]
    first_line = result.answer.splitlines()[0]
    assert first_line.startswith("**I will not estimate a diagnosis for this image:**") and CASES[name]["refused"] in first_line
    assert result.risk_tier is None and result.similar_cases == [] and result.features is None


def test_files_made_at_run_time_are_clear_errors_too(consult, tmp_path, settings):
    big = tmp_path / "huge.jpg"
    big.write_bytes((CORPUS / "valid_lesion.jpg").read_bytes() + b"\0" * settings.max_upload_bytes)
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    named = tmp_path / "line\nbreak [bold]markup.png"
    named.write_bytes(b"not pixels")
    before = _snapshot(consult, "bad")
    for path, match in [(big, "the limit is"), (folder, "not a regular file"), (tmp_path / "missing.jpg", "file not found"),
                        (named, "not an image format")]:
        with pytest.raises(ImageError, match=match):
            consult.ask("bad", "and this?", image=path)
    with pytest.raises(ImageError, match="empty"):
        consult.ask("bad", "and these bytes?", image=b"")
    assert _snapshot(consult, "bad") == before


@pytest.mark.parametrize("thread_id", ["../../etc/passwd", "a/b", "..\\..\\windows", "", "x" * 129, "t\x00", "t\n", "t\n1", "😀"])
def test_a_thread_id_that_could_become_a_path_is_refused_before_anything_is_stored(consult, thread_id):
    uploads = sorted(consult.settings.uploads_dir.iterdir())
    with pytest.raises(ValueError, match="thread id"):
        consult.ask(thread_id, "what is this?", image=CORPUS / "valid_lesion.jpg")
    assert sorted(consult.settings.uploads_dir.iterdir()) == uploads


def test_an_overlong_question_is_refused_and_the_conversation_goes_on(consult):
    before = _snapshot(consult, "bad")
    with pytest.raises(ValueError, match="limit is 2000"):
        consult.ask("bad", "why? " * 500)
    assert _snapshot(consult, "bad") == before
    assert consult.ask("bad", "what should I do?").turn == before[1] + 1
