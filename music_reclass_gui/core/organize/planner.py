"""Turn (track, genre) pairs into a plan of moves. PURE: it only looks at what exists (through the
`exists`/`listdir` callables), so the same plan can be previewed, shown in the GUI and then executed.

Layout: `<out_root>/<safe genre folder>/<original file name>`. A name already taken (on disk or by another
move in the plan) gets "name (2).ext", flagged as a clash; nothing is ever planned onto an existing file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from music_reclass_gui.core.genres import genre_key
from music_reclass_gui.core.organize.sanitize import sanitize_genre_folder

SIDECAR_EXTENSIONS = frozenset({".lrc", ".cue"})
UNSORTED_FOLDER = "Unsorted"


@dataclass
class Move:
    src: Path
    dst: Path
    clash: bool = False  # True when dst had to be renamed because the plain name was taken
    sidecars: list[tuple[Path, Path]] = field(default_factory=list)  # (src, dst) moving with the track
    genre: str = ""  # the destination folder name

    def to_json(self) -> dict:
        return {
            "src": str(self.src),
            "dst": str(self.dst),
            "genre": self.genre,
            "clash": self.clash,
            "sidecars": [[str(a), str(b)] for a, b in self.sidecars],
        }


@dataclass
class MovePlan:
    out_root: Path
    moves: list[Move] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (track, human reason)
    counts_per_genre: dict[str, int] = field(default_factory=dict)  # folder name -> tracks planned
    source_root: Path | None = None  # emptied folders are only removed strictly below this

    @property
    def n_clashes(self) -> int:
        return sum(m.clash for m in self.moves)


def _safe_listdir(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def _key(path: Path) -> str:
    return os.path.normcase(os.path.abspath(path)).casefold()


def _numbered(stem: str, n: int) -> str:
    return stem if n == 1 else f"{stem} ({n})"


def plan_moves(
    assignments: Iterable[tuple[Path, str | None]],
    out_root: Path,
    *,
    unsorted: str | None = None,
    source_root: Path | None = None,
    exists: Callable[[Path], bool] = os.path.exists,
    listdir: Callable[[Path], list[str]] = _safe_listdir,
) -> MovePlan:
    """Plan a move per track. `unsorted` names a folder for tracks without a genre (None: leave them).

    Genres that differ only by case or Unicode spelling share one folder: the spelling of a folder that
    already exists under out_root wins, else the first spelling seen.
    """
    out_root = Path(os.path.abspath(out_root))
    plan = MovePlan(
        out_root=out_root, source_root=Path(os.path.abspath(source_root)) if source_root else None
    )
    folders: dict[str, str] = {genre_key(name): name for name in sorted(listdir(out_root))}
    claimed: set[str] = set()  # destination keys taken by earlier moves in this plan
    sources: set[str] = set()
    pairs = [(Path(os.path.abspath(p)), g) for p, g in assignments]
    all_sources = {_key(p) for p, _ in pairs}
    dir_cache: dict[Path, list[str]] = {}
    sidecars_taken: set[str] = set()

    for src, genre in pairs:
        if _key(src) in sources:
            plan.skipped.append((src, "listed twice"))
            continue
        sources.add(_key(src))
        if genre is None or not str(genre).strip():
            if unsorted is None:
                plan.skipped.append((src, "no genre"))
                continue
            genre = unsorted
        folder = sanitize_genre_folder(str(genre))
        folder = folders.setdefault(genre_key(folder), folder)
        target_dir = out_root / folder
        if _key(target_dir / src.name) == _key(src):
            plan.skipped.append((src, "already in place"))
            continue

        if src.parent not in dir_cache:
            dir_cache[src.parent] = sorted(listdir(src.parent))
        sidecar_srcs = []
        for name in dir_cache[src.parent]:
            cand = src.parent / name
            if (
                name != src.name
                and Path(name).stem == src.stem
                and Path(name).suffix.lower() in SIDECAR_EXTENSIONS
                and _key(cand) not in sidecars_taken
                and _key(cand) not in all_sources
            ):
                sidecar_srcs.append(cand)
                sidecars_taken.add(_key(cand))

        n = 1
        while True:
            stem = _numbered(src.stem, n)
            dst = target_dir / (stem + src.suffix)
            side_dsts = [target_dir / (stem + s.suffix) for s in sidecar_srcs]
            wanted = [dst, *side_dsts]
            if not any(_key(p) in claimed or exists(p) for p in wanted):
                break
            n += 1
        claimed.update(_key(p) for p in wanted)
        plan.moves.append(
            Move(
                src, dst, clash=n > 1, sidecars=list(zip(sidecar_srcs, side_dsts, strict=True)), genre=folder
            )
        )
        plan.counts_per_genre[folder] = plan.counts_per_genre.get(folder, 0) + 1
    return plan
