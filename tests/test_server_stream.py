"""Real-time classification: WS /api/stream on a real server with a real websockets client, and the `listen`
command; the rolling estimate and the final whole-stream result (which must equal the offline one)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import soundfile as sf
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from music_reclass_gui.cli import main
from music_reclass_gui.server.config import ServerConfig
from tests.conftest import SHARED_DATA, needs_shared_data, tone, write_audio
from tests.server_helpers import running_server

TOKEN = "stream-token"


@pytest.fixture(scope="module")
def server(tmp_path_factory, default_classifier):
    config = ServerConfig(
        token=TOKEN, classifier=default_classifier, device="cpu", upload_dir=tmp_path_factory.mktemp("up")
    )
    with running_server(config) as (url, app):
        yield url.replace("http://", "ws://") + "/api/stream", app


def stream_file(url: str, path, fmt: str = "f32le", chunk_s: float = 0.5, stereo: bool = False, **extra):
    """Send a file's samples (as the file decoder reads them) as PCM; return (messages, ready)."""
    data, rate = sf.read(path, dtype="int16" if fmt == "s16le" else "float32", always_2d=True)
    if stereo:
        data = np.repeat(data[:, :1], 2, axis=1)
    header = {"sample_rate": rate, "format": fmt, "channels": data.shape[1], "token": TOKEN, **extra}
    step = int(chunk_s * rate)
    with connect(url, max_size=None, open_timeout=30) as ws:
        ws.send(json.dumps(header))
        ready = json.loads(ws.recv(timeout=60))
        out = []
        for i in range(0, data.shape[0], step):
            ws.send(data[i : i + step].astype("<i2" if fmt == "s16le" else "<f4").tobytes())
        ws.send(json.dumps({"end": True}))
        while True:
            msg = json.loads(ws.recv(timeout=120))
            out.append(msg)
            if msg.get("final") or "error" in msg:
                break
    return out, ready


def check_against_offline(messages, offline, seconds: float, hop: float = 3.0) -> None:
    updates, final = messages[:-1], messages[-1]
    assert final["final"] is True and final["truncated"] is False
    assert final["genre"] == offline.genre
    assert final["confidence"] == pytest.approx(offline.confidence, abs=1e-4)
    assert [p["genre"] for p in final["top_predictions"]] == [p.genre for p in offline.top_predictions]
    assert final["t"] == pytest.approx(seconds, abs=0.01)
    times = [u["t"] for u in updates]
    assert times == pytest.approx([hop * (i + 1) for i in range(int(seconds // hop))])
    for u in updates:
        assert set(u) >= {"t", "genre", "confidence", "top_predictions", "window"}
        assert 0 <= u["window"][0] < u["window"][1] == u["t"]
        assert u["window"][1] - u["window"][0] <= 15.0 + 1e-6  # the rolling window


def test_generated_audio_stream_stereo_s16le_equals_offline(server, tmp_path, default_classifier):
    path = write_audio(tmp_path / "gen.wav", tone(12.5, 22050, 300.0, seed=4), 22050)
    stereo = tmp_path / "stereo.wav"
    data, rate = sf.read(path, dtype="int16")
    sf.write(stereo, np.stack([data, data], axis=1), rate, subtype="PCM_16")
    offline = default_classifier.classify(stereo)
    messages, ready = stream_file(server[0], stereo, fmt="s16le", chunk_s=0.37)
    assert ready["ready"] is True and ready["channels"] == 2 and ready["hop_s"] == 3.0
    check_against_offline(messages, offline, 12.5)


@needs_shared_data
def test_real_gtzan_clip_stream_equals_offline(server, default_classifier):
    clip = SHARED_DATA / "gtzan" / "clips" / "jazz" / "jazz.00000.wav"
    offline = default_classifier.classify(clip)
    messages, _ = stream_file(server[0], clip, fmt="f32le", chunk_s=1.0)
    check_against_offline(messages, offline, sf.info(clip).duration)
    assert messages[-1]["genre"] == offline.genre  # the default model's own answer, whichever it is
    late = [m for m in messages[:-1] if m["t"] >= 15]
    assert all(m["window"][1] - m["window"][0] == pytest.approx(15.0) for m in late)


def test_stream_refuses_a_wrong_token_and_a_bad_header(server):
    with connect(server[0]) as ws:
        ws.send(json.dumps({"sample_rate": 44100, "format": "f32le", "token": "nope"}))
        assert "token" in json.loads(ws.recv(timeout=30))["error"]
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
        assert closed.value.rcvd.code == 1008
    for header, words in (
        ({"sample_rate": 44100, "format": "mp3"}, "format"),
        ({"sample_rate": "fast"}, "sample_rate"),
        ({"sample_rate": 44100, "channels": 0}, "channels"),
        ({"sample_rate": 44100, "window_s": 100}, "window_s"),
    ):
        with connect(server[0]) as ws:
            ws.send(json.dumps({**header, "token": TOKEN}))
            assert words in json.loads(ws.recv(timeout=30))["error"]
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=30)
            assert closed.value.rcvd.code == 1003


def test_listen_prints_updates_then_the_offline_result(tmp_path, capsys, default_classifier):
    path = write_audio(tmp_path / "song.wav", tone(9.2, 22050, 500.0, seed=8), 22050)
    offline = default_classifier.classify(path)
    assert main(["listen", str(path), "--realtime", "off", "--json", "--device", "cpu"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["t"] for x in lines[:-1]] == [3.0, 6.0, 9.0]
    assert lines[-1]["final"] is True and lines[-1]["genre"] == offline.genre
    assert lines[-1]["confidence"] == pytest.approx(offline.confidence, abs=1e-4)


def test_listen_plays_in_real_time_at_the_given_speed(tmp_path, capsys):
    path = write_audio(tmp_path / "song.flac", tone(6.0, 22050, 500.0, seed=9), 22050)
    t0 = time.monotonic()
    assert main(["listen", str(path), "--speed", "4", "--hop", "3", "--device", "cpu"]) == 0
    assert time.monotonic() - t0 >= 6.0 / 4 - 0.05  # 6 s of audio at 4x takes at least 1.5 s
    out = capsys.readouterr().out.splitlines()
    assert out[0].lstrip().startswith("3.0 s") and out[-1].startswith("final")


def test_listen_explains_bad_input(tmp_path, capsys):
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    assert main(["listen", str(bad), "--realtime", "off", "--device", "cpu"]) == 1
    assert "notes.wav" in capsys.readouterr().err
    assert main(["listen", str(bad), "--window", "5"]) == 2
    assert "--window" in capsys.readouterr().err


def test_listen_names_a_missing_sound_card_input(capsys):
    assert main(["listen", "--input", "no-such-card-42", "--device", "cpu"]) == 3  # cannot run
    err = capsys.readouterr().err
    assert "--input" in err and ("no-such-card-42" in err or "sounddevice" in err)
