"""Read TensorFlow 1.x checkpoints (tensor bundles) without TensorFlow.

A checkpoint prefix ``P`` has two files:

* ``P.index``: a LevelDB-style SSTable whose keys are tensor names and whose values are
  ``BundleEntryProto`` messages (dtype, shape, shard, offset, size, crc32c). The empty key holds
  the ``BundleHeaderProto``.
* ``P.data-00000-of-00001``: the raw little-endian tensor bytes that the entries point into.

Only what TF writes for ordinary variables is supported: uncompressed (or snappy-flagged, rejected
with a clear error) blocks, numeric dtypes, one or more shards, no partitioned-variable slices.
The module also holds a tiny writer, used by the tests to produce a known table.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48  # two BlockHandles padded to 40 bytes + 8-byte magic
BLOCK_TRAILER_SIZE = 5  # 1 byte compression type + 4 bytes masked crc32c

# tensorflow/core/framework/types.proto -> numpy (little-endian)
DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"),  # DT_FLOAT
    2: np.dtype("<f8"),  # DT_DOUBLE
    3: np.dtype("<i4"),  # DT_INT32
    4: np.dtype("u1"),  # DT_UINT8
    5: np.dtype("<i2"),  # DT_INT16
    6: np.dtype("i1"),  # DT_INT8
    9: np.dtype("<i8"),  # DT_INT64
    10: np.dtype("?"),  # DT_BOOL
    17: np.dtype("<u2"),  # DT_UINT16
    19: np.dtype("<f2"),  # DT_HALF
    22: np.dtype("<u4"),  # DT_UINT32
    23: np.dtype("<u8"),  # DT_UINT64
}
DTYPE_CODES = {v: k for k, v in DTYPES.items()}


class CheckpointError(ValueError):
    """The checkpoint files are not a tensor bundle this reader understands."""


# ---------------------------------------------------------------- crc32c (Castagnoli)
def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """Plain crc32c; slow in pure Python but checkpoints here are a few MB."""
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def mask_crc(crc: int) -> int:
    """LevelDB/TF crc masking (so that CRCs of CRCs do not degenerate)."""
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# ---------------------------------------------------------------- protobuf wire format
def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode one base-128 varint at ``pos``; return (value, new position)."""
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise CheckpointError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def write_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def parse_fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """Split a protobuf message into (field number, value) pairs (varint, fixed or bytes)."""
    fields: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(buf, pos)
        elif wire == 1:
            value = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        elif wire == 2:
            length, pos = read_varint(buf, pos)
            value = bytes(buf[pos : pos + length])
            pos += length
        elif wire == 5:
            value = struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        else:
            raise CheckpointError(f"unsupported protobuf wire type {wire}")
        fields.append((number, value))
    return fields


@dataclass(frozen=True)
class BundleEntry:
    """One tensor's location: tensorflow/core/protobuf/tensor_bundle.proto BundleEntryProto."""

    name: str
    dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int | None
    has_slices: bool


def _parse_shape(buf: bytes) -> tuple[int, ...]:
    dims = []
    for number, value in parse_fields(buf):
        if number == 2:  # repeated Dim dim
            size = 0
            for n2, v2 in parse_fields(value):  # type: ignore[arg-type]
                if n2 == 1:
                    size = v2 if v2 < 1 << 63 else v2 - (1 << 64)  # int64
            dims.append(int(size))
        elif number == 3 and value:
            raise CheckpointError("tensor of unknown rank")
    return tuple(dims)


def parse_entry(name: str, buf: bytes) -> BundleEntry:
    dtype = shard = offset = size = 0
    shape: tuple[int, ...] = ()
    crc: int | None = None
    slices = False
    for number, value in parse_fields(buf):
        if number == 1:
            dtype = int(value)  # type: ignore[arg-type]
        elif number == 2:
            shape = _parse_shape(value)  # type: ignore[arg-type]
        elif number == 3:
            shard = int(value)  # type: ignore[arg-type]
        elif number == 4:
            offset = int(value)  # type: ignore[arg-type]
        elif number == 5:
            size = int(value)  # type: ignore[arg-type]
        elif number == 6:
            crc = int(value)  # type: ignore[arg-type]
        elif number == 7:
            slices = True
    return BundleEntry(name, dtype, shape, shard, offset, size, crc, slices)


