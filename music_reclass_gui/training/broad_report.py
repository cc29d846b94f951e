"""The broad model's evaluation figures: top-1 on GTZAN and the library, calibration, and the Markdown report
(docs/broad-model.md is written by `train broad --figures`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from music_reclass_gui.training.broad import GTZAN_GENRES, VOCABULARY, Tracks
from music_reclass_gui.training.calibrate import ECE_BINS


def binary_ece(
    probs: np.ndarray, truth: np.ndarray, n_bins: int = ECE_BINS
) -> tuple[float, list[dict[str, Any]]]:
    """ECE of independent per-genre probabilities over every (track, genre) pair with known truth, and the
    reliability table (per equal-width bin: pairs, mean probability, observed frequency)."""
    m = truth >= 0
    p, t = probs[m], truth[m].astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, n_bins - 1)
    ece, table = 0.0, []
    for b in range(n_bins):
        sel = idx == b
        if sel.any():
            ece += sel.mean() * abs(t[sel].mean() - p[sel].mean())
            table.append(
                {
                    "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                    "pairs": int(sel.sum()),
                    "mean_probability": round(float(p[sel].mean()), 4),
                    "observed_frequency": round(float(t[sel].mean()), 4),
                }
            )
    return float(ece), table


def _top1(probs: np.ndarray, data: Tracks, rows: np.ndarray) -> dict[str, Any]:
    right = [VOCABULARY[int(probs[i].argmax())] == GTZAN_GENRES[data.gtzan[i]] for i in rows]
    return {
        "n": int(len(rows)),
        "right": int(sum(right)),
        "accuracy": float(np.mean(right)) if right else 0.0,
    }


def gtzan_report(probs: np.ndarray, data: Tracks, same_artist: np.ndarray | None = None) -> dict[str, Any]:
    """Top-1 on the GTZAN clips: over the whole vocabulary (strict) and among GTZAN's ten (its words); with
    ``same_artist`` (clips whose artist was in training) also apart for those and for the others."""
    from music_reclass_gui.training.evaluate import evaluate_predictions

    gt = np.flatnonzero(data.gtzan >= 0)
    y = data.gtzan[gt]
    cols = [VOCABULARY.index(g) for g in GTZAN_GENRES]
    strict = probs[gt].argmax(1)
    labels = list(VOCABULARY)
    y_vocab = np.array([VOCABULARY.index(GTZAN_GENRES[c]) for c in y])
    full = evaluate_predictions(y_vocab, strict, labels)
    within = evaluate_predictions(y, probs[gt][:, cols].argmax(1), list(GTZAN_GENRES))
    predicted = sorted(set(strict.tolist()) | set(y_vocab.tolist()))
    confusion = np.asarray(full["confusion"])[np.ix_(cols, predicted)]
    same = (
        np.zeros(len(data.keys), dtype=bool) if same_artist is None else np.asarray(same_artist, dtype=bool)
    )
    return {
        "n": int(len(gt)),
        "accuracy": full["accuracy"],
        "artist_disjoint": _top1(probs, data, gt[~same[gt]]),
        "same_artist": _top1(probs, data, gt[same[gt]]),
        "per_genre": {g: full["per_class"][g] for g in GTZAN_GENRES},
        "accuracy_among_gtzan_genres": within["accuracy"],
        "confusion": {
            "rows (true)": list(GTZAN_GENRES),
            "columns (predicted)": [VOCABULARY[j] for j in predicted],
            "counts": confusion.tolist(),
        },
    }


def library_report(probs: np.ndarray, data: Tracks, floor: float = 0.5) -> dict[str, Any]:
    """Per library track: its truth, top-1 and genres above ``floor``; hits where top-1 is a true genre."""
    rows, hits, known = [], 0, 0
    for i in np.flatnonzero(data.gtzan < 0):
        true = [VOCABULARY[j] for j in np.flatnonzero(data.truth[i] == 1)]
        order = np.argsort(-probs[i], kind="stable")
        top = VOCABULARY[order[0]]
        hit = top in true if true else None
        if true:
            known += 1
            hits += bool(hit)
        rows.append(
            {
                "track": data.keys[i],
                "truth": true,
                "top1": top,
                "top1_probability": round(float(probs[i, order[0]]), 3),
                "above_floor": {
                    VOCABULARY[j]: round(float(probs[i, j]), 3) for j in order if probs[i, j] >= floor
                },
                "hit": hit,
            }
        )
    return {"tracks": rows, "hits": hits, "with_truth": known, "floor": floor}


def report_markdown(card: dict[str, Any]) -> str:
    """The card's evaluation as Markdown (docs/broad-model.md is this, written by the run with --figures)."""
    m, cal = card["metrics"], card["calibration"]
    g, lib = m["gtzan"], m["library"]
    cols = g["confusion"]["columns (predicted)"]
    lines = [
        f"# `{card['name']}`: evaluation (written by the training run)",
        "",
        f"Reproduce: `{card['reproduce']}`",
        "",
        f"Protocol: {m['protocol']}",
        "",
        f"Caveats: {m['note']}",
        "",
        "## GTZAN clips, out of fold",
        "",
        f"Top-1 over all {len(card['labels'])} genres: **{g['accuracy']:.0%}** of {g['n']} clips; "
        f"among GTZAN's ten only: {g['accuracy_among_gtzan_genres']:.0%}. Unfused baseline on the same folds "
        f"(head softmax / raw tagger scores): {m['gtzan_naive_baseline']['accuracy']:.0%} "
        f"({m['gtzan_naive_baseline']['accuracy_among_gtzan_genres']:.0%} among the ten).",
        "",
        f"- Artist left out of training: **{g['artist_disjoint']['right']} of {g['artist_disjoint']['n']}** "
        f"({g['artist_disjoint']['accuracy']:.0%}).",
        f"- Same artist in training (genres with one artist): {g['same_artist']['right']} of "
        f"{g['same_artist']['n']} ({g['same_artist']['accuracy']:.0%}), optimistic.",
        f"- The head's L2 strength C, chosen inside each fold from {m['head_c']['grid']}: "
        f"{m['head_c']['per_outer_fold']}; the shipped head's: {m['head_c']['shipped']}.",
        "",
        "| true \\ predicted | " + " | ".join(cols) + " | top-1 |",
        "|---" * (len(cols) + 2) + "|",
    ]
    for name, row in zip(g["confusion"]["rows (true)"], g["confusion"]["counts"], strict=True):
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + f" | {g['per_genre'][name]:.0%} |")
    lines += [
        "",
        "## Real library tracks, out of fold (their folder left out)",
        "",
        f"Top-1 is a true genre for **{lib['hits']} of {lib['with_truth']}** tracks with a known genre.",
        "",
        f"| track | truth | top-1 (probability) | genres ≥ {lib['floor']} |",
        "|---|---|---|---|",
    ]
    for t in lib["tracks"]:
        above = ", ".join(f"{k} {v:.2f}" for k, v in t["above_floor"].items()) or "-"
        mark = {True: "✓", False: "✗", None: "?"}[t["hit"]]
        lines.append(
            f"| {t['track']} | {', '.join(t['truth']) or 'unknown'} | {mark} {t['top1']} "
            f"({t['top1_probability']:.2f}) | {above} |"
        )
    lines += [
        "",
        "## Calibration (out of fold)",
        "",
        f"Per-genre ECE ({cal['ece_bins']} bins, {cal['pairs']} (track, genre) pairs): "
        f"{cal['per_genre_ece_before']:.4f} unfused → **{cal['per_genre_ece_after']:.4f}** fused. "
        f"Top-label ECE (shown confidence vs top-1 right): {cal['top_label_ece']:.4f}.",
        "",
        f"![reliability]({card['name']}-reliability.png)",
        "",
        "| bin | pairs | mean probability | observed frequency |",
        "|---|---|---|---|",
    ]
    for r in cal["reliability_after"]:
        lines.append(
            f"| {r['bin']} | {r['pairs']} | {r['mean_probability']:.3f} | {r['observed_frequency']:.3f} |"
        )
    return "\n".join(lines) + "\n"
