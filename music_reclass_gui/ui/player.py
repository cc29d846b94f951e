"""Play/pause preview of the selected track (QtMultimedia). Listening is part of reviewing, but a machine
without audio libraries must still run the app: when QtMultimedia cannot load, the button is disabled and its
tooltip says why."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QStyle, QToolButton, QWidget

try:  # QtMultimedia needs PySide6-Addons and system audio libraries (libpulse)
    from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer

    MULTIMEDIA_ERROR: str | None = None
except Exception as exc:  # ImportError or a missing shared library
    QAudioOutput = QMediaPlayer = None  # type: ignore[assignment,misc]
    MULTIMEDIA_ERROR = f"Preview unavailable: QtMultimedia could not load ({exc})"


def _clock(ms: int) -> str:
    s = max(0, ms) // 1000
    return f"{s // 60}:{s % 60:02d}"


class PreviewPlayer(QWidget):
    """A compact transport: play/pause, a seek slider and the time. The media player is created on the first
    play, so an app that never previews never loads the multimedia backend."""

    error = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._path: Path | None = None
        self._player = None
        self._output = None
        self.button = QToolButton(self)
        self.button.setAutoRaise(True)
        self.button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.button.setShortcut("Space")
        self.button.clicked.connect(self.toggle)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setEnabled(False)
        self.slider.sliderMoved.connect(self._seek)
        self.time = QLabel("0:00", self)
        self.time.setMinimumWidth(self.time.fontMetrics().horizontalAdvance("00:00 / 00:00"))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.button)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.time)
        self.set_track(None)

    @property
    def available(self) -> bool:
        return MULTIMEDIA_ERROR is None

    @property
    def playing(self) -> bool:
        return (
            self._player is not None
            and self._player.playbackState() == QMediaPlayer.PlaybackState.PlayingState
        )

    def set_track(self, path: Path | None) -> None:
        """Select what Play will play; switching tracks stops the previous one."""
        if path == self._path:
            return
        self.stop()
        self._path = path
        if not self.available:
            self.button.setEnabled(False)
            self.button.setToolTip(MULTIMEDIA_ERROR or "")
            return
        self.button.setEnabled(path is not None)
        self.button.setToolTip(
            f"Play a preview of {path.name} (Space)" if path else "Select a track to preview"
        )
        if self._player is not None and path is not None:
            self._player.setSource(QUrl.fromLocalFile(str(path)))
        self.time.setText("0:00")
        self.slider.setValue(0)

    def _ensure_player(self) -> bool:
        if self._player is not None:
            return True
        if not self.available:
            return False
        try:
            self._output = QAudioOutput(self)
            self._player = QMediaPlayer(self)
            self._player.setAudioOutput(self._output)
        except Exception as exc:  # no audio device at all: say so, stay alive
            self._disable(f"Preview unavailable: {exc}")
            return False
        self._player.playbackStateChanged.connect(self._state_changed)
        self._player.positionChanged.connect(self._position_changed)
        self._player.durationChanged.connect(lambda d: self.slider.setRange(0, int(d)))
        self._player.errorOccurred.connect(self._player_error)
        if self._path is not None:
            self._player.setSource(QUrl.fromLocalFile(str(self._path)))
        return True

    def _disable(self, reason: str) -> None:
        self.button.setEnabled(False)
        self.button.setToolTip(reason)
        self.error.emit(reason)

    def toggle(self) -> None:
        if self._path is None or not self._ensure_player():
            return
        if self.playing:
            self._player.pause()
        else:
            self._player.play()

    def stop(self) -> None:
        if self._player is not None:
            self._player.stop()

    def _seek(self, ms: int) -> None:
        if self._player is not None:
            self._player.setPosition(ms)

    def _state_changed(self, state) -> None:
        playing = state == QMediaPlayer.PlaybackState.PlayingState
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.button.setIcon(self.style().standardIcon(icon))
        self.slider.setEnabled(self._player is not None and self._player.duration() > 0)

    def _position_changed(self, ms: int) -> None:
        if not self.slider.isSliderDown():
            self.slider.setValue(int(ms))
        self.time.setText(f"{_clock(ms)} / {_clock(self._player.duration())}")

    def _player_error(self, _err, message: str = "") -> None:
        name = self._path.name if self._path else "track"
        self.error.emit(f"Cannot play {name}: {message or self._player.errorString()}")
