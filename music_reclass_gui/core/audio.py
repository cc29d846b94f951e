"""Decode any supported music file to mono float32 at a requested sample rate.

soundfile (libsndfile) handles WAV, FLAC, OGG Vorbis, Opus, MP3 and AIFF and can seek, so an excerpt costs
only the frames it covers; M4A/AAC and anything libsndfile refuses go through PyAV with a container seek.
Every failure, whichever library raised it, is translated in `_decode_errors` into a DecodeError that names
the file and says why in plain words.
"""

from __future__ import annotations

import contextlib
import errno
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from music_reclass_gui.core.errors import DecodeError

# Lower-case extensions the app treats as music (content sniffing may add files without them).
SUPPORTED_EXTENSIONS = frozenset(
    {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".m4a", ".mp4", ".aac"}
)
# Containers libsndfile cannot open: go straight to PyAV instead of failing once first.
_PYAV_FIRST = frozenset({".m4a", ".mp4", ".aac"})
_PYAV_FORMATS = frozenset({"m4a", "aac"})
SNIFF_BYTES = 64  # enough for every signature in sniff_format
# Decoding never holds more than this much audio of one file, whatever its header claims (a streaming WAV
# header says 0xFFFFFFFF bytes: 6.8 hours at 44.1 kHz stereo). Excerpts are far shorter.
MAX_DECODE_S = 600.0
BLOCK_S = 10.0  # multi-channel audio is read and mixed to mono in blocks of this many seconds
# ISO-BMFF brands of still images (HEIC/AVIF photos, Canon raw) that share the MP4 `ftyp` box.
_IMAGE_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis", b"crx "}
)


# --------------------------------------------------------------------------------------------- sniffing
def _mpeg_audio_header_ok(b: bytes) -> bool:
    """A plausible MPEG-1/2/2.5 layer I-III frame header (rejects reserved values, so random binary rarely
    passes)."""
    if len(b) < 4 or b[0] != 0xFF or (b[1] & 0xE0) != 0xE0:
        return False
    version = (b[1] >> 3) & 0x3
    layer = (b[1] >> 1) & 0x3
    bitrate = b[2] >> 4
    rate = (b[2] >> 2) & 0x3
    return version != 1 and layer != 0 and bitrate not in (0, 15) and rate != 3


def sniff_format(head: bytes) -> str | None:
    """Name the audio format from a file's first bytes ("wav", "flac", "ogg", "opus", "mp3", "aiff",
    "m4a", "aac"), or None when the content is not a known audio container. Shared by decoding (to tell
    "not audio" from "damaged") and by the library scan (to find mis-named files)."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "opus" if b"OpusHead" in head else "ogg"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[4:8] == b"ftyp" and head[8:12] not in _IMAGE_BRANDS:
        return "m4a"
    if head[:3] == b"ID3":
        return "mp3"
    if _mpeg_audio_header_ok(head[:4]):
        return "mp3"
    # ADTS AAC: 12-bit sync, layer bits 00.
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xF6) == 0xF0:
        return "aac"
    return None


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\r\n\t" for c in text)


# ------------------------------------------------------------------------------------------ errors
class _Failure(Exception):
    """Internal: a decoder said no; `kind` picks the human reason in `_decode_errors`."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


_OS_REASONS = {
    errno.ENOENT: "file not found",
    errno.EACCES: "permission denied: the file cannot be read",
    errno.EPERM: "permission denied: the file cannot be read",
    errno.EISDIR: "is a folder, not an audio file",
    errno.EIO: "input/output error while reading (failing disk or network share?)",
}


