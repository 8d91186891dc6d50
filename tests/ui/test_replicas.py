"""Two real `dermagraph serve` replicas against one Chroma server and one Postgres: a consultation moves between
them turn by turn (non-sticky), one is killed mid-turn and the other goes on with no lost or half turn."""

from __future__ import annotations

import threading
import time

import pytest

from evals.servers import LocalCluster
from tests.agents.test_session_faults import accepted_test_image
from tests.ui.app_server import AppServer


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, index_dir):
    with LocalCluster(tmp_path_factory.mktemp("cluster")) as running:
        yield running.replicas, running.chroma, running.postgres, running.env


def _turn(server: AppServer, thread: str, question: str, image=None) -> dict:
    from gradio_client import Client, handle_file

    client = Client(server.url, verbose=False)
    return client.predict(thread, question, handle_file(str(image)) if image else None, "", api_name="/consult")


@pytest.mark.slow
def test_a_consultation_moves_between_replicas_and_survives_one_killed_mid_turn(cluster, dataset, split, resources):
    (a, b), chroma, postgres, env = cluster
    lesion = accepted_test_image(dataset, split, "mel", resources.intake_gate)
    other = accepted_test_image(dataset, split, "bkl", resources.intake_gate)

    one = _turn(a, "moving", "What is this lesion?", lesion.image_path)
    two = _turn(b, "moving", "show me more similar cases")  # needs the image A stored: the uploads are shared
    three = _turn(a, "moving", "为什么不是黑色素瘤？")
    assert [one["turn"], two["turn"], three["turn"]] == [1, 2, 3]
    assert one["diagnosis"]["label"] == two["diagnosis"]["label"] == three["diagnosis"]["label"]
    assert two["similar_cases"] and three["language"] == "zh"

    errors: list[str] = []

    def doomed() -> None:
        try:
            _turn(a, "moving", "and this one?", other.image_path)
        except Exception as exc:  # the replica dies under it
            errors.append(type(exc).__name__)

    worker = threading.Thread(target=doomed)
    worker.start()
    time.sleep(1.0)  # the upload is in and the graph is running
    a.kill()
    worker.join(timeout=120)

    four = _turn(b, "moving", "what should I do?")
    from agents.session import Consultation
    from knowledge.settings import get_settings

    consult = Consultation(settings=get_settings().with_overrides(sessions_url=postgres.url), resources=resources)
    try:
        history = consult.history("moving")
    finally:
        consult.close()
    kinds = [kind for kind, _ in history]
    assert kinds == ["human", "ai"] * four["turn"]  # every completed turn, no half one
    assert four["turn"] in (4, 5)  # the killed turn either finished before the kill or left nothing
    if four["turn"] == 4:
        assert four["diagnosis"]["label"] == one["diagnosis"]["label"]  # still about the first image