# ---------------------------------------------------------------- SSTable
def _read_block(data: bytes, offset: int, size: int) -> bytes:
    """Return a block's contents after checking its trailer (type byte + masked crc)."""
    end = offset + size
    if end + BLOCK_TRAILER_SIZE > len(data):
        raise CheckpointError("block handle points past the end of the index file")
    block = data[offset:end]
    kind = data[end]
    stored = struct.unpack_from("<I", data, end + 1)[0]
    actual = mask_crc(crc32c(data[offset : end + 1]))
    if stored != actual:
        raise CheckpointError(f"index block at {offset} fails its crc check")
    if kind == 1:
        raise CheckpointError("snappy-compressed index blocks are not supported")
    if kind != 0:
        raise CheckpointError(f"unknown block compression type {kind}")
    return block


def _block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    """Decode a block: prefix-compressed (key, value) entries followed by restart offsets."""
    if len(block) < 4:
        raise CheckpointError("block too short")
    num_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 - 4 * num_restarts
    entries: list[tuple[bytes, bytes]] = []
    pos = 0
    key = b""
    while pos < limit:
        shared, pos = read_varint(block, pos)
        non_shared, pos = read_varint(block, pos)
        value_len, pos = read_varint(block, pos)
        key = key[:shared] + block[pos : pos + non_shared]
        pos += non_shared
        entries.append((key, block[pos : pos + value_len]))
        pos += value_len
    return entries


def _block_handle(buf: bytes, pos: int = 0) -> tuple[int, int, int]:
    offset, pos = read_varint(buf, pos)
    size, pos = read_varint(buf, pos)
    return offset, size, pos


def read_table(index_bytes: bytes) -> list[tuple[bytes, bytes]]:
    """All (key, value) pairs of an uncompressed LevelDB table, in key order."""
    if len(index_bytes) < FOOTER_SIZE:
        raise CheckpointError("index file too short for a table footer")
    footer = index_bytes[-FOOTER_SIZE:]
    if struct.unpack_from("<Q", footer, 40)[0] != TABLE_MAGIC:
        raise CheckpointError("index file does not end with the table magic number")
    _, _, pos = _block_handle(footer)  # metaindex handle (unused)
    index_off, index_size, _ = _block_handle(footer, pos)
    out: list[tuple[bytes, bytes]] = []
    for _last_key, handle in _block_entries(_read_block(index_bytes, index_off, index_size)):
        off, size, _ = _block_handle(handle)
        out.extend(_block_entries(_read_block(index_bytes, off, size)))
    return out


# ---------------------------------------------------------------- public API
class Checkpoint:
    """A TF1 checkpoint opened from its prefix (``dir/model.ckpt`` or ``dir/`` for empty prefixes)."""

    def __init__(self, prefix: str | Path) -> None:
        self.prefix = str(prefix)
        index_path = Path(self.prefix + ".index")
        if not index_path.is_file():
            raise CheckpointError(f"{index_path}: no such checkpoint index")
        self.entries: dict[str, BundleEntry] = {}
        self.num_shards = 1
        for key, value in read_table(index_path.read_bytes()):
            if key == b"":
                for number, v in parse_fields(value):
                    if number == 1:
                        self.num_shards = int(v)  # type: ignore[arg-type]
                    elif number == 2 and v == 1:  # endianness BIG
                        raise CheckpointError("big-endian checkpoints are not supported")
                continue
            name = key.decode("utf-8")
            self.entries[name] = parse_entry(name, value)
        self._shards: dict[int, bytes] = {}

    def _shard(self, shard_id: int) -> bytes:
        if shard_id not in self._shards:
            path = Path(f"{self.prefix}.data-{shard_id:05d}-of-{self.num_shards:05d}")
            if not path.is_file():
                raise CheckpointError(f"{path}: missing checkpoint data shard")
            self._shards[shard_id] = path.read_bytes()
        return self._shards[shard_id]

    def names(self) -> list[str]:
        return sorted(self.entries)

    def shape(self, name: str) -> tuple[int, ...]:
        return self.entries[name].shape

    def tensor(self, name: str, verify: bool = True) -> np.ndarray:
        """The named tensor as a fresh numpy array; ``verify`` checks the stored crc32c."""
        entry = self.entries[name]
        if entry.has_slices:
            raise CheckpointError(f"{name}: partitioned (sliced) variables are not supported")
        if entry.dtype not in DTYPES:
            raise CheckpointError(f"{name}: unsupported dtype code {entry.dtype}")
        dtype = DTYPES[entry.dtype]
        raw = self._shard(entry.shard_id)[entry.offset : entry.offset + entry.size]
        if len(raw) != entry.size:
            raise CheckpointError(f"{name}: data shard is truncated")
        if verify and entry.crc32c is not None and mask_crc(crc32c(raw)) != entry.crc32c:
            raise CheckpointError(f"{name}: tensor data fails its crc check")
        count = int(np.prod(entry.shape, dtype=np.int64)) if entry.shape else 1
        if count * dtype.itemsize != entry.size:
            raise CheckpointError(f"{name}: size {entry.size} does not match shape {entry.shape}")
        return np.frombuffer(raw, dtype=dtype).reshape(entry.shape).copy()


