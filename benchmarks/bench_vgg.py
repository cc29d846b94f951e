"""Do the musicnn wheel's VGG taggers (MSD_vgg, MTT_vgg) add anything to the broad model? (issue 11; a measurement,
nothing here is wired into the product). See docs/musicnn-vgg.md.

    pip download --no-deps musicnn==0.1.0 -d /tmp/musicnn_whl
    mkdir -p /tmp/mn && unzip -oq /tmp/musicnn_whl/musicnn-0.1.0-py3-none-any.whl -d /tmp/mn
    PYTHONPATH=$PWD python tools/convert_musicnn_vgg.py --wheel-dir /tmp/mn --out /tmp/musicnn_vgg
    PYTHONPATH=$PWD python benchmarks/bench_vgg.py sanity    # top tags on the musicnn example clips
    PYTHONPATH=$PWD python benchmarks/bench_vgg.py features  # VGG tags/embeddings of GTZAN + library -> /tmp npz
    PYTHONPATH=$PWD python benchmarks/bench_vgg.py gtzan     # do MSD_vgg's genre tags track the GTZAN genre?
    PYTHONPATH=$PWD python benchmarks/bench_vgg.py speed     # CPU seconds per patch, VGG vs musicnn (torch)
    PYTHONPATH=$PWD python benchmarks/bench_vgg.py oof       # the broad model's out-of-fold figures per variant

``features`` runs the two VGG networks through the app's own engine (extract_features: the same decoding, excerpt
plan, log-mel front end and mean over 3 s patches as the musicnn taggers' cached features), so each track's VGG
features come from exactly the audio its musicnn features came from.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
GTZAN = DATA / "gtzan" / "clips"
LIBRARY = DATA / "library"
CLIPS = DATA / "musicnn"
VGG = {
    "msd-vgg": ("msd_vgg.pt", "msd-musicnn"),
    "mtt-vgg": ("mtt_vgg.pt", "mtt-musicnn"),
}  # -> same vocabulary


def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def load_vgg(name: str, weights_dir: Path):
    import torch

    from music_reclass_gui.inference.networks.musicnn_labels import MSD_LABELS, MTT_LABELS
    from music_reclass_gui.inference.networks.musicnn_vgg import MusicnnVgg

    labels = MSD_LABELS if name.startswith("msd") else MTT_LABELS
    net = MusicnnVgg(labels, name=name)
    net.load_state_dict(torch.load(weights_dir / VGG[name][0], map_location="cpu", weights_only=True))
    return net.eval()


def load_musicnn(name: str):
    from music_reclass_gui.inference.networks.musicnn import load_musicnn

    return load_musicnn(name, ROOT / "models", "cpu")


def patches_of(path: Path) -> np.ndarray:
    """Whole file at 16 kHz -> (P, 187, 96) log-mel patches (musicnn's rule: non-overlapping, tail dropped)."""
    from music_reclass_gui.core.audio import load_audio
    from music_reclass_gui.inference.frontend import SAMPLE_RATE, log_mel, split_patches

    return split_patches(log_mel(load_audio(path, SAMPLE_RATE))[0])


def run_net(net, patches: np.ndarray, batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
    import torch

    tags, embs = [], []
    with torch.inference_mode():
        for s in range(0, len(patches), batch):
            t, e = net(torch.from_numpy(np.ascontiguousarray(patches[s : s + batch])))
            tags.append(t.numpy())
            embs.append(e.numpy())
    return np.concatenate(tags), np.concatenate(embs)


def top(labels: list[str], scores: np.ndarray, n: int = 10) -> list[str]:
    return [f"{labels[i]} {scores[i]:.2f}" for i in np.argsort(-scores, kind="stable")[:n]]


# ---------------------------------------------------------------------------------------------- sanity


def cmd_sanity(args) -> None:
    import torch

    nets = {n: load_vgg(n, args.weights) for n in VGG}
    for name in ("mtt-musicnn", "msd-musicnn"):
        nets[name] = load_musicnn(name)
    for clip in sorted(CLIPS.glob("*.mp3")):
        p = patches_of(clip)
        print(f"\n{clip.name}: {len(p)} patches")
        for name, net in nets.items():
            tags, emb = run_net(net, p)
            print(f"  {name:12s} top-10 (mean over patches): {', '.join(top(net.labels, tags.mean(0)))}")
            if name == "mtt-vgg":
                print(f"  {'':12s} pool5 per patch {tuple(emb.shape[1:])} = (2 x 128) flattened time-major")
        # the flatten order matters: the channel-major order (torch's plain flatten of NCHW) for contrast
        net = nets["mtt-vgg"]
        with torch.inference_mode():
            x = net.input_bn(torch.from_numpy(p).unsqueeze(1))
            for blk in net.blocks:
                x = blk(x)
            wrong = torch.sigmoid(net.out(x.flatten(1))).mean(0).numpy()
        print(f"  {'mtt-vgg, channel-major flatten (wrong)':12s}: {', '.join(top(net.labels, wrong, 5))}")


# ---------------------------------------------------------------------------------------------- features


def dataset_items() -> list[tuple[str, Path]]:
    """(key, path) in the order and with the keys of broad.shared_data_tracks."""
    from music_reclass_gui.core.library import scan
    from music_reclass_gui.training.datasets import scan_genre_folders

    lib = LIBRARY.resolve()
    items = [(it.key, it.path) for it in scan_genre_folders(GTZAN)]
    items += [(t.path.relative_to(lib).as_posix(), t.path) for t in scan(lib)]
    return items


def vgg_extractor(name: str, net):
    """An engine extractor: MusicnnExtractor's front end, patching and per-track means, with a VGG network
    in torch as its runner."""
    import torch

    from music_reclass_gui.inference.extractors import MusicnnExtractor

    class VggRunner:
        name = "torch"

        def run(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return run_net(net, patches)

    class VggExtractor(MusicnnExtractor):
        @property
        def key(self) -> str:
            return f"{name}:bench"

    ext = VggExtractor(name, ROOT / "models", None, torch.device("cpu"), batch_patches=16)
    ext._runner = VggRunner()
    return ext


def cmd_features(args) -> None:
    from music_reclass_gui.inference.engine import extract_features

    items = dataset_items()
    exts = [vgg_extractor(n, load_vgg(n, args.weights)) for n in VGG]
    out: dict[str, np.ndarray] = {}
    t0, c0 = time.perf_counter(), cpu_seconds()
    for (key, _), tf in zip(items, extract_features([p for _, p in items], exts, cache=None), strict=True):
        if tf.error is not None or tf.features is None:
            print(f"  {key}: {tf.error}")
            continue
        for e in exts:
            out[f"{key}|{e.name}|tags"] = tf.features[e.key]["tags"]
            out[f"{key}|{e.name}|embedding"] = tf.features[e.key]["embedding"]
    np.savez(args.cache, **out)
    print(
        f"{len(out) // 4} tracks -> {args.cache} ({time.perf_counter() - t0:.0f} s wall, "
        f"{cpu_seconds() - c0:.0f} CPU-s)"
    )


def load_tracks(cache: Path):
    """broad's Tracks (musicnn features from the app's feature cache) with "msd-vgg"/"mtt-vgg" added."""
    from music_reclass_gui.training.broad import shared_data_tracks

    data = shared_data_tracks(GTZAN, LIBRARY, progress=False)
    z = np.load(cache)
    for key, f in zip(data.keys, data.features, strict=True):
        for n in VGG:
            f[n] = {"tags": z[f"{key}|{n}|tags"], "embedding": z[f"{key}|{n}|embedding"]}
    return data


# ---------------------------------------------------------------------------------------------- gtzan tags

# GTZAN genre -> (MSD tag, MTT tag) that names it (None where the vocabulary has none)
GENRE_TAGS = {
    "blues": ("blues", None),
    "classical": (None, "classical"),
    "country": ("country", "country"),
    "disco": ("dance", "dance"),
    "hiphop": ("Hip-Hop", None),
    "jazz": ("jazz", None),
    "metal": ("metal", "metal"),
    "pop": ("pop", "pop"),
    "reggae": (None, None),
    "rock": ("rock", "rock"),
}


def cmd_gtzan(args) -> None:
    from music_reclass_gui.inference.networks.musicnn_labels import MSD_LABELS, MTT_LABELS

    data = load_tracks(args.cache)
    gt = [i for i in range(len(data.keys)) if data.gtzan[i] >= 0]
    genre = np.array([data.keys[i].split("/")[0] for i in gt])
    print("mean tag score on the genre's 5 clips / on the other 45 clips (and how many of the genre's clips")
    print("rank in the top 5 of all 50 by that tag); GTZAN clips, mean over patches")
    for col, (model_pair, labels) in enumerate(
        ((("msd-vgg", "msd-musicnn"), MSD_LABELS), (("mtt-vgg", "mtt-musicnn"), MTT_LABELS))
    ):
        for g, tags in GENRE_TAGS.items():
            tag = tags[col]
            if tag is None:
                continue
            j = labels.index(tag)
            cells = []
            for m in model_pair:
                s = np.array([data.features[i][m]["tags"][j] for i in gt])
                inside = genre == g
                top5 = int(inside[np.argsort(-s, kind="stable")[:5]].sum())
                cells.append(f"{m} {s[inside].mean():.3f} / {s[~inside].mean():.3f} (top-5: {top5}/5)")
            print(f"  {g:10s} '{tag}': " + "   ".join(cells))


# ---------------------------------------------------------------------------------------------- speed


def cmd_speed(args) -> None:
    import torch

    p = patches_of(next(iter(sorted(CLIPS.glob("joram*.mp3")))))
    p = np.concatenate([p] * (-(-args.patches // len(p))))[: args.patches]
    nets = {"msd-vgg": load_vgg("msd-vgg", args.weights), "msd-musicnn": load_musicnn("msd-musicnn")}
    default = torch.get_num_threads()
    print(f"{len(p)} patches, batches of 16, torch {torch.__version__}, load {os.getloadavg()[0]:.2f}")
    for threads in (1, default):
        torch.set_num_threads(threads)
        res = {}
        for name, net in nets.items():
            run_net(net, p[:16])  # warm-up
            best_cpu, best_wall = np.inf, np.inf
            for _ in range(args.repeats):
                c0, t0 = cpu_seconds(), time.perf_counter()
                run_net(net, p)
                best_cpu = min(best_cpu, (cpu_seconds() - c0) / len(p))
                best_wall = min(best_wall, (time.perf_counter() - t0) / len(p))
            res[name] = (best_cpu, best_wall)
            print(
                f"  {threads} thread(s) {name:12s} {best_cpu * 1000:6.1f} CPU-ms/patch  {best_wall * 1000:6.1f} wall-ms"
            )
        print(
            f"  {threads} thread(s) ratio vgg/musicnn: CPU {res['msd-vgg'][0] / res['msd-musicnn'][0]:.2f}, "
            f"wall {res['msd-vgg'][1] / res['msd-musicnn'][1]:.2f}"
        )


# ---------------------------------------------------------------------------------------------- out of fold


def sign_test(plus: int, minus: int) -> float:
    """Exact two-sided binomial (p = 1/2) test of ``plus`` against ``minus`` discordant pairs."""
    from math import comb

    n, k = plus + minus, min(plus, minus)
    return 1.0 if n == 0 else min(1.0, 2 * sum(comb(n, i) for i in range(k + 1)) / 2**n)


def cmd_oof(args) -> None:
    from threadpoolctl import threadpool_limits

    from music_reclass_gui.inference.heads import head_input
    from music_reclass_gui.inference.networks.musicnn_labels import MSD_LABELS, MTT_LABELS
    from music_reclass_gui.training.broad import (
        GTZAN_GENRES,
        VOCABULARY,
        evidence_labels,
        out_of_fold,
        tagger_evidence,
    )
    from music_reclass_gui.training.broad_report import gtzan_report, library_report

    data = load_tracks(args.cache)
    labels = {"msd-musicnn": list(MSD_LABELS), "mtt-musicnn": list(MTT_LABELS)}
    evidence = evidence_labels(labels)
    emb = [("msd-musicnn", "embedding"), ("mtt-musicnn", "embedding")]
    averaged = [  # musicnn tags replaced by the mean of musicnn's and the same-vocabulary VGG's tags
        {
            **f,
            **{
                m: {**f[m], "tags": (f[m]["tags"] + f[v]["tags"]) / 2}
                for v, (_, m) in VGG.items()  # "msd-vgg" -> "msd-musicnn"
            },
        }
        for f in data.features
    ]
    variants = {
        "a: emb (baseline, shipped)": (emb, data.features),
        "b: emb + msd-vgg emb": (emb + [("msd-vgg", "embedding")], data.features),
        "c: emb + both vgg emb": (emb + [("msd-vgg", "embedding"), ("mtt-vgg", "embedding")], data.features),
        "d: emb, tags avg musicnn+vgg": (emb, averaged),
        "e: c and d together": (emb + [("msd-vgg", "embedding"), ("mtt-vgg", "embedding")], averaged),
        "f: vgg emb instead of musicnn": (
            [("msd-vgg", "embedding"), ("mtt-vgg", "embedding")],
            data.features,
        ),
    }
    for block in ("msd-musicnn", "mtt-musicnn", "msd-vgg", "mtt-vgg"):
        e = np.stack([f[block]["embedding"] for f in data.features])
        print(
            f"{block:12s} embedding dim {e.shape[1]}: mean |x| {np.abs(e).mean():.3f}, mean per-dim std {e.std(0).mean():.3f}"
        )
    n_gt = int((data.gtzan >= 0).sum())
    gt = np.flatnonzero(data.gtzan >= 0)
    y_gt = np.array([VOCABULARY.index(GTZAN_GENRES[c]) for c in data.gtzan[gt]])
    print(f"\n{n_gt} GTZAN clips, {int((data.gtzan < 0).sum())} library tracks; seed {args.seed}")
    print(
        "vs a: GTZAN clips right only here (+) / only in a (-), exact two-sided sign-test p; library likewise"
    )
    print(f"{'variant':34s} {'in dim':>6s}  GTZAN top-1  among ten  library hits  GTZAN vs a    library vs a")
    base_gt = base_lib = None
    saved = {}
    for name, (inputs, feats) in variants.items():
        x = np.stack([head_input(f, inputs) for f in data.features]).astype(np.float64)
        tag_ev = tagger_evidence(feats, evidence, labels)
        with threadpool_limits(limits=1):
            oof = out_of_fold(x, data, tag_ev, args.seed).probs
        saved[name[0]] = oof
        g, lib = gtzan_report(oof, data), library_report(oof, data)
        right_gt = oof[gt].argmax(1) == y_gt
        right_lib = {t["track"]: t["hit"] for t in lib["tracks"] if t["hit"] is not None}
        if base_gt is None:
            base_gt, base_lib, versus = right_gt, right_lib, ""
        else:
            plus, minus = int((right_gt & ~base_gt).sum()), int((~right_gt & base_gt).sum())
            lp = [k for k in right_lib if right_lib[k] and not base_lib[k]]
            lm = [k for k in right_lib if base_lib[k] and not right_lib[k]]
            versus = f"+{plus} -{minus} p={sign_test(plus, minus):.2f}   +{len(lp)} -{len(lm)}"
            changed = [f"+{k}" for k in lp] + [f"-{k}" for k in lm]
        print(
            f"{name:34s} {x.shape[1]:6d}  {g['accuracy']:.2f} ({round(g['accuracy'] * n_gt)}/{n_gt})"
            f"  {g['accuracy_among_gtzan_genres']:.2f}      {lib['hits']}/{lib['with_truth']}        {versus}",
            flush=True,
        )
        if versus and changed:
            print(f"{'':41s}library changes: {', '.join(changed)}", flush=True)
    np.savez(args.cache.with_name("vgg_oof.npz"), keys=np.array(data.keys), **saved)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=("sanity", "features", "gtzan", "speed", "oof"))
    parser.add_argument(
        "--weights", type=Path, default=Path("/tmp/musicnn_vgg"), help="convert_musicnn_vgg.py --out"
    )
    parser.add_argument(
        "--cache", type=Path, default=Path("/tmp/vgg_features.npz"), help="VGG features (npz)"
    )
    parser.add_argument("--patches", type=int, default=64, help="speed: patches per timing")
    parser.add_argument("--repeats", type=int, default=3, help="speed: timings per setting (best kept)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    {"sanity": cmd_sanity, "features": cmd_features, "gtzan": cmd_gtzan, "speed": cmd_speed, "oof": cmd_oof}[
        args.command
    ](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
