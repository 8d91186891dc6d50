"""The intent model's delay head is trained on labels that name real training questions, never on the held-out sets."""

from __future__ import annotations


def test_every_delay_label_is_a_training_question_and_no_held_out_set_trains():
    from evals.suites.intent import FOLLOWUPS_DELAY_CORRECTION
    from training.intent import DELAY_EXTRA, HELDOUT_FILE, TRAIN_FILES, delay_labelled, read_questions

    questions = {q.text for path in TRAIN_FILES for q in read_questions(path)}
    labelled = delay_labelled()
    assert len(labelled) >= 30 and labelled <= questions
    assert DELAY_EXTRA != FOLLOWUPS_DELAY_CORRECTION and HELDOUT_FILE not in TRAIN_FILES
    assert not labelled & {q.text for q in read_questions(HELDOUT_FILE)}
