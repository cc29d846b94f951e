"""The CPU classify path runs without torch (cold start), and gives the same numbers as the torch path."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from music_reclass_gui.core.errors import ModelError
from music_reclass_gui.inference import torch_zip
from music_reclass_gui.inference.heads import Head, build_head_mlp
from tests.conftest import SHARED_DATA, needs_shared_data

REPO = Path(__file__).resolve().parents[1]
SHIPPED_WEIGHTS = sorted((REPO / "models").glob("*.pt"))

CLASSIFY_AND_LIST_MODULES = """
import json, sys
from music_reclass_gui.cli import main
try:
    main(["classify", sys.argv[1], "--multi-label"])
except SystemExit as exc:
    assert not exc.code, exc.code
print(json.dumps(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))))
"""


@needs_shared_data
def test_cold_classify_on_cpu_never_imports_torch(tmp_path):
    """`music-reclass classify ONE_FILE` with the default model on a CPU: ONNX Runtime taggers, numpy front end
    and numpy head, so the 1.5-2 s torch import is not part of the first result."""
    track = SHARED_DATA / "library" / "orchestral" / "battle-epic.ogg"
    env = dict(os.environ, MUSIC_RECLASS_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(REPO))
    res = subprocess.run(
        [sys.executable, "-c", CLASSIFY_AND_LIST_MODULES, str(track)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    lines = res.stdout.strip().splitlines()
    result = json.loads(lines[0])
    assert result["genre"] and result["labels"], result
    assert json.loads(lines[-1]) == [], "torch was imported on the CPU classify path"


@needs_shared_data
def test_torch_free_path_gives_the_torch_paths_numbers(default_classifier):
    """The default CPU path (numpy front end and head, ONNX taggers: int8 ones on a CPU with VNNI) against the
    torch front end + float torch network: same genre, every genre's probability within 0.02."""
    from music_reclass_gui.inference.engine import Classifier

    tracks = sorted((SHARED_DATA / "library" / "chiptune").glob("*.ogg"))[:2]
    tracks += sorted((SHARED_DATA / "gtzan" / "clips" / "reggae").glob("*"))[:1]
    reference = Classifier(device="cpu", backend="torch", use_cache=False)
    for path in tracks:
        got = default_classifier.classify(path)
        want = reference.classify(path)
        assert got.genre == want.genre, path.name
        want_p = {p.genre: p.confidence for p in want.labels}
        assert {p.genre for p in got.labels} == set(want_p)
        for p in got.labels:
            assert abs(p.confidence - want_p[p.genre]) < 0.02, (path.name, p, want_p[p.genre])


@pytest.mark.parametrize("path", SHIPPED_WEIGHTS, ids=lambda p: p.name)
def test_torch_zip_reads_every_shipped_weights_file_as_torch_does(path):
    want = torch.load(path, map_location="cpu", weights_only=True)
    got = torch_zip.load(path)

    def same(x, y, where: str) -> int:
        if isinstance(y, torch.Tensor):
            assert isinstance(x, np.ndarray) and x.shape == tuple(y.shape), where
            assert x.dtype == y.numpy().dtype and np.array_equal(x, y.numpy()), where
            return 1
        if isinstance(y, dict):
            assert list(x) == list(y), where
            return sum(same(x[k], y[k], f"{where}/{k}") for k in y)
        if isinstance(y, (list, tuple)):
            return sum(same(a, b, where) for a, b in zip(x, y, strict=True))
        assert x == y, where
        return 0

    assert same(got, want, path.name) > 0


def test_torch_zip_refuses_pickled_code_and_garbage(tmp_path):
    code = tmp_path / "code.pt"
    torch.save({"format": "music-reclass-head", "evil": Path("/etc/passwd")}, code)
    with pytest.raises(ValueError, match="pathlib"):
        torch_zip.load(code)
    with pytest.raises(ModelError, match="code.pt"):
        Head(code)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a zip at all")
    with pytest.raises(ModelError, match="garbage.pt.*unreadable"):
        Head(garbage)
    legacy = tmp_path / "legacy.pt"
    with zipfile.ZipFile(legacy, "w") as zf:  # a zip with no torch record in it
        zf.writestr("x/other.pkl", pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="data.pkl"):
        torch_zip.load(legacy)


@pytest.mark.parametrize("name", ["gtzan.pt", "broad_head.pt"])
def test_numpy_head_equals_the_torch_mlp(name):
    path = REPO / "models" / name
    payload = torch.load(path, map_location="cpu", weights_only=True)
    net = build_head_mlp(payload["mean"].numel(), payload["hidden"], len(payload["labels"]))
    net.load_state_dict(payload["state_dict"])
    head = Head(path)
    x = np.random.default_rng(0).normal(0, 2, size=(7, head.mean.size)).astype(np.float32)
    t = (torch.from_numpy(x) - payload["mean"]) / payload["std"].clamp_min(1e-6)
    with torch.inference_mode():
        want = torch.softmax(net(t) / payload["temperature"], dim=-1).numpy()
    np.testing.assert_allclose(head.predict_proba(x), want, atol=1e-5)
    np.testing.assert_allclose(head.predict_proba(x[0]), want[0], atol=1e-5)


def test_auto_device_without_a_gpu_driver_is_the_cpu_without_torch(tmp_path):
    """On a machine that shows no GPU driver, "auto" must not pay for importing torch to find that out."""
    probe = (
        "import sys\n"
        "from music_reclass_gui.inference import device\n"
        "device.accelerator_possible = lambda: False\n"
        "d = device.pick_device('auto')\n"
        "print(d, d.type, 'torch' in sys.modules)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["cpu", "cpu", "False"]
