"""Where things live: the project's shipped resources/models and the user's platformdirs folders.

Every location can be overridden by an environment variable so tests (and portable installs) never touch
the real user folders: MUSIC_RECLASS_CACHE_DIR, MUSIC_RECLASS_DATA_DIR, MUSIC_RECLASS_CONFIG_DIR,
MUSIC_RECLASS_MODELS_DIR, MUSIC_RECLASS_RESOURCES_DIR.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "music-reclass"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _dir(env: str, default: Path, create: bool = True) -> Path:
    path = Path(os.environ[env]) if os.environ.get(env) else default
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def user_cache_dir() -> Path:
    return _dir("MUSIC_RECLASS_CACHE_DIR", Path(platformdirs.user_cache_dir(APP_NAME)))


def user_data_dir() -> Path:
    """Journal of operations, personal models."""
    return _dir("MUSIC_RECLASS_DATA_DIR", Path(platformdirs.user_data_dir(APP_NAME)))


def user_config_dir() -> Path:
    """Settings, recent folders, the user's genre map override."""
    return _dir("MUSIC_RECLASS_CONFIG_DIR", Path(platformdirs.user_config_dir(APP_NAME)))


def shipped_models_dir() -> Path:
    return _dir("MUSIC_RECLASS_MODELS_DIR", PROJECT_ROOT / "models", create=False)


def user_models_dir() -> Path:
    """Models the user trained (personal genres, own datasets)."""
    return _dir("MUSIC_RECLASS_USER_MODELS_DIR", user_data_dir() / "models")


def resources_dir() -> Path:
    return _dir("MUSIC_RECLASS_RESOURCES_DIR", PROJECT_ROOT / "resources", create=False)
