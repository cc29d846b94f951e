"""The measurement-only port of musicnn's VGG taggers (docs/musicnn-vgg.md): converter + network against a
numpy re-statement of the TF1 graph (NHWC, 'same' convs, 'valid' max-pools, TF's flatten order)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from music_reclass_gui.inference.networks.musicnn_labels import MTT_LABELS
from music_reclass_gui.inference.networks.musicnn_vgg import EMBEDDING_DIM, POOLS, MusicnnVgg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))  # the converter imports its neighbours as a script does

import convert_musicnn_vgg as conv  # noqa: E402
import tf_checkpoint as tfc  # noqa: E402

EPS = 1e-3


def _fake_checkpoint(rng: np.random.Generator) -> dict[str, np.ndarray]:
    t: dict[str, np.ndarray] = {}

    def bn(name: str, c: int) -> None:
        t[f"{name}/gamma"] = rng.uniform(0.5, 1.5, c).astype(np.float32) * rng.choice([-1, 1], c)
        t[f"{name}/beta"] = rng.normal(0, 0.1, c).astype(np.float32)
        t[f"{name}/moving_mean"] = rng.normal(0, 0.1, c).astype(np.float32)
        t[f"{name}/moving_variance"] = rng.uniform(0.5, 2.0, c).astype(np.float32)

    bn("batch_normalization", 1)
    for i in range(5):
        cin = 1 if i == 0 else 128
        t[f"{i + 1}CNN/kernel"] = rng.normal(0, 1 / np.sqrt(9 * cin), (3, 3, cin, 128)).astype(np.float32)
        t[f"{i + 1}CNN/bias"] = rng.normal(0, 0.05, 128).astype(np.float32)
        t[f"{i + 1}CNN/kernel/Adam"] = np.zeros((3, 3, cin, 128), np.float32)  # optimizer slots are skipped
        bn(f"batch_normalization_{i + 1}", 128)
    t["dense/kernel"] = rng.normal(0, 0.1, (256, 50)).astype(np.float32)
    t["dense/bias"] = rng.normal(0, 0.1, 50).astype(np.float32)
    t["beta1_power"] = np.array(0.9, np.float32)
    return t


def _tf_graph(t: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """musicnn models.vgg at inference, literally in NHWC: (B, 187, 96) -> (sigmoid (B, 50), pool5 (B, 256))."""

    def bn(h, name):
        g, b = t[f"{name}/gamma"], t[f"{name}/beta"]
        m, v = t[f"{name}/moving_mean"], t[f"{name}/moving_variance"]
        return (h - m) / np.sqrt(v + EPS) * g + b

    def conv_same(h, k, b):  # 3x3 stride 1 'same': one zero each side
        _, hh, ww, _ = h.shape
        p = np.pad(h, ((0, 0), (1, 1), (1, 1), (0, 0)))
        out = sum(p[:, i : i + hh, j : j + ww, :] @ k[i, j] for i in range(3) for j in range(3))
        return out + b

    def pool_valid(h, size, stride):
        _, hh, ww, _ = h.shape
        oh, ow = (hh - size[0]) // stride[0] + 1, (ww - size[1]) // stride[1] + 1
        out = np.full((h.shape[0], oh, ow, h.shape[3]), -np.inf, h.dtype)
        for i in range(size[0]):
            for j in range(size[1]):
                out = np.maximum(
                    out, h[:, i : i + stride[0] * oh : stride[0], j : j + stride[1] * ow : stride[1], :]
                )
        return out

    h = bn(x[..., None].astype(np.float64), "batch_normalization")
    for i, (size, stride) in enumerate(POOLS):
        h = conv_same(h, t[f"{i + 1}CNN/kernel"], t[f"{i + 1}CNN/bias"])
        h = bn(np.maximum(h, 0), f"batch_normalization_{i + 1}")
        h = pool_valid(h, size, stride)
    flat = h.reshape(h.shape[0], -1)  # tf.layers.flatten of NHWC
    logits = flat @ t["dense/kernel"] + t["dense/bias"]
    return 1 / (1 + np.exp(-logits)), flat


def test_converted_network_matches_the_tf_graph(tmp_path):
    rng = np.random.default_rng(0)
    tensors = _fake_checkpoint(rng)
    tfc.write_checkpoint(tmp_path / "m.ckpt", tensors)
    model = MusicnnVgg(MTT_LABELS, name="mtt-vgg")
    state = conv.convert_state(tfc.Checkpoint(tmp_path / "m.ckpt"), model)
    model.load_state_dict(state)  # strict
    model.eval()
    x = rng.normal(2.0, 1.0, (2, 187, 96)).astype(np.float32)
    want_tags, want_emb = _tf_graph(tensors, x)
    with torch.inference_mode():
        tags, emb = model(torch.from_numpy(x))
    assert emb.shape == (2, EMBEDDING_DIM) == want_emb.shape
    np.testing.assert_allclose(emb.numpy(), want_emb, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tags.numpy(), want_tags, rtol=1e-4, atol=1e-5)


def test_converter_rejects_a_checkpoint_with_unmapped_variables(tmp_path):
    tensors = _fake_checkpoint(np.random.default_rng(1))
    tensors["6CNN/kernel"] = np.zeros((3, 3, 128, 128), np.float32)
    tfc.write_checkpoint(tmp_path / "m.ckpt", tensors)
    try:
        conv.convert_state(tfc.Checkpoint(tmp_path / "m.ckpt"), MusicnnVgg(MTT_LABELS))
    except SystemExit as exc:
        assert "6CNN/kernel" in str(exc)
    else:
        raise AssertionError("an unmapped variable was accepted")
