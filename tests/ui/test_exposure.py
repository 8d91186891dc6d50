"""What the running server exposes, and to whom: loopback only, no share link, a login in front of every route,
no file outside the upload cache and the allowed folders, hostile upload names kept inside the cache, and the
retention policy applied at start-up."""

import re
import socket
import urllib.parse
import uuid
from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AuthenticationError

from tests.ui.conftest import EXPIRED_UPLOAD, PASSWORD, USER

pytestmark = pytest.mark.slow
CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad_inputs"


@pytest.fixture(scope="module")
def web(auth_server):
    """A raw HTTP client logged in with the server's credentials (cookies, as a browser holds them)."""
    client = httpx.Client(base_url=auth_server.url, timeout=120)
    response = client.post("/login", data={"username": USER, "password": PASSWORD})
    assert response.status_code == 200, response.text
    yield client
    client.close()


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if int(hex_port, 16) == port and state == "0A":  # 0A: LISTEN
                found.add(address)
    return found


def _outside_address() -> str | None:
    """This machine's address on its way out (no packet is sent), or None when it has none but loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_it_listens_on_loopback_only_and_a_connection_to_another_address_is_refused(auth_server):
    assert _listening_addresses(auth_server.port) == {"0100007F"}  # 127.0.0.1, little-endian hex
    outside = _outside_address()
    if outside is not None:  # this machine's own outward address: nothing listens there, so the kernel refuses
        with pytest.raises(ConnectionRefusedError), socket.create_connection((outside, auth_server.port), timeout=3):
            pass


def test_no_share_link_is_opened_unless_asked_for(auth_server):
    log = auth_server.log_text()
    assert f"dermagraph is serving on http://127.0.0.1:{auth_server.port}" in log
    assert "gradio.live" not in log and "share=True" not in log and "public URL" not in log


def test_every_route_answers_401_without_the_login_and_the_api_client_is_refused_for_lack_of_it(auth_server):
    anonymous = httpx.Client(base_url=auth_server.url, timeout=30)
    for method, path in [("GET", "/config"), ("GET", "/gradio_api/info"), ("POST", "/gradio_api/call/consult"),
                         ("POST", "/gradio_api/upload"), ("POST", "/gradio_api/queue/join"),
                         ("GET", f"/gradio_api/file={CORPUS / 'valid_lesion.jpg'}")]:
        response = anonymous.request(method, path, json={"data": []} if method == "POST" else None)
        assert response.status_code == 401, (path, response.status_code)
    wrong = anonymous.post("/login", data={"username": USER, "password": "guess"})
    assert wrong.status_code in (400, 401) and "access-token" not in "".join(wrong.cookies.keys())
    # gradio_client without credentials cannot even read the API: refused for the missing login (a 401), not by a
    # connection error (httpx.ConnectError) or any other failure; with a wrong password its login is refused.
    with pytest.raises(AuthenticationError, match="credentials were not provided"):
        Client(auth_server.url, verbose=False)
    with pytest.raises(ValueError, match=r"^Could not login to http://127\.0\.0\.1:\d+/\.$"):  # Gradio answers 400
        Client(auth_server.url, auth=(USER, "guess"), verbose=False)


def test_start_up_swept_the_expired_upload_and_the_cut_short_write(auth_server):
    assert not (auth_server.var_dir / "uploads" / EXPIRED_UPLOAD).exists()
    assert re.search(r"sessions: removed \d+ expired consultation\(s\), 2 file\(s\)", auth_server.log_text())


def _file_status(web: httpx.Client, path: str) -> int:
    return web.get(f"/gradio_api/file={path}").status_code


def test_the_file_route_serves_no_file_outside_the_allowed_folders(web, auth_server, settings):
    var = auth_server.var_dir
    uploads, data = var / "uploads", settings.data_dir
    sample = next(data.rglob("*.jpg"))
    assert _file_status(web, str(sample)) == 200  # the dataset's images are shown as similar cases
    for target in ["/etc/passwd", str(var / "sessions.sqlite"), f"{uploads}/../sessions.sqlite",
                   f"{data}/../../knowledge/settings.py", f"{data}/../../.git/config", str(settings.repo_root / "pyproject.toml"),
                   urllib.parse.quote(f"{uploads}/../sessions.sqlite", safe=""), f"{uploads}/%2e%2e/sessions.sqlite",
                   "http://127.0.0.1:22/", "file:///etc/passwd"]:
        status = _file_status(web, target)
        assert status in (400, 403, 404), (target, status)


def _upload(web: httpx.Client, name: str, data: bytes) -> httpx.Response:
    return web.post("/gradio_api/upload", files=[("files", (name, data, "image/jpeg"))])


def test_hostile_upload_names_stay_inside_the_upload_cache(web, auth_server, tmp_path):
    marker = f"pwned-{uuid.uuid4().hex[:8]}"
    jpeg = (CORPUS / "valid_lesion.jpg").read_bytes()
    cache = (auth_server.var_dir / "gradio").resolve()
    for name in [f"../../../../tmp/{marker}.jpg", f"/tmp/{marker}.jpg", f"..\\..\\{marker}.jpg", f"{marker}/../../x.jpg",
                 f".{marker}.jpg", f"{'y' * 300}.jpg"]:
        response = _upload(web, name, jpeg)
        assert response.status_code == 200, (name, response.text)
        stored = Path(response.json()[0]).resolve()
        assert stored.is_relative_to(cache) and stored.read_bytes() == jpeg, (name, stored)
    # A part with an empty file name is a form field to Starlette, and Gradio answers 500 and drops the
    # connection (its limitation): nothing is stored and the server goes on answering new connections.
    assert _upload(web, "", jpeg).status_code in (400, 422, 500)
    assert auth_server.status("/config") == 401
    assert not list(Path("/tmp").glob(f"{marker}*")) and not list(auth_server.var_dir.glob(f"*{marker}*"))


def _call(web: httpx.Client, endpoint: str, data: list) -> str:
    """Gradio's two-step HTTP call; returns the event stream's text (``event: complete`` or ``event: error``)."""
    started = web.post(f"/gradio_api/call/{endpoint}", json={"data": data})
    assert started.status_code == 200, started.text
    event_id = started.json()["event_id"]
    return web.get(f"/gradio_api/call/{endpoint}/{event_id}").text


def _file_data(path: str) -> dict:
    return {"path": path, "meta": {"_type": "gradio.FileData"}}


def test_a_file_the_client_did_not_upload_cannot_be_fed_to_a_turn(web, auth_server, settings):
    for path in ["/etc/passwd", str(auth_server.var_dir / "sessions.sqlite"), str(settings.repo_root / "pyproject.toml"),
                 f"{auth_server.var_dir / 'gradio'}/../sessions.sqlite"]:
        stream = _call(web, "consult", ["raw-forged", "what is this?", _file_data(path), ""])
        assert "event: error" in stream and "root:" not in stream and "SQLite" not in stream, (path, stream[:300])


def test_a_raw_http_turn_with_an_uploaded_file_works_and_a_bad_one_says_why(web):
    good = _upload(web, "lesion.jpg", (CORPUS / "valid_lesion.jpg").read_bytes()).json()[0]
    stream = _call(web, "consult", ["raw-http", "What is this lesion?", _file_data(good), ""])
    assert "event: complete" in stream and "not a diagnosis" in stream
    bad = _upload(web, "notes.jpg", (CORPUS / "text_renamed.jpg").read_bytes()).json()[0]
    stream = _call(web, "consult", ["raw-http", "and this one?", _file_data(bad), ""])
    assert "event: error" in stream and "not an image format" in stream
    follow = _call(web, "consult", ["raw-http", "what should I do?", None, ""])
    assert "event: complete" in follow and '"turn": 2' in follow  # the bad upload cost the thread nothing


def test_an_upload_over_the_size_limit_is_refused_with_413(web, settings):
    response = _upload(web, "huge.jpg", b"\xff\xd8" + b"\0" * (settings.max_upload_bytes + 1024))
    assert response.status_code == 413