def _reason_for(exc: BaseException, sniffed: str | None, head: bytes) -> str:
    """The one place library exceptions become human reasons."""
    import av
    import soundfile as sf

    if isinstance(exc, _Failure):
        kind, detail = exc.kind, exc.detail
    elif isinstance(exc, OSError) and not isinstance(exc, av.FFmpegError):
        return _OS_REASONS.get(exc.errno or 0, f"cannot read the file ({exc.strerror or exc})")
    elif isinstance(exc, sf.LibsndfileError):
        kind, detail = "decoder", exc.error_string
        if "does not exist" in detail or "not recognised" in detail:  # libsndfile's wording for "unknown"
            detail = "format not recognised"
    elif isinstance(exc, av.FFmpegError):
        kind, detail = "decoder", exc.strerror or str(exc)
    else:
        kind, detail = "decoder", f"{type(exc).__name__}: {exc}"
    suffix = f" ({detail})" if detail else ""
    if kind == "empty":
        return "file is empty (0 bytes)"
    if kind == "truncated":
        return f"file is truncated: it ends before its header says it should{suffix}"
    if kind == "no_samples":
        return "file contains no audio samples (damaged or truncated?)"
    if kind == "unsupported_codec":
        return f"unsupported codec{suffix}: no decoder available for this audio encoding"
    if kind == "no_audio_stream":
        return "not an audio file: the container has no audio stream"
    if sniffed is None:
        hint = " (it looks like text)" if _looks_like_text(head) else ""
        return f"not an audio file{hint}: its content is not a recognised audio format"
    return f"damaged or truncated {sniffed.upper()} file, the decoder failed{suffix}"


@contextlib.contextmanager
def _decode_errors(path: Path, probe: dict) -> Iterator[None]:
    """Translate soundfile / PyAV / OSError failures into DecodeError naming `path`. `probe` carries the
    sniffed format and head bytes once known, so the reason can tell "not audio" from "damaged"."""
    try:
        yield
    except DecodeError:
        raise
    except Exception as exc:  # every decoder error ends here, once
        reason = _reason_for(exc, probe.get("format"), probe.get("head", b""))
        raise DecodeError(path, reason) from exc


# ----------------------------------------------------------------------------------------- reading
class _Refused(Exception):
    """Internal: libsndfile would not open the file at all (PyAV gets a try)."""

    def __init__(self, exc: BaseException):
        super().__init__(str(exc))
        self.exc = exc


def _open_checked(path: Path, probe: dict) -> None:
    """Fail early and clearly for missing, unreadable, empty files; remember the sniffed format."""
    with open(path, "rb") as fh:  # raises FileNotFoundError / PermissionError / IsADirectoryError
        head = fh.read(SNIFF_BYTES)
    probe["head"] = head
    probe["format"] = sniff_format(head)
    if not head:
        raise _Failure("empty")


def _riff_aiff_truncated(path: Path, head: bytes) -> str | None:
    """WAV/AIFF: libsndfile silently shortens a file whose data chunk runs past the end; say so instead."""
    if head[:4] == b"RIFF":
        endian, data_id = "<", b"data"
    elif head[:4] == b"FORM":
        endian, data_id = ">", b"SSND"
    else:
        return None
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            chunk = fh.read(8)
            if len(chunk) < 8:
                break
            cid, csize = chunk[:4], struct.unpack(endian + "I", chunk[4:])[0]
            if cid == data_id:
                if csize in (0, 0xFFFFFFFF):  # streaming writers leave the size unknown
                    return None
                missing = pos + 8 + csize - size
                return f"{missing} bytes of audio data missing" if missing > 0 else None
            pos += 8 + csize + (csize & 1)
    return None


