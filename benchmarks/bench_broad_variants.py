"""The broad model's head variants side by side, in the protocol `train broad` reports (issue 11).

    python benchmarks/bench_broad_variants.py [--gtzan ../shared/data/gtzan/clips]
                                              [--library ../shared/data/library]

Every variant is scored by training/broad.py's own ``out_of_fold`` (artist-aware GTZAN folds, library
folders left out, fusion nested); only the head changes:

- ``means``: the head learns from each track's mean embedding (what `train broad` ships), with the old
  default's fixed C=0.1 or C chosen inside every fold from HEAD_C_GRID (shipped);
- ``patches``: each 3 s patch's embedding a training row, a track's patches sharing its weight (a linear
  head's logits of the mean embedding are the mean of its patch logits, so the app would run it unchanged).

Prints GTZAN top-1 (all, artist left out, same artist in training), library hits per folder and the
per-genre ECE. About 5 minutes on 2 cores (features come from the cache after `train broad`).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from music_reclass_gui.core.appdirs import shipped_models_dir
from music_reclass_gui.inference.networks.musicnn_labels import tagger_labels
from music_reclass_gui.training import broad
from music_reclass_gui.training.broad_report import binary_ece, gtzan_report, library_report
from music_reclass_gui.training.train import Progress

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


class PatchEmbeddings:
    """An extractor that wraps a musicnn extractor and keeps every patch's embedding (P, 200)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.key = f"{inner.key}:patch-embeddings"
        self.sample_rate = inner.sample_rate
        self.frontend_key = inner.frontend_key
        self.device = inner.device

    def prepare(self, tracks):
        return self.inner.prepare(tracks)

    def extract(self, tracks, prepared=None) -> list[dict[str, np.ndarray]]:
        per_track = list(prepared) if prepared is not None else self.inner.prepare(tracks)
        out = []
        for patches in per_track:
            if not isinstance(patches, np.ndarray):
                patches = patches.cpu().numpy()
            _, embeddings = self.inner.runner.run(patches)
            out.append({"embedding_patches": np.asarray(embeddings, dtype=np.float32)})
        return out


def patch_embeddings(
    paths: Sequence[Path],
    taggers: Sequence[str],
    *,
    use_cache: bool = True,
    progress: bool = True,
) -> list[np.ndarray | None]:
    """Per path: the taggers' patch embeddings side by side, (P, sum of their sizes); None where it failed.
    Float network (``float_backend``), like every training feature."""
    from music_reclass_gui.inference.backends import float_backend
    from music_reclass_gui.inference.cache import FeatureCache
    from music_reclass_gui.inference.device import pick_device
    from music_reclass_gui.inference.engine import extract_features
    from music_reclass_gui.inference.extractors import musicnn_extractor

    device = pick_device("auto")
    exts = [PatchEmbeddings(musicnn_extractor(t, device, float_backend(device))) for t in taggers]
    cache = FeatureCache() if use_cache else None
    bar = Progress("patch embeddings", len(paths), progress)
    out: list[np.ndarray | None] = []
    for tf in extract_features(paths, exts, cache=cache):
        if tf.error is not None or tf.features is None:
            out.append(None)
        else:
            out.append(np.concatenate([tf.features[e.key]["embedding_patches"] for e in exts], axis=1))
        bar.update()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gtzan", type=Path, default=SHARED / "gtzan" / "clips")
    ap.add_argument("--library", type=Path, default=SHARED / "library")
    args = ap.parse_args()
    data = broad.shared_data_tracks(args.gtzan, args.library, progress=False)
    labels = {t: tagger_labels(t, shipped_models_dir()) for t in ("msd-musicnn", "mtt-musicnn")}
    tag_ev = broad.tagger_evidence(data.features, broad.evidence_labels(labels), labels)
    x = data.matrix(broad.HEAD_CONFIG.inputs)
    paths = [(args.gtzan if g >= 0 else args.library) / k for k, g in zip(data.keys, data.gtzan, strict=True)]
    patches = patch_embeddings(paths, broad.HEAD_TAGGERS, use_cache=True, progress=False)
    with_patches = dataclasses.replace(data, patches=[np.asarray(p, dtype=np.float64) for p in patches])
    variants = [
        ("means, C=0.1 (old default)", data, (0.1,)),
        ("means, nested C (shipped)", data, broad.HEAD_C_GRID),
        ("patches, C=0.1", with_patches, (0.1,)),
        ("patches, nested C", with_patches, broad.HEAD_C_GRID),
    ]
    grid = broad.HEAD_C_GRID
    print(f"{'head':30} {'GTZAN':>6} {'artist out':>11} {'same artist':>12} {'library':>8}  per folder  ECE")
    try:
        for name, tracks, cs in variants:
            broad.HEAD_C_GRID = cs
            with threadpool_limits(limits=1):
                oof = broad.out_of_fold(x, tracks, tag_ev)
            g = gtzan_report(oof.probs, tracks, oof.same_artist)
            lib = library_report(oof.probs, tracks)
            folders: dict[str, list[int]] = {}
            for t in lib["tracks"]:
                if t["hit"] is not None:
                    f = folders.setdefault(t["track"].split("/")[0], [0, 0])
                    f[0] += int(t["hit"])
                    f[1] += 1
            ece, _ = binary_ece(oof.probs, tracks.truth)
            per = " ".join(f"{k}:{a}/{b}" for k, (a, b) in sorted(folders.items()))
            print(
                f"{name:30} {g['accuracy']:6.0%} {g['artist_disjoint']['right']:>5}/{g['artist_disjoint']['n']:<5}"
                f" {g['same_artist']['right']:>6}/{g['same_artist']['n']:<5} {lib['hits']:>4}/{lib['with_truth']:<3}"
                f"  {per}  {ece:.4f}  C per fold {oof.head_c}",
                flush=True,
            )
    finally:
        broad.HEAD_C_GRID = grid


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