# ---------------------------------------------------------------- writer (for tests/fixtures)
def _encode_field(number: int, wire: int, payload: bytes) -> bytes:
    return write_varint(number << 3 | wire) + payload


def _encode_entry(dtype: int, shape: tuple[int, ...], offset: int, size: int, crc: int) -> bytes:
    dims = b"".join(
        _encode_field(2, 2, write_varint(len(d)) + d)
        for d in (_encode_field(1, 0, write_varint(n)) for n in shape)
    )
    out = _encode_field(1, 0, write_varint(dtype))
    out += _encode_field(2, 2, write_varint(len(dims)) + dims)
    if offset:
        out += _encode_field(4, 0, write_varint(offset))
    out += _encode_field(5, 0, write_varint(size))
    out += _encode_field(6, 5, struct.pack("<I", crc))
    return out


def _encode_block(entries: list[tuple[bytes, bytes]], restart_interval: int = 2) -> bytes:
    out = bytearray()
    restarts = []
    prev = b""
    for i, (key, value) in enumerate(entries):
        if i % restart_interval == 0:
            restarts.append(len(out))
            shared = 0
        else:
            shared = 0
            while shared < min(len(prev), len(key)) and prev[shared] == key[shared]:
                shared += 1
        out += write_varint(shared) + write_varint(len(key) - shared) + write_varint(len(value))
        out += key[shared:] + value
        prev = key
    for r in restarts or [0]:
        out += struct.pack("<I", r)
    out += struct.pack("<I", len(restarts or [0]))
    return bytes(out)


def write_checkpoint(prefix: str | Path, tensors: dict[str, np.ndarray], block_entries: int = 2) -> None:
    """Write a single-shard TF tensor bundle (several small data blocks, to exercise the index)."""
    data = bytearray()
    items: list[tuple[bytes, bytes]] = [
        (b"", _encode_field(1, 0, write_varint(1)) + _encode_field(3, 2, b"\x08\x01"))
    ]
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])  # not ascontiguousarray: it turns scalars into shape (1,)
        dt = arr.dtype.newbyteorder("<") if arr.dtype.itemsize > 1 else arr.dtype
        raw = arr.astype(dt).tobytes(order="C")
        entry = _encode_entry(
            DTYPE_CODES[np.dtype(dt)], arr.shape, len(data), len(raw), mask_crc(crc32c(raw))
        )
        items.append((name.encode(), entry))
        data += raw
    table = bytearray()
    index_items = []
    for start in range(0, len(items), block_entries):
        chunk = items[start : start + block_entries]
        block = _encode_block(chunk)
        handle = write_varint(len(table)) + write_varint(len(block))
        table += block + b"\x00" + struct.pack("<I", mask_crc(crc32c(block + b"\x00")))
        index_items.append((chunk[-1][0], handle))
    meta = _encode_block([])
    meta_handle = write_varint(len(table)) + write_varint(len(meta))
    table += meta + b"\x00" + struct.pack("<I", mask_crc(crc32c(meta + b"\x00")))
    index_block = _encode_block(index_items, restart_interval=1)
    index_handle = write_varint(len(table)) + write_varint(len(index_block))
    table += index_block + b"\x00" + struct.pack("<I", mask_crc(crc32c(index_block + b"\x00")))
    footer = (meta_handle + index_handle).ljust(40, b"\x00") + struct.pack("<Q", TABLE_MAGIC)
    table += footer
    Path(str(prefix) + ".index").write_bytes(bytes(table))
    Path(f"{prefix}.data-00000-of-00001").write_bytes(bytes(data))


if __name__ == "__main__":
    import sys

    ckpt = Checkpoint(sys.argv[1])
    for n in ckpt.names():
        e = ckpt.entries[n]
        print(f"{n:60s} {DTYPES.get(e.dtype, e.dtype)} {e.shape}")