def _ogg_truncated(path: Path) -> str | None:
    """Ogg: a complete stream ends with a page carrying the end-of-stream flag."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        fh.seek(max(0, size - 65536))
        tail = fh.read()
    at = tail.rfind(b"OggS")
    if at < 0 or len(tail) - at < 27:
        return "last Ogg page is incomplete"
    nsegs = tail[at + 26]
    if len(tail) - at < 27 + nsegs:
        return "last Ogg page is incomplete"
    page_len = 27 + nsegs + sum(tail[at + 27 : at + 27 + nsegs])
    if len(tail) - at < page_len:
        return "last Ogg page is incomplete"
    if not tail[at + 5] & 0x04:
        return "the stream has no end-of-stream page"
    return None


def _to_mono(block: np.ndarray) -> np.ndarray:
    """(n, channels) -> (n,), averaging channels."""
    if block.ndim == 2:
        block = block[:, 0] if block.shape[1] == 1 else block.mean(axis=1)
    return np.ascontiguousarray(block, dtype=np.float32)


def _read_soundfile(path: Path, offset: float, duration: float | None, probe: dict) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        f = sf.SoundFile(os.fsencode(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise _Refused(exc) from exc
    with f:
        rate = f.samplerate
        declared = f.frames
        start = int(round(offset * rate))
        cap = int(MAX_DECODE_S * rate)
        if duration is not None:
            wanted = min(int(round(duration * rate)), cap)
        else:  # everything from `start`, bounded whatever the header says
            wanted = min(declared - start, cap) if declared > 0 else cap
        if start < declared or declared <= 0:
            if start:
                f.seek(start)
            mono = _read_mono_blocks(f, wanted)
        else:
            mono = np.zeros(0, dtype=np.float32)
    got = mono.size
    if got < wanted or start + got >= declared:  # the decoder reached the end: was it the real end?
        fmt = probe.get("format")
        problem = None
        if fmt in ("wav", "aiff"):
            problem = _riff_aiff_truncated(path, probe["head"])
        elif fmt in ("ogg", "opus"):
            problem = _ogg_truncated(path)
        if problem is None and declared > 0 and start + got < declared - max(4096, declared // 100):
            problem = f"decoded {(start + got) / rate:.1f} s of {declared / rate:.1f} s"
        if problem:
            raise _Failure("truncated", problem)
    return mono, rate


def _read_mono_blocks(f, wanted: int) -> np.ndarray:
    """Read up to `wanted` frames in BLOCK_S blocks, each mixed to mono at once: memory stays at the mono
    result plus one multi-channel block, never the whole multi-channel signal."""
    out = np.empty(max(0, wanted), dtype=np.float32)
    block = max(1, int(BLOCK_S * f.samplerate))
    n = 0
    while n < wanted:
        chunk = f.read(min(block, wanted - n), dtype="float32", always_2d=True)
        if not chunk.shape[0]:
            break
        out[n : n + chunk.shape[0]] = _to_mono(chunk)
        n += chunk.shape[0]
    return out[:n].copy() if n < out.size // 2 else out[:n]


def _codec_hint(path: Path) -> str:
    """Name the undecodable encoding where the header says it plainly (WAV format tag)."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    if head[:4] == b"RIFF" and head[12:16] == b"fmt ":
        return f"WAV format tag 0x{struct.unpack('<H', head[20:22])[0]:04X}"
    return ""


def _read_pyav(path: Path, offset: float, duration: float | None) -> tuple[np.ndarray, int]:
    import av

    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise _Failure("no_audio_stream")
        stream = container.streams.audio[0]
        if stream.codec_context is None:
            raise _Failure("unsupported_codec", _codec_hint(path))
        rate = stream.codec_context.sample_rate
        tb = stream.time_base
        t_origin = float(stream.start_time * tb) if stream.start_time is not None and tb else 0.0
        if offset > 0:
            with contextlib.suppress(av.FFmpegError):  # unseekable: decode from the start and trim
                container.seek(int((t_origin + offset) * av.time_base), backward=True, any_frame=False)
        end = offset + (MAX_DECODE_S if duration is None else min(duration, MAX_DECODE_S))
        resampler = av.AudioResampler(format="fltp")  # keep layout and rate: soxr resamples later
        chunks: list[np.ndarray] = []
        position = None  # seconds (relative to stream start) of the next sample when pts is missing
        for frame in container.decode(stream):
            rate = frame.sample_rate or rate
            if frame.pts is not None and frame.time_base:
                t0 = float(frame.pts * frame.time_base) - t_origin
            else:
                t0 = position if position is not None else 0.0
            if end is not None and t0 >= end:
                break
            for out in resampler.resample(frame):
                samples = out.to_ndarray()  # (channels, n) float32
                mono = samples[0] if samples.shape[0] == 1 else samples.mean(axis=0)
                skip = max(0, int(round((offset - t0) * rate)))
                keep = mono[skip:]
                if end is not None:
                    keep = keep[: max(0, int(round((end - max(t0, offset)) * rate)))]
                if keep.size:
                    chunks.append(keep.astype(np.float32, copy=False))
                t0 += mono.size / rate
            position = t0
        declared = None
        if stream.duration is not None and tb:
            declared = float(stream.duration * tb)
        elif container.duration is not None:
            declared = container.duration / av.time_base
    data = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    data = data[: int(round((end - offset) * rate))]
    reached = offset + data.size / rate
    if reached < end - 1e-3 and declared and reached < declared * 0.99 - 0.1 and offset < declared:
        raise _Failure("truncated", f"decoded {reached:.1f} s of {declared:.1f} s")
    return data, rate


