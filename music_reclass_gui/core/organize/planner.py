"""Turn (track, genre) pairs into a plan of moves. PURE: it only looks at what exists (through the
`exists`/`listdir` callables), so the same plan can be previewed, shown in the GUI and then executed.

Layout: a `core.layout` template (default here `{genre}/{filename}`; the CLI and GUI pass the user's, whose
default is `{genre}/{albumartist}/{album}/{filename}`). A name already taken (on disk or by another move in
the plan) gets "name (2).ext", flagged as a clash; nothing is ever planned onto an existing file. Album
extras (cover images, .cue, .log, .nfo — `extras.py`) travel with their album, or are copied when its
tracks go to several folders or something else stays behind.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from music_reclass_gui.core.genres import genre_key
from music_reclass_gui.core.organize.extras import is_album_extra, only_extras_left
from music_reclass_gui.core.organize.sanitize import sanitize_genre_folder

SIDECAR_EXTENSIONS = frozenset({".lrc", ".cue"})
UNSORTED_FOLDER = "Unsorted"


@dataclass
class Move:
    src: Path
    dst: Path
    clash: bool = False  # True when dst had to be renamed because the plain name was taken
    sidecars: list[tuple[Path, Path]] = field(default_factory=list)  # (src, dst) moving with the track
    genre: str = ""  # the destination genre folder name
    copies: list[tuple[Path, Path]] = field(default_factory=list)  # album extras copied (src, dst)
    album: str | None = None  # the album key this track moves with

    def to_json(self) -> dict:
        return {
            "src": str(self.src),
            "dst": str(self.dst),
            "genre": self.genre,
            "album": self.album,
            "clash": self.clash,
            "sidecars": [[str(a), str(b)] for a, b in self.sidecars],
            "copies": [[str(a), str(b)] for a, b in self.copies],
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
    """Destination identity, case-folded: a name that differs only by case would clash on a case-insensitive
    target (FAT, NTFS, APFS), so it is renamed, never overwritten."""
    return os.path.normcase(os.path.abspath(path)).casefold()


def _source_key(path: Path) -> str:
    """Source identity as the OS spells it: on a case-sensitive filesystem Song.mp3 and song.mp3 are two
    tracks (normcase folds case only where the OS does, e.g. Windows)."""
    return os.path.normcase(os.path.abspath(path))


def _numbered(stem: str, n: int) -> str:
    return stem if n == 1 else f"{stem} ({n})"


def plan_moves(
    assignments: Iterable[tuple[Path, str | None]],
    out_root: Path,
    *,
    unsorted: str | None = None,
    source_root: Path | None = None,
    layout: str | None = None,
    tags: Mapping[Path, Any] | None = None,
    albums: Mapping[Path, str] | None = None,
    exists: Callable[[Path], bool] = os.path.exists,
    listdir: Callable[[Path], list[str]] = _safe_listdir,
) -> MovePlan:
    """Plan a move per track. `unsorted` names a folder for tracks without a genre (None: leave them).
    `layout` is a core.layout template filled from `tags` ({path: TagInfo}); `albums` {path: album key}
    labels the moves. Raises core.layout.LayoutError for a template that cannot be used.

    Genres that differ only by case or Unicode spelling share one folder: the spelling of a folder that
    already exists under out_root wins, else the first spelling seen.
    """
    from music_reclass_gui.core.layout import GENRE_ONLY_LAYOUT, check_layout, render, track_fields

    layout = layout or GENRE_ONLY_LAYOUT
    check_layout(layout)
    tags = {Path(os.path.abspath(p)): t for p, t in (tags or {}).items()}
    albums = {Path(os.path.abspath(p)): a for p, a in (albums or {}).items()}
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
        if _source_key(src) in sources:
            plan.skipped.append((src, "listed twice"))
            continue
        sources.add(_source_key(src))
        if genre is None or not str(genre).strip():
            if unsorted is None:
                plan.skipped.append((src, "no genre"))
                continue
            genre = unsorted
        folder = sanitize_genre_folder(str(genre))
        folder = folders.setdefault(genre_key(folder), folder)
        fields = track_fields(src, tags.get(src), plan.source_root)
        rel = render(layout, folder, fields, src.suffix)
        target_dir = out_root / rel.parent
        target_name = Path(rel.name)
        if _key(target_dir / target_name) == _key(src):
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
            stem = _numbered(target_name.stem, n)
            dst = target_dir / (stem + target_name.suffix)
            side_dsts = [target_dir / (stem + s.suffix) for s in sidecar_srcs]
            wanted = [dst, *side_dsts]
            if not any(_key(p) in claimed or exists(p) for p in wanted):
                break
            n += 1
        claimed.update(_key(p) for p in wanted)
        plan.moves.append(
            Move(
                src,
                dst,
                clash=n > 1,
                sidecars=list(zip(sidecar_srcs, side_dsts, strict=True)),
                genre=folder,
                album=albums.get(src),
            )
        )
        plan.counts_per_genre[folder] = plan.counts_per_genre.get(folder, 0) + 1
    _plan_extras(plan, dir_cache, claimed, sidecars_taken | all_sources, exists)
    return plan


def _free_name(folder: Path, name: str, claimed: set[str], exists: Callable[[Path], bool]) -> Path:
    stem, suffix = Path(name).stem, Path(name).suffix
    n = 1
    while True:
        dst = folder / (_numbered(stem, n) + suffix)
        if _key(dst) not in claimed and not exists(dst):
            claimed.add(_key(dst))
            return dst
        n += 1


def _plan_extras(
    plan: MovePlan,
    dir_cache: dict[Path, list[str]],
    claimed: set[str],
    taken: set[str],
    exists: Callable[[Path], bool],
) -> None:
    """Album extras of each source folder: moved with the album when nothing else stays behind, copied to
    every other folder its tracks go to (a split album), and copied, originals kept, otherwise."""
    by_folder: dict[Path, list[Move]] = {}
    for move in plan.moves:
        by_folder.setdefault(move.src.parent, []).append(move)
    for folder, moves in by_folder.items():
        moving = {_key(m.src) for m in moves} | {_key(a) for m in moves for a, _ in m.sidecars}
        names = dir_cache.get(folder, [])
        extras = [n for n in names if is_album_extra(n) and _key(folder / n) not in taken | moving]
        if not extras:
            continue
        staying = [n for n in names if _key(folder / n) not in moving and n not in extras]
        counts: dict[Path, list[Move]] = {}
        for m in moves:
            counts.setdefault(m.dst.parent, []).append(m)
        targets = sorted(counts, key=lambda t: -len(counts[t]))  # stable: ties keep plan order
        main = targets[0] if only_extras_left(staying) else None
        for name in extras:
            src = folder / name
            for target in targets:
                dst = _free_name(target, name, claimed, exists)
                if target == main:  # moved last, by the last track into the main folder
                    counts[target][-1].sidecars.append((src, dst))
                else:  # copied first, by the folder's first track (the executor copies before moving)
                    moves[0].copies.append((src, dst))
