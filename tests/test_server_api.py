"""The JSON API on a real uvicorn server (free port) with a real HTTP client: auth, library paths, classify
(path and upload), limits, batch jobs with cancel and a full queue, review/apply/undo, metrics."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import mutagen
import pytest

from music_reclass_gui.inference.engine import DEFAULT_MODEL
from music_reclass_gui.server.config import ServerConfig
from tests.conftest import tone
from tests.conftest import write_audio as _write_audio
from tests.server_helpers import running_server, wait_job

TOKEN = "s3cret-token"
MAX_UPLOAD = 1_000_000


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    lib = tmp_path_factory.mktemp("library")
    write_audio(lib / "one.wav", tone(6, 22050, 330.0), 22050)
    write_audio(lib / "sub" / "two.flac", tone(6, 22050, 550.0, seed=1), 22050)
    (lib / "broken.mp3").write_bytes(b"this is not audio at all\n" * 40)
    return lib


@pytest.fixture(scope="module")
def outside(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("outside")
    write_audio(out / "secret.wav", tone(3, 22050), 22050)
    return out


@pytest.fixture(scope="module")
def server(library, tmp_path_factory, default_classifier):
    config = ServerConfig(
        libraries=[library],
        token=TOKEN,
        classifier=default_classifier,
        device="cpu",
        max_upload_bytes=MAX_UPLOAD,
        max_queued_jobs=1,
        upload_dir=tmp_path_factory.mktemp("uploads"),
    )
    with running_server(config) as (url, app):
        yield url, app


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server[0], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120) as c:
        yield c


def write_audio(path: Path, samples, sr: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return _write_audio(path, samples, sr)


def metric(client: httpx.Client, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{") and line.split(" ")[0] == name:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


# --- auth, health, models ------------------------------------------------------------------------------


def test_every_api_call_needs_the_token(server):
    url = server[0]
    calls = [
        ("GET", "/api/health", None),
        ("GET", "/api/models", None),
        ("GET", "/metrics", None),
        ("GET", "/api/review", None),
        ("GET", "/api/jobs/1", None),
        ("POST", "/api/classify", {"audio_path": "one.wav"}),
        ("POST", "/api/batch", {"audio_dir": "."}),
    ]
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        for method, path, body in calls:
            r = httpx.request(method, url + path, json=body, headers=headers, timeout=30)
            assert r.status_code == 401, (method, path, headers, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
    # the page itself loads without a token (it asks for one); the API behind it does not
    assert httpx.get(url + "/", timeout=30).status_code == 200


def test_health_and_models(client, library):
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["auth"] is True
    assert health["libraries"] == [str(library.resolve())]
    models = client.get("/api/models").json()
    names = [m["name"] for m in models["models"]]
    assert models["default"] == DEFAULT_MODEL and {DEFAULT_MODEL, "msd-musicnn", "gtzan"} <= set(names)
    msd = next(m for m in models["models"] if m["name"] == "msd-musicnn")
    assert "jazz" in msd["labels"] and msd["licence"]


# --- classify ------------------------------------------------------------------------------------------


def test_classify_a_library_file_equals_the_offline_result(client, library, default_classifier):
    offline = default_classifier.classify(library / "one.wav")
    r = client.post("/api/classify", json={"audio_path": "one.wav", "top_k": 2})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["audio_path"] == str((library / "one.wav").resolve())
    assert data["genre"] == offline.genre and data["model"] == DEFAULT_MODEL
    assert data["confidence"] == pytest.approx(offline.confidence, abs=1e-4)
    assert [p["genre"] for p in data["top_predictions"]] == [p.genre for p in offline.top_predictions[:2]]
    assert data["processing_time"] >= 0
    health = client.get("/api/health").json()  # the loaded model says what runs its taggers
    assert health["backend"] == default_classifier.backend_description and health["device"] == "CPU"


def test_second_classify_comes_from_the_cache_and_is_counted(client, library):
    client.post("/api/classify", json={"audio_path": str(library / "sub" / "two.flac")})
    hits = metric(client, "music_reclass_cache_hits_total")
    tracks = metric(client, "music_reclass_tracks_classified_total")
    r = client.post("/api/classify", json={"audio_path": str(library / "sub" / "two.flac")})
    assert r.status_code == 200 and r.json()["cached"] is True
    assert metric(client, "music_reclass_cache_hits_total") == hits + 1
    assert metric(client, "music_reclass_tracks_classified_total") == tracks + 1


def test_upload_is_classified_and_not_kept(client, library, server):
    data = (library / "one.wav").read_bytes()
    r = client.post("/api/classify", files={"file": ("My Song.wav", data, "audio/wav")}, data={"top_k": "1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["audio_path"] == "My Song.wav" and len(body["top_predictions"]) == 1
    uploads = server[1].state.server.upload_dir
    assert not any(uploads.rglob("My Song.wav"))  # the plain classify API keeps nothing


def test_bad_audio_is_422_with_the_clis_message(client, library, default_classifier):
    (failure,) = list(default_classifier.classify_many([library / "broken.mp3"]))  # what `classify` prints
    errors = metric(client, 'music_reclass_errors_total{reason="decode"}')
    r = client.post("/api/classify", json={"audio_path": "broken.mp3"})
    assert r.status_code == 422
    assert r.json()["error"] == failure.to_json()["error"]
    assert "not an audio file" in r.json()["detail"]
    assert metric(client, 'music_reclass_errors_total{reason="decode"}') == errors + 1
    # an upload names the uploaded file, not the server's temporary copy
    r = client.post("/api/classify", files={"file": ("notes.mp3", b"just text\n" * 50)})
    assert r.status_code == 422 and r.json()["error"].startswith("notes.mp3: not an audio file")


def test_upload_over_the_limit_is_413(client):
    big = b"\0" * (MAX_UPLOAD + 10)
    r = client.post("/api/classify", files={"file": ("big.wav", big)})
    assert r.status_code == 413 and "limit" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit is enforced while the body arrives
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n'
        for _ in range(20):
            yield b"\0" * 100_000

    r = client.post(
        "/api/classify", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert r.status_code == 413


@pytest.mark.parametrize(
    "given",
    [
        "../outside/secret.wav",
        "sub/../../outside/secret.wav",
        "/etc/passwd",
        "OUTSIDE",
        "link.wav",
        "linkdir/secret.wav",
    ],
)
def test_paths_outside_the_libraries_are_403(client, library, outside, given):
    if not (library / "link.wav").exists():
        os.symlink(outside / "secret.wav", library / "link.wav")
        os.symlink(outside, library / "linkdir")
    given = given.replace("OUTSIDE", str(outside / "secret.wav"))
    given = given.replace("../outside", os.path.relpath(outside, library))
    r = client.post("/api/classify", json={"audio_path": given})
    assert r.status_code == 403, r.text
    assert "outside the served libraries" in r.json()["detail"]
    r = client.post("/api/batch", json={"audio_dir": str(outside)})
    assert r.status_code == 403
    r = client.post("/api/batch", json={"audio_dir": "linkdir"})
    assert r.status_code == 403


def test_missing_file_is_404_and_bad_requests_are_422(client):
    assert client.post("/api/classify", json={"audio_path": "nope.wav"}).status_code == 404
    assert client.post("/api/classify", json={"audio_path": "one.wav", "top_k": 0}).status_code == 422
    assert client.post("/api/classify", json={"audio_path": "one.wav", "colour": "red"}).status_code == 422
    assert (
        client.post(
            "/api/classify", content=b"{not json", headers={"Content-Type": "application/json"}
        ).status_code
        == 422
    )
    assert (
        client.post("/api/classify", json={"audio_path": "one.wav", "model": "no-such-model"}).status_code
        == 404
    )
    assert client.get("/api/jobs/does-not-exist").status_code == 404
    assert client.delete("/api/jobs/does-not-exist").status_code == 404


# --- batch jobs ----------------------------------------------------------------------------------------


def test_batch_job_reports_progress_then_the_summary(client, library, outside):
    folder = library / "batch"
    write_audio(folder / "one.wav", tone(6, 22050, 330.0), 22050)
    write_audio(folder / "two.flac", tone(6, 22050, 550.0, seed=1), 22050)
    (folder / "broken.mp3").write_bytes((library / "broken.mp3").read_bytes())
    os.symlink(outside / "secret.wav", folder / "escape.wav")  # followed by the scan, refused by the server
    r = client.post("/api/batch", json={"audio_dir": "batch"})
    assert r.status_code == 202 and set(r.json()) == {"job", "state"}
    seen = client.get(f"/api/jobs/{r.json()['job']}").json()
    assert {"total_files", "processed", "failed", "results", "errors", "state"} <= set(seen)
    job = wait_job(client, r.json()["job"])
    assert job["state"] == "done"
    assert job["total_files"] == 3 and job["processed"] == 2 and job["failed"] == 2
    assert sorted(Path(x["audio_path"]).name for x in job["results"]) == ["one.wav", "two.flac"]
    errors = {Path(e["audio_path"]).name: e["error"] for e in job["errors"]}
    assert "not an audio file" in errors["broken.mp3"]
    assert "outside the served libraries" in errors["escape.wav"]
    assert "tags_written" not in job  # nothing written unless asked
    assert "genre" not in (mutagen.File(folder / "two.flac").tags or {})


def test_batch_write_tags_is_journaled_and_undoable(client, tmp_path_factory, library, default_classifier):
    folder = library / "to-tag"
    write_audio(folder / "t.flac", tone(4, 22050, 700.0, seed=3), 22050)
    r = client.post("/api/batch", json={"audio_dir": "to-tag", "write_tags": True})
    job = wait_job(client, r.json()["job"])
    written = job["tags_written"]
    assert written["written"] == 1 and written["failed"] == [] and written["op_id"]
    expected = job["results"][0]["genre"]
    assert mutagen.File(folder / "t.flac")["genre"] == [expected]
    r = client.post("/api/review/undo", json={"op_id": written["op_id"]})
    assert r.status_code == 200, r.text
    assert "genre" not in (mutagen.File(folder / "t.flac").tags or {})


def test_a_running_job_can_be_cancelled_and_a_full_queue_is_503(client, library):
    folder = library / "many"
    for i in range(8):
        write_audio(folder / f"m{i}.wav", tone(8, 22050, 200.0 + 50 * i, seed=10 + i), 22050)
    first = client.post("/api/batch", json={"audio_dir": "many"}).json()["job"]
    second = client.post("/api/batch", json={"audio_dir": "many"})
    assert second.status_code == 202  # waits behind the first (queue of 1)
    third = client.post("/api/batch", json={"audio_dir": "many"})
    assert third.status_code == 503 and int(third.headers["retry-after"]) >= 1
    assert metric(client, "music_reclass_queue_length") == 1
    r = client.delete(f"/api/jobs/{second.json()['job']}")
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    while client.get(f"/api/jobs/{first}").json()["state"] == "queued":
        time.sleep(0.05)
    assert client.delete(f"/api/jobs/{first}").status_code == 200
    job = wait_job(client, first)
    assert job["state"] == "cancelled" and job["processed"] < 8
    assert wait_job(client, second.json()["job"])["processed"] == 0


# --- review, apply, undo (what the web page does) --------------------------------------------------------


def test_review_open_decide_apply_undo(client, library):
    folder = library / "review"
    a = write_audio(folder / "a.flac", tone(4, 22050, 440.0, seed=5), 22050)
    b = write_audio(folder / "b.wav", tone(4, 22050, 880.0, seed=6), 22050)
    client.post("/api/review/clear")
    r = client.post("/api/review/open", json={"folder": "review"})
    assert r.status_code == 200 and r.json()["added"] == 2
    wait_job(client, r.json()["job"])
    items = {Path(i["path"]).name: i for i in client.get("/api/review").json()["items"]}
    assert items["a.flac"]["status"] == "classified" and len(items["a.flac"]["predictions"]) == 3
    before = {k: metric(client, f"music_reclass_review_{k}_total") for k in ("accepts", "edits", "rejects")}
    assert (
        client.post(
            "/api/review/decide", json={"path": str(a), "action": "edit", "genres": ["Krautrock"]}
        ).status_code
        == 200
    )
    assert (
        client.post("/api/review/decide", json={"path": str(b), "action": "reject"}).json()["status"]
        == "rejected"
    )
    assert (
        client.post("/api/review/decide", json={"path": str(b), "action": "accept"}).json()["status"]
        == "accepted"
    )
    assert (
        client.post("/api/review/decide", json={"path": "/etc/passwd", "action": "accept"}).status_code == 403
    )
    after = {k: metric(client, f"music_reclass_review_{k}_total") for k in before}
    assert after == {
        "accepts": before["accepts"] + 1,
        "edits": before["edits"] + 1,
        "rejects": before["rejects"] + 1,
    }
    applied = client.post("/api/review/apply").json()
    assert applied["written"] == 2 and applied["op_id"]
    assert mutagen.File(a)["genre"] == ["Krautrock"]
    assert str(mutagen.File(b)["TCON"]) == items["b.wav"]["proposed"][0]
    status = {Path(i["path"]).name: i["status"] for i in client.get("/api/review").json()["items"]}
    assert status == {"a.flac": "written", "b.wav": "written"}
    undone = client.post("/api/review/undo").json()
    assert undone["undone"] == applied["op_id"] and undone["restored"] == 2
    assert "genre" not in (mutagen.File(a).tags or {}) and "TCON" not in (mutagen.File(b).tags or {})
    r = client.post("/api/review/undo")
    assert r.status_code == 409 and "cannot undo" in r.json()["detail"]


def test_review_upload_keeps_the_files_for_apply(client, library, server):
    client.post("/api/review/clear")
    data = (library / "one.wav").read_bytes()
    files = [
        ("file", ("../../evil name.wav", data)),
        ("file", ("evil name.wav", data)),
        ("file", ("n.txt", b"hi")),
    ]
    r = client.post("/api/review/upload", files=files)
    assert r.status_code == 200, r.text
    out = r.json()
    uploads = server[1].state.server.upload_dir
    saved = [Path(p) for p in out["saved"]]
    assert [p.name for p in saved] == ["evil name.wav", "evil name (2).wav", "n.txt"]
    assert all(p.parent.parent == uploads for p in saved)  # names cannot climb out of the upload folder
    assert out["added"] == 2 and out["not_audio"] == ["n.txt"]
    wait_job(client, out["job"])
    items = client.get("/api/review").json()["items"]
    assert sorted(i["status"] for i in items) == ["classified", "classified"]
    client.post("/api/review/clear")


def test_metrics_are_prometheus_text(client):
    r = client.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    for name in (
        "music_reclass_tracks_classified_total",
        "music_reclass_classification_seconds_bucket",
        "music_reclass_classification_seconds_count",
        "music_reclass_errors_total",
        "music_reclass_cache_hits_total",
        "music_reclass_review_accepts_total",
        "music_reclass_queue_length",
    ):
        assert name in text
    assert "# TYPE music_reclass_classification_seconds histogram" in text
    assert 'music_reclass_classification_seconds_bucket{le="+Inf"}' in text
    stats = client.get("/api/stats").json()
    assert stats["totals"]["tracks_classified"] >= 1 and len(stats["timeline"]) == 60


# --- the `serve` command -------------------------------------------------------------------------------


def test_serve_refuses_a_public_address_without_a_token(capsys, library):
    from music_reclass_gui.cli import main

    assert main(["serve", "--host", "0.0.0.0", "--library", str(library)]) == 2
    err = capsys.readouterr().err
    assert "refusing to listen on 0.0.0.0 without --token" in err
    assert main(["serve", "--library", str(library / "nope")]) == 3  # cannot run: the folder is unusable
    assert "not a folder" in capsys.readouterr().err


def test_serve_command_serves_the_api(library, tmp_path):
    import subprocess
    import sys

    from music_reclass_gui.server.background import free_port

    port = free_port()
    env = {**os.environ, "MUSIC_RECLASS_TOKEN": "from-env"}
    cmd = [
        sys.executable,
        "-m",
        "music_reclass_gui.cli",
        "serve",
        "--port",
        str(port),
        "--library",
        str(library),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(
                    f"http://127.0.0.1:{port}/api/health", headers={"Authorization": "Bearer from-env"}
                )
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, (
                    proc.stdout.read() if proc.stdout else ""
                )
                time.sleep(0.2)
        assert r.status_code == 200 and r.json()["libraries"] == [str(library.resolve())]
        assert httpx.get(f"http://127.0.0.1:{port}/api/health").status_code == 401
    finally:
        proc.terminate()
        proc.wait(20)


def test_multi_label_model_returns_every_genres_probability(client, library):
    r = client.post("/api/classify", json={"audio_path": "one.wav", "model": "broad"})
    assert r.status_code == 200, r.text
    labels = r.json()["labels"]
    assert labels and {"genre", "probability"} == set(labels[0])
    assert labels == sorted(labels, key=lambda x: -x["probability"])