def load_audio(path: str | Path, sr: int, offset: float = 0.0, duration: float | None = None) -> np.ndarray:
    """Mono float32 samples at `sr` Hz, shape (n,). Only [offset, offset+duration) is decoded; an excerpt
    running past the end is returned shorter. Raises DecodeError naming the file and the reason."""
    path = Path(path)
    if offset < 0 or (duration is not None and duration <= 0) or sr <= 0:
        raise ValueError(f"bad excerpt/sample rate: offset={offset} duration={duration} sr={sr}")
    probe: dict = {}
    with _decode_errors(path, probe):
        _open_checked(path, probe)
        fmt = probe["format"]
        if path.suffix.lower() in _PYAV_FIRST or fmt in _PYAV_FORMATS:
            data, rate = _read_pyav(path, offset, duration)
        else:
            try:
                data, rate = _read_soundfile(path, offset, duration, probe)
            except _Refused as refused:  # libsndfile cannot open it: PyAV may still know the format
                try:
                    data, rate = _read_pyav(path, offset, duration)
                except _Failure:
                    raise
                except Exception:
                    raise refused.exc from None
        if data.size == 0 and offset == 0:
            raise _Failure("no_samples")
    if rate != sr and data.size:
        import soxr

        data = soxr.resample(data, rate, sr, quality="HQ").astype(np.float32, copy=False)
    return data


def check_complete(path: str | Path) -> None:
    """Raise DecodeError when the file visibly ends early (a WAV/AIFF data chunk running past the end, an
    Ogg stream without its last page): a cheap look at the header and the last 64 KiB, so a damaged file is
    reported instead of classified from the part that survived."""
    path = Path(path)
    probe: dict = {}
    with _decode_errors(path, probe):
        _open_checked(path, probe)
        fmt = probe["format"]
        problem = None
        if fmt in ("wav", "aiff"):
            problem = _riff_aiff_truncated(path, probe["head"])
        elif fmt in ("ogg", "opus"):
            problem = _ogg_truncated(path)
        if problem:
            raise _Failure("truncated", problem)


def _pcm_duration(path: Path) -> float | None:
    """WAV/AIFF length from libsndfile, which counts the frames actually in the file: mutagen trusts the
    data chunk size, which streaming writers (ffmpeg to a pipe) leave at 0xFFFFFFFF."""
    import soundfile as sf

    try:
        info = sf.info(os.fsencode(path))
    except Exception:
        return None
    return info.frames / info.samplerate if info.frames > 0 and info.samplerate > 0 else None


def audio_duration(path: str | Path) -> float:
    """Duration in seconds from the container header, without decoding. Raises DecodeError."""
    path = Path(path)
    probe: dict = {}
    with _decode_errors(path, probe):
        _open_checked(path, probe)
        if probe["format"] in ("wav", "aiff") and (pcm := _pcm_duration(path)) is not None:
            return pcm
        import mutagen

        try:
            f = mutagen.File(path)
        except mutagen.MutagenError:
            f = None
        if f is not None and f.info is not None and getattr(f.info, "length", 0) > 0:
            return float(f.info.length)
        try:
            import soundfile as sf

            info = sf.info(os.fsencode(path))
            if info.frames > 0:
                return info.frames / info.samplerate
        except Exception:
            pass
        import av

        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise _Failure("no_audio_stream")
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return container.duration / av.time_base
        raise _Failure("decoder", "the header gives no duration")
