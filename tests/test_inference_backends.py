"""Every backend the app can pick runs the musicnn taggers faithfully: tag scores within 0.01 of the float
PyTorch model and the same top-1 genre of the default model, on real clips (a subset here for CI time;
``python benchmarks/bench_batch.py`` checks the whole library and every GTZAN clip). Plus: stale ONNX graphs
are never run, and the two taggers share one front end."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from music_reclass_gui.core.errors import ModelError
from music_reclass_gui.inference import backends
from music_reclass_gui.inference.engine import DEFAULT_MODEL, Classifier
from music_reclass_gui.inference.excerpts import decode_excerpts
from music_reclass_gui.inference.extractors import MusicnnExtractor
from music_reclass_gui.inference.registry import find_card, load_model
from tests.conftest import SHARED_DATA, needs_shared_data, tone, write_audio

TAGGERS = ("msd-musicnn", "mtt-musicnn")
FAST_BACKENDS = [b for b in backends.available_backends() if b != "torch"]  # torch is the reference
TOLERANCE = 0.01


def _clips() -> list:
    """Both musicnn reference clips, one full-length track per library folder, one GTZAN clip of every other genre."""
    lib = SHARED_DATA / "library"
    clips = sorted((SHARED_DATA / "musicnn").glob("*.mp3"))
    for folder in ("orchestral", "electronic", "chiptune", "game-misc", "fma-clips"):
        clips += sorted(p for p in (lib / folder).iterdir() if p.is_file())[:1]
    clips += [sorted(g.glob("*.wav"))[0] for g in sorted((SHARED_DATA / "gtzan" / "clips").iterdir())[::2]]
    return clips


def _extractor(name: str, backend: str) -> MusicnnExtractor:
    card = find_card(name)
    return MusicnnExtractor(name, card.path.parent, card.weights, torch.device("cpu"), backend=backend)


@pytest.fixture(scope="module")
def decoded() -> dict:
    return {p: decode_excerpts(p, 16000) for p in _clips()}


@pytest.fixture(scope="module")
def reference(decoded) -> dict:
    """Float PyTorch features of every clip, per tagger."""
    return {name: _extractor(name, "torch").extract(list(decoded.values())) for name in TAGGERS}


@needs_shared_data
@pytest.mark.slow
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_backend_is_faithful_to_float_pytorch(backend, decoded, reference):
    clips = list(decoded)
    got = {}
    for name in TAGGERS:
        ext = _extractor(name, backend)
        assert ext.runner.name == backend
        got[name] = ext.extract(list(decoded.values()))
        for clip, ref, out in zip(clips, reference[name], got[name], strict=True):
            diff = np.abs(out["tags"] - ref["tags"]).max()
            assert diff < TOLERANCE, f"{name} on {clip.name}: tag scores differ by {diff:.4f}"
    model = load_model(DEFAULT_MODEL, "cpu")
    keys = {e.name: e.key for e in model.extractors}
    for i, clip in enumerate(clips):
        ref_p = model.predict({keys[n]: reference[n][i] for n in keys}).probs
        got_p = model.predict({keys[n]: got[n][i] for n in keys}).probs
        assert model.labels[int(np.argmax(got_p))] == model.labels[int(np.argmax(ref_p))], clip.name
        assert np.abs(got_p - ref_p).max() < TOLERANCE, clip.name


def test_auto_picks_onnx_on_cpu_when_installed_else_torch():
    ext = _extractor("msd-musicnn", "auto")
    onnx = "onnx-int8" if backends.cpu_has_vnni() else "onnx"  # see the int8 test below
    assert ext.runner.name == (onnx if "onnx" in FAST_BACKENDS else "torch")


def test_stale_graph_is_never_run():
    """A graph exported from other weights: auto falls back to PyTorch, an explicit onnx is a clear error."""
    card = find_card("msd-musicnn")
    graph = backends.onnx_graph_path(card.weights)
    net = _extractor("msd-musicnn", "torch").net
    cpu = torch.device("cpu")
    runner = backends.make_runner("auto", cpu, graph, "not-these-weights", lambda: net)
    assert runner.name == "torch"
    if "onnx" in FAST_BACKENDS:
        with pytest.raises(ModelError, match="no ONNX graph exported from these weights"):
            backends.make_runner("onnx", cpu, graph, "not-these-weights", lambda: net)
    else:
        with pytest.raises(ModelError, match="needs ONNX Runtime"):
            backends.make_runner("onnx", cpu, graph, "not-these-weights", lambda: net)


def test_int8_backend_runs_the_int8_graph_and_auto_takes_it_only_with_vnni(monkeypatch):
    """onnx-int8 runs models/<stem>.int8.onnx (paired with its weights like the float graph); auto picks it on
    a CPU with VNNI (where its faithfulness was measured), the float graph elsewhere."""
    if not backends.onnx_runtime_available():
        pytest.skip("ONNX Runtime is not installed")
    card = find_card("msd-musicnn")
    int8 = backends.int8_graph_path(backends.onnx_graph_path(card.weights))
    assert int8.is_file(), f"the int8 graph {int8.name} is not shipped (tools/quantize_onnx.py writes it)"
    monkeypatch.setattr(backends, "cpu_has_vnni", lambda: True)
    runner = _extractor("msd-musicnn", "onnx-int8").runner
    assert runner.name == "onnx-int8"
    assert runner.metadata.get("quantization", "").startswith("int8")
    auto = _extractor("msd-musicnn", "auto")
    assert auto.runner.name == "onnx-int8" and auto.key.endswith(":int8")
    net = _extractor("msd-musicnn", "torch").net
    with pytest.raises(ModelError, match="no int8 graph quantised from these weights"):
        backends.make_runner(
            "onnx-int8", torch.device("cpu"), backends.onnx_graph_path(card.weights), "not-these", lambda: net
        )
    monkeypatch.setattr(backends, "cpu_has_vnni", lambda: False)
    auto = _extractor("msd-musicnn", "auto")
    assert auto.runner.name == "onnx" and not auto.key.endswith(":int8")


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ModelError, match="unknown backend 'tpu'"):
        Classifier("msd-musicnn", backend="tpu", use_cache=False)


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_onnx_backend_refuses_a_gpu(backend):
    with pytest.raises(ModelError, match="CPU only"):
        backends.make_runner(backend, torch.device("cuda"), None, "x", lambda: None)


def test_both_taggers_share_one_front_end(tmp_path, monkeypatch):
    """A model over both taggers computes the log-mel once per batch, with the same features as apart."""
    from music_reclass_gui.inference.engine import extract_features

    paths = [
        write_audio(tmp_path / f"{i}.wav", tone(8.0, 16000, 300.0 + 50 * i, seed=i), 16000) for i in range(3)
    ]
    exts = [_extractor(n, "auto") for n in TAGGERS]
    calls = []
    real = MusicnnExtractor.prepare

    def counting(self, tracks):
        calls.append(len(tracks))
        return real(self, tracks)

    monkeypatch.setattr(MusicnnExtractor, "prepare", counting)
    together = list(extract_features(paths, exts, jobs=1, batch_tracks=3))
    assert calls == [3]  # one front-end pass for both taggers
    for ext in exts:
        apart = list(extract_features(paths, [ext], jobs=1, batch_tracks=3))
        for a, b in zip(together, apart, strict=True):
            assert np.array_equal(a.features[ext.key]["tags"], b.features[ext.key]["tags"])


def test_frequency_max_rewrite_is_exact():
    """pool_frequency_max (export v2) turns ReduceMax over frequency into a padded-channel MaxPool with the
    same output, bit for bit (a 5-channel conv is padded to 16 channels and sliced back)."""
    if not backends.onnx_runtime_available():
        pytest.skip("the fast extra (onnxruntime, onnx) is not installed")
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 1, 3, 4)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w", "b"], ["y"], name="/timbral.0/Conv", kernel_shape=[3, 4]),
            helper.make_node("ReduceMax", ["y"], ["z"], name="/timbral.0/ReduceMax", axes=[3], keepdims=0),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1, 12, 96])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 5, 10])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = rng.standard_normal((2, 1, 12, 96)).astype(np.float32)

    def run(m):
        sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        return sess.run(None, {"x": x})[0]

    before = run(model)
    rewritten = backends.pool_frequency_max(onnx.load_from_string(model.SerializeToString()))
    assert "ReduceMax" not in {n.op_type for n in rewritten.graph.node}
    assert np.array_equal(run(rewritten), before)


@needs_shared_data
def test_int8_features_are_cached_apart_from_float_ones(monkeypatch):
    """The int8 graph's scores differ from float by up to 0.01: a float run must not be served int8 features
    from the cache (or the other way round), while float runs share them."""
    if not backends.onnx_runtime_available():
        pytest.skip("ONNX Runtime (the fast extra) is not installed")
    monkeypatch.setattr(
        backends, "cpu_has_vnni", lambda: True
    )  # runs here whatever the CPU: only keys matter
    track = sorted((SHARED_DATA / "library" / "chiptune").glob("*.ogg"))[0]
    int8 = Classifier(device="cpu", backend="onnx-int8").classify(track)
    assert not int8.cached
    float_clf = Classifier(device="cpu", backend="onnx")
    first = float_clf.classify(track)
    assert not first.cached, "a float run was served the int8 run's cached features"
    assert float_clf.classify(track).cached
    assert first.genre == int8.genre


def test_int8_is_refused_on_a_cpu_without_vnni(monkeypatch):
    """Where int8 sums can saturate (AVX2 without VNNI), the int8 graph is neither offered nor run."""
    monkeypatch.setattr(backends, "cpu_has_vnni", lambda: False)
    assert "onnx-int8" not in backends.available_backends()
    with pytest.raises(ModelError, match="needs a CPU with VNNI"):
        backends.make_runner("onnx-int8", torch.device("cpu"), None, "x", lambda: None)
