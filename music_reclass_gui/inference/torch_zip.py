"""Reading a ``torch.save`` file of plain data (dicts, lists, numbers, strings, tensors) without torch.

Why: importing torch costs 1.5-2 s, more than everything else a cold ``music-reclass classify ONE_FILE``
does. The small heads that turn tagger features into genres are ``torch.save`` files; this reads them into
numpy arrays so the CPU classify path (ONNX Runtime taggers, numpy heads) never imports torch.

A ``torch.save`` file (format since torch 1.6) is a zip: ``<archive>/data.pkl`` is a pickle whose tensors
point at raw little-endian storages ``<archive>/data/<key>`` via pickle persistent ids. Only the classes that
``torch.load(weights_only=True)`` allows for plain tensors are accepted here; anything else (pickled code,
custom classes) is refused with the reason, as torch would refuse it.
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name]).newbyteorder("<")


def _rebuild_tensor(storage: np.ndarray, offset: int, size, stride, *_unused) -> np.ndarray:
    """A tensor view over its storage, copied out (torch._utils._rebuild_tensor_v2's arguments)."""
    item = storage.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=tuple(size), strides=tuple(s * item for s in stride)
    )
    return np.array(view, dtype=storage.dtype.newbyteorder("="))


class _Unpickler(pickle.Unpickler):
    def __init__(self, fh, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(fh)
        self.archive = archive
        self.prefix = prefix

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"{module}.{name} is not plain tensor data")

    def persistent_load(self, pid: Any) -> np.ndarray:
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        storage_type, key = pid[1], pid[2]
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unsupported storage {storage_type!r}")
        raw = self.archive.read(f"{self.prefix}/data/{key}")
        return np.frombuffer(raw, dtype=storage_type.dtype)


def load(path: str | Path) -> Any:
    """The object saved in ``path`` with every tensor as a numpy array. Raises ValueError (with the reason)
    for a file that is not a zip ``torch.save`` of plain data, or one written on a big-endian machine."""
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ValueError("not a torch.save zip file") from exc
    with archive:
        pkl = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkl) != 1:
            raise ValueError("no data.pkl record in the archive")
        prefix = pkl[0].split("/")[0]
        if f"{prefix}/byteorder" in archive.namelist():
            order = archive.read(f"{prefix}/byteorder").decode("ascii", "replace").strip()
            if order != "little":
                raise ValueError(f"stored {order}-endian, only little-endian files are read")
        with archive.open(pkl[0]) as fh:
            try:
                return _Unpickler(fh, archive, prefix).load()
            except (pickle.UnpicklingError, KeyError, EOFError, TypeError, IndexError) as exc:
                raise ValueError(str(exc)) from exc
