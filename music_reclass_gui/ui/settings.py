"""The window's persisted preferences and recent folders (JSON in core.appdirs.user_config_dir()).

A damaged or hand-edited file never stops the app: unknown keys are ignored, bad values fall back to defaults.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from music_reclass_gui.core import appdirs
from music_reclass_gui.core.decide import DecisionPolicy
from music_reclass_gui.core.genres import genre_key
from music_reclass_gui.core.layout import DEFAULT_LAYOUT, LayoutError, check_layout

SETTINGS_FILE = "settings.json"
MAX_RECENT = 10
DEFAULT_OUTPUT_DIRNAME = "Music_Classified"


def _fits(value: object, default: object) -> bool:
    """A stored value is used only when it has the default's type (an int where a float is expected is fine)."""
    if default is None:
        return isinstance(value, str)
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, int | float)
    return isinstance(value, type(default))


@dataclass
class AppSettings:
    model: str | None = None  # None: the engine's default model
    device: str = "auto"  # auto | cpu | cuda | mps
    top_k: int = 3
    threshold: float = 0.5  # "accept all above" default and the multi-genre cut-off, 0..1
    keep_existing: bool = False
    multi_genre: bool = False
    id3_version: int = 4
    id3_separator: str = "; "
    output_root: str = ""  # empty: Music_Classified next to the opened folder
    layout: str = DEFAULT_LAYOUT  # Reorganise's path template (core.layout)
    album_mode: bool = True  # one genre per album (core.albums); off: every track on its own
    recent_folders: list[str] = field(default_factory=list)
    # command-line overrides (--model/--device): {name: (override, stored value)}; used for this run only,
    # never written back unless the user picks another value in Settings
    overrides: dict[str, tuple[object, object]] = field(default_factory=dict, repr=False, compare=False)

    def override(self, **values: object) -> None:
        """Use these values for this run without saving them (command-line options)."""
        for name, value in values.items():
            if value is None:
                continue
            stored = self.overrides[name][1] if name in self.overrides else getattr(self, name)
            self.overrides[name] = (value, stored)
            setattr(self, name, value)

    def persisted(self) -> dict[str, object]:
        """What save() writes: the fields, with command-line overrides replaced by the stored values."""
        data = asdict(self)
        data.pop("overrides")
        for name, (value, stored) in self.overrides.items():
            if data[name] == value:
                data[name] = stored
        return data

    def output_root_for(self, folder: Path | None) -> Path | None:
        """Where "Reorganise…" puts files: the configured root, else Music_Classified beside the folder."""
        if self.output_root:
            return Path(self.output_root).expanduser()
        return folder.parent / DEFAULT_OUTPUT_DIRNAME if folder is not None else None

    def decision_policy(self, key: Callable[[str], str] = genre_key) -> DecisionPolicy:
        """The core.decide policy of these settings: the GUI decides with exactly the CLI's rules."""
        return DecisionPolicy(
            threshold=self.threshold,
            keep_existing=self.keep_existing,
            multi_genre=self.multi_genre,
            album_mode=self.album_mode,
            key=key,
        )

    def add_recent(self, folder: Path) -> None:
        text = str(Path(folder).resolve())
        self.recent_folders = [text] + [f for f in self.recent_folders if f != text]
        del self.recent_folders[MAX_RECENT:]

    # -- persistence
    @staticmethod
    def path() -> Path:
        return appdirs.user_config_dir() / SETTINGS_FILE

    @classmethod
    def load(cls) -> AppSettings:
        try:
            raw = json.loads(cls.path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        settings = cls()
        if not isinstance(raw, dict):
            return settings
        for f in fields(cls):
            if f.name == "overrides":
                continue
            value = raw.get(f.name)
            if value is not None and _fits(value, getattr(settings, f.name)):
                setattr(settings, f.name, value)
        settings._clamp()
        return settings

    def _clamp(self) -> None:
        self.top_k = max(1, min(int(self.top_k), 10))
        self.threshold = max(0.0, min(float(self.threshold), 1.0))
        if self.id3_version not in (3, 4):
            self.id3_version = 4
        try:
            check_layout(self.layout)
        except LayoutError:
            self.layout = DEFAULT_LAYOUT
        self.recent_folders = [str(f) for f in self.recent_folders if isinstance(f, str)][:MAX_RECENT]

    def save(self) -> None:
        """Atomic write: a crash never leaves half a settings file."""
        target = self.path()
        fd, tmp = tempfile.mkstemp(prefix=".settings-", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.persisted(), fh, indent=2)
            os.replace(tmp, target)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
            raise
