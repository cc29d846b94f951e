"""musicnn ported to PyTorch: checkpoint reader, weights, front end, patching, and the published top-10."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import librosa
import numpy as np
import pytest
import torch

from music_reclass_gui.core.errors import ModelError
from music_reclass_gui.inference.frontend import (
    HOP_LENGTH,
    PATCH_FRAMES,
    log_mel,
    patch_starts,
    split_patches,
)
from music_reclass_gui.inference.frontend_torch import LogMelFrontend
from music_reclass_gui.inference.networks.musicnn import MSD_LABELS, MTT_LABELS, MusicnnTagger, load_musicnn
from tests.conftest import SHARED_DATA, needs_shared_data

REPO = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO / "models"
REFERENCE_CLIP = SHARED_DATA / "musicnn" / "joram-moments_of_clarity-08-solipsism-59-88.mp3"
# musicnn README, MTT_musicnn, mean over 3 s patches, most likely first.
PUBLISHED_MTT_TOP10 = [
    "techno",
    "electronic",
    "synth",
    "fast",
    "beat",
    "drums",
    "no vocals",
    "no vocal",
    "dance",
    "ambient",
]


def _load_tool(name: str):
    """Import a script from tools/ by file path (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"_tools_{name}", REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


tfc = _load_tool("tf_checkpoint")


# ------------------------------------------------------------------ (a) checkpoint reader + weights
def test_reader_parses_real_tf_index_table():
    """A real TF-written .index (musicnn MTT): entries tile the 9,465,596-byte data file exactly."""
    table = tfc.read_table((REPO / "tests" / "data" / "musicnn_mtt_checkpoint.index").read_bytes())
    assert table[0][0] == b""  # bundle header comes first
    entries = {k.decode(): tfc.parse_entry(k.decode(), v) for k, v in table[1:]}
    # 64 variables (42 trainable + 22 BN moving stats) + 2 Adam slots per trainable one + beta1/2_power
    assert len(entries) == 64 + 2 * 42 + 2
    assert entries["conv2d/kernel"].shape == (7, 38, 1, 204)
    assert entries["conv2d_5/kernel"].shape == (7, 561, 1, 64)
    assert entries["dense/kernel"].shape == (1506, 200)
    assert entries["dense_1/bias"].shape == (50,)
    assert all(e.dtype == 1 for e in entries.values())  # DT_FLOAT
    pos = 0
    for e in sorted(entries.values(), key=lambda e: e.offset):
        assert e.offset == pos and e.size == 4 * int(np.prod(e.shape, dtype=np.int64))
        pos += e.size
    assert pos == 9465596


def test_reader_roundtrip_and_corruption(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {
        "a/kernel": rng.standard_normal((3, 4, 1, 2)).astype(np.float32),
        "a/bias": np.arange(2, dtype=np.float32),
        "b/scalar": np.array(7.5, dtype=np.float32),
        "c/ints": np.arange(-3, 3, dtype=np.int64),
        "longer/name/sharing/prefix": np.ones(5, dtype=np.float64),
    }
    tfc.write_checkpoint(tmp_path / "m.ckpt", tensors)
    ckpt = tfc.Checkpoint(tmp_path / "m.ckpt")
    assert ckpt.names() == sorted(tensors)
    for name, arr in tensors.items():
        got = ckpt.tensor(name)
        assert got.dtype == arr.dtype and got.shape == arr.shape
        np.testing.assert_array_equal(got, arr)
    data = tmp_path / "m.ckpt.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[ckpt.entries["a/kernel"].offset] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(tfc.CheckpointError, match="a/kernel.*crc"):
        tfc.Checkpoint(tmp_path / "m.ckpt").tensor("a/kernel")
    (tmp_path / "bad.index").write_bytes(b"not a table" * 10)
    with pytest.raises(tfc.CheckpointError, match="magic"):
        tfc.Checkpoint(tmp_path / "bad")


@pytest.mark.parametrize("name, labels", [("mtt-musicnn", MTT_LABELS), ("msd-musicnn", MSD_LABELS)])
def test_committed_weights_load_with_cards(name, labels):
    model = load_musicnn(name, MODELS_DIR, "cpu")
    assert not model.training
    assert model.labels == labels and len(labels) == 50
    assert sum(p.numel() for p in model.parameters()) == 787159  # musicnn: ~790k
    card = json.loads((MODELS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    assert card["name"] == name and card["kind"] == "musicnn" and card["licence"] == "ISC"
    assert card["labels"] == labels and (MODELS_DIR / card["weights"]).is_file()
    assert "Permission to use, copy" in (MODELS_DIR / "LICENSE-musicnn.txt").read_text(encoding="utf-8")


def test_load_errors_name_the_problem(tmp_path):
    with pytest.raises(ModelError, match="unknown musicnn model"):
        load_musicnn("gtzan-musicnn", MODELS_DIR)
    with pytest.raises(ModelError, match="mtt_musicnn.pt"):
        load_musicnn("mtt-musicnn", tmp_path)
    (tmp_path / "mtt_musicnn.pt").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="mtt_musicnn.pt"):
        load_musicnn("mtt-musicnn", tmp_path)


# ------------------------------------------------------------------ (d) patching rule
def test_patch_rule_every_non_overlapping_patch_from_start():
    # 30 s at 16 kHz -> 1 + 480000 // 256 = 1876 frames -> 10 patches, last starts at 1683.
    assert patch_starts(1876) == list(range(0, 1684, 187))
    assert patch_starts(186) == [] and patch_starts(187) == [0] and patch_starts(374) == [0, 187]
    mel = torch.arange(1000 * 96, dtype=torch.float32).reshape(1000, 96)
    patches = split_patches(mel)
    assert patches.shape == (5, PATCH_FRAMES, 96)
    for i in range(5):
        assert torch.equal(patches[i], mel[i * 187 : (i + 1) * 187])
    short = split_patches(mel[:100])  # shorter than a patch: repeat-padded, as musicnn's training did
    assert short.shape == (1, PATCH_FRAMES, 96)
    assert torch.equal(short[0, 100:187], mel[:87])
    # the numpy path (CPU, no torch) cuts the same patches
    assert np.array_equal(split_patches(mel.numpy()), patches.numpy())
    assert np.array_equal(split_patches(mel[:100].numpy()), short.numpy())


@pytest.fixture(scope="module")
def mtt() -> MusicnnTagger:
    torch.manual_seed(0)
    return load_musicnn("mtt-musicnn", MODELS_DIR, "cpu")


def test_tag_waveform_runs_each_patch_of_a_short_clip(mtt):
    rng = np.random.default_rng(1)
    seconds = 10.0  # 1 + 160000 // 256 = 626 frames -> 3 full patches, tail of 65 frames dropped
    wave = torch.from_numpy((0.1 * rng.standard_normal(int(seconds * 16000))).astype(np.float32))
    tags, emb = mtt.tag_waveform(wave)
    assert tags.shape == (3, 50) and emb.shape == (3, 200)
    assert ((tags > 0) & (tags < 1)).all()
    mel = mtt.frontend(wave.unsqueeze(0))[0]
    assert mel.shape == (1 + wave.numel() // HOP_LENGTH, 96)
    with torch.inference_mode():
        direct_tags, direct_emb = mtt(torch.stack([mel[s : s + 187] for s in (0, 187, 374)]))
    torch.testing.assert_close(tags, direct_tags, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(emb, direct_emb, rtol=1e-5, atol=1e-5)
    tiny_tags, _ = mtt.tag_waveform(wave[:8000])  # 0.5 s: one repeat-padded patch, no crash
    assert tiny_tags.shape == (1, 50)
    with pytest.raises(ValueError):
        mtt.tag_waveform(torch.zeros(0))


def test_eval_fast_path_equals_literal_musicnn_blocks(mtt):
    """Eval pools before ReLU+BN (max, or min where the BN scale is negative); it must equal the literal order."""
    negative = sum(int((b.bn.weight < 0).sum()) for b in (*mtt.timbral, *mtt.temporal))
    assert negative > 0  # the min branch is really exercised by the shipped weights
    x = 2.0 * torch.rand(4, PATCH_FRAMES, 96)  # log-mel range
    blocks = [*mtt.timbral, *mtt.temporal]
    with torch.inference_mode():
        fast_tags, fast_emb = mtt(x)
        try:
            for b in blocks:
                b.training = True  # literal conv -> ReLU -> BN -> max; the BN itself stays in eval
            slow_tags, slow_emb = mtt(x)
        finally:
            for b in blocks:
                b.training = False
    torch.testing.assert_close(fast_tags, slow_tags, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fast_emb, slow_emb, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ real clip: (e), (b), (c)
@pytest.fixture(scope="module")
def reference_wave() -> np.ndarray:
    wave, _ = librosa.load(REFERENCE_CLIP, sr=16000)  # what musicnn's extractor does
    return wave


def _top10(model: MusicnnTagger, wave: np.ndarray) -> list[tuple[str, float]]:
    tags, emb = model.tag_waveform(torch.from_numpy(wave))
    assert emb.shape == (tags.shape[0], 200)
    mean = tags.mean(dim=0)
    return [(model.labels[i], float(mean[i])) for i in torch.argsort(mean, descending=True)[:10]]


@needs_shared_data
@pytest.mark.parametrize("frontend", ["numpy", "torch"])
def test_frontend_matches_librosa_on_real_clip(reference_wave, frontend):
    """Both front ends (numpy on CPUs, torch on GPUs) compute musicnn's log-mel as librosa does."""
    ref = librosa.feature.melspectrogram(
        y=reference_wave, sr=16000, n_fft=512, hop_length=256, n_mels=96, pad_mode="reflect"
    ).T
    ref = np.log10(1 + 10000 * ref)
    if frontend == "numpy":
        got = log_mel(reference_wave)[0]
    else:
        got = LogMelFrontend()(torch.from_numpy(reference_wave))[0].numpy()
    assert got.shape == ref.shape == (1 + reference_wave.size // 256, 96)
    np.testing.assert_allclose(got, ref, rtol=0, atol=5e-5)


@needs_shared_data
@pytest.mark.slow
def test_mtt_reference_top10_equals_published(mtt, reference_wave):
    assert [label for label, _ in _top10(mtt, reference_wave)] == PUBLISHED_MTT_TOP10


@needs_shared_data
@pytest.mark.slow
def test_second_published_clip_muddy_waters(mtt):
    """musicnn README: top_tags('TRWJAZW128F42760DD_test.mp3') -> ['guitar', 'piano', 'fast'] (MTT model)."""
    wave, _ = librosa.load(SHARED_DATA / "musicnn" / "TRWJAZW128F42760DD_test.mp3", sr=16000)
    assert [label for label, _ in _top10(mtt, wave)[:3]] == ["guitar", "piano", "fast"]
    msd = load_musicnn("msd-musicnn", MODELS_DIR, "cpu")
    assert _top10(msd, wave)[0][0] == "blues"  # a live Muddy Waters excerpt


@needs_shared_data
@pytest.mark.slow
def test_mtt_reference_top10_through_app_decoder(mtt):
    from music_reclass_gui.core.audio import load_audio

    wave = load_audio(REFERENCE_CLIP, 16000)
    assert [label for label, _ in _top10(mtt, wave)] == PUBLISHED_MTT_TOP10


@needs_shared_data
@pytest.mark.slow
def test_msd_reference_clip_is_electronic(reference_wave):
    msd = load_musicnn("msd-musicnn", MODELS_DIR, "cpu")
    top = _top10(msd, reference_wave)
    assert top[0][0] == "electronic"
    assert {"electronica", "ambient", "electro", "House", "dance", "chillout"} & {
        label for label, _ in top[:6]
    }
    assert "Hip-Hop" not in [label for label, _ in top[:5]] and "country" not in [
        label for label, _ in top[:5]
    ]


@pytest.mark.parametrize(("sr", "n_fft", "n_mels"), [(16000, 512, 96), (22050, 2048, 128)])
def test_mel_filters_are_librosas(sr, n_fft, n_mels):
    """The front end's own Slaney mel filters (no librosa import when classifying) equal librosa's."""
    from music_reclass_gui.inference.frontend import slaney_mel_filters

    ours = slaney_mel_filters(sr, n_fft, n_mels)
    assert ours.dtype == np.float32
    assert np.allclose(ours, librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels), rtol=1e-6, atol=1e-8)
