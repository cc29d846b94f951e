"""Album mode vs per-track mode: how often the genre decided for a track is its GTZAN genre.

    python benchmarks/bench_albums.py [--clips ../shared/data/gtzan/clips] [--model msd-musicnn]
                                      [--album-size 3] [--top-k 3] [--cache /tmp/bench_albums.json]

Protocol: the 50 real GTZAN clips (5 per genre) are classified once, each on its own (the cache keeps the
predictions, so reruns only redo the decisions). Albums are formed within a genre: every `--album-size`-clip
subset of a genre's 5 clips is one album (album size 3: 10 albums per genre, 100 albums, 300 track
decisions), tagged album/artist in memory and decided by the app's own decision layer
(`core.decide.decide_library`, album grouping from `core.albums`) once in album mode and once per track.
A decision counts as right when its genre is the clip's GTZAN genre (by genre identity; "Hip-Hop" is
hiphop, "Heavy Metal" is metal, "Classic Rock"/"Hard Rock" are rock). OPTIMISTIC: every GTZAN "album" is
genre-pure by construction, while real albums can mix; this measures what pooling a release's evidence buys
when the release is one genre.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from music_reclass_gui.core.decide import DecisionPolicy, decide_library
from music_reclass_gui.core.genres import genre_key
from music_reclass_gui.core.tags import TagInfo
from music_reclass_gui.inference.engine import ClassificationResult, Prediction

CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "gtzan" / "clips"
ACCEPT = {  # GTZAN genre -> genre keys that count as right
    "hiphop": {"hiphop", "rap"},
    "metal": {"metal", "heavymetal"},
    "rock": {"rock", "classicrock", "hardrock"},
}


def _classify(clips: list[Path], model: str | None, top_k: int, cache: Path | None) -> dict[str, list]:
    """{clip path: [[genre, probability], ...]} from the real model, cached as JSON."""
    key = f"{model}|{top_k}"
    stored = json.loads(cache.read_text()) if cache and cache.is_file() else {}
    if stored.get("key") == key and set(stored.get("preds", {})) >= {str(c) for c in clips}:
        return stored["preds"]
    from music_reclass_gui.inference.engine import Classifier

    clf = Classifier(model, device="cpu", top_k=top_k, use_cache=False)
    preds = {}
    for out in clf.classify_many(clips):
        if hasattr(out, "genre"):
            preds[str(out.audio_path)] = [[p.genre, p.confidence] for p in out.top_predictions]
    if cache:
        cache.write_text(json.dumps({"key": key, "model": clf.model_name, "preds": preds}))
    return preds


def _result(path: Path, pairs: list) -> ClassificationResult:
    top = [Prediction(name, prob) for name, prob in pairs]
    return ClassificationResult(path, "cached", top[0].genre, top[0].confidence, top, 0.0)


def _right(genre: str | None, truth: str) -> bool:
    return genre is not None and genre_key(genre) in ACCEPT.get(truth, {genre_key(truth)})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=Path, default=CLIPS)
    ap.add_argument("--model", default=None, help="model name (default: the app's default)")
    ap.add_argument("--album-size", type=int, default=3)
    ap.add_argument("--top-k", type=int, default=3, help="candidates per track, as the CLI's default")
    ap.add_argument("--cache", type=Path, default=None, help="JSON file keeping the predictions")
    args = ap.parse_args()

    genres = sorted(p.name for p in args.clips.iterdir() if p.is_dir())
    clips = {g: sorted((args.clips / g).glob("*.wav")) for g in genres}
    preds = _classify([c for g in genres for c in clips[g]], args.model, args.top_k, args.cache)

    right = {"album": 0, "per-track": 0}
    n_decisions = n_albums = 0
    for g in genres:
        for i, subset in enumerate(itertools.combinations(clips[g], args.album_size)):
            # each album in its own folder: the same clip in several albums stays one path per album
            paths = [Path(f"/albums/{g}-{i}/{c.name}") for c in subset]
            results = [
                _result(p, preds[str(c)]) for p, c in zip(paths, subset, strict=True) if str(c) in preds
            ]
            tags = {p: TagInfo(album=f"{g} {i}", artist=f"{g} artist", duration=30.0) for p in paths}
            n_albums += 1
            for mode, album_mode in (("album", True), ("per-track", False)):
                decided = decide_library(results, tags, DecisionPolicy(album_mode=album_mode))
                right[mode] += sum(_right(d.folder_genre, g) for d in decided.values())
            n_decisions += len(results)
    print(f"model: {args.model or 'default'}, top-{args.top_k} candidates, {len(preds)} clips classified")
    print(f"{n_albums} albums of {args.album_size} clips, {n_decisions} track decisions")
    print(f"{'mode':<10} {'accuracy':>9}")
    for mode in ("per-track", "album"):
        print(f"{mode:<10} {right[mode] / max(n_decisions, 1):>9.1%}")
    print(f"album / per-track: {right['album'] / max(right['per-track'], 1):.2f}x")


if __name__ == "__main__":
    main()
