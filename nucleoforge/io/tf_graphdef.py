"""Read a frozen TensorFlow ``GraphDef`` (``.pb``) without TensorFlow or protobuf.

A frozen graph is one protobuf message, ``tensorflow.GraphDef``, whose nodes carry their
weights as ``Const`` tensors. Converting one needs only a handful of its messages, so this
module decodes the protobuf wire format itself (varints, fixed 32/64-bit and length-delimited
fields) for exactly these, by field number as in TensorFlow's ``.proto`` files:

* ``GraphDef``: ``node`` (1); everything else (``versions``, ``library``) is skipped;
* ``NodeDef``: ``name`` (1), ``op`` (2), ``input`` (3, repeated), ``device`` (4), ``attr`` (5,
  ``map<string, AttrValue>``);
* ``AttrValue``: ``list`` (1), ``s`` (2), ``i`` (3), ``f`` (4), ``b`` (5), ``type`` (6),
  ``shape`` (7), ``tensor`` (8); ``ListValue`` uses the same numbers for its repeated fields;
* ``TensorProto``: ``dtype`` (1), ``tensor_shape`` (2), ``tensor_content`` (4) and the typed
  value lists ``float_val`` (5), ``double_val`` (6), ``int_val`` (7), ``int64_val`` (10),
  ``bool_val`` (11), ``half_val`` (13);
* ``TensorShapeProto``: ``dim`` (2, each ``size`` (1)), ``unknown_rank`` (3).

Why not protobuf message classes from another package: the smallest pure-Python package that
ships the GraphDef classes is TensorBoard (``tensorboard.compat.proto``). ``tensorboard`` 2.21.0 is
a 5.5 MB wheel (8.6 MB installed, 35 generated ``_pb2`` modules) that requires ``grpcio`` (a
compiled extension, ~19 MB installed), ``absl-py``, ``markdown``, ``werkzeug``, ``pillow``,
``setuptools``, ``tensorboard-data-server`` and ``protobuf>=6.31.1,<8``, a range that would then
constrain every other package of the environment. The subset above is ~300 lines with no
dependency beyond NumPy, is fixed by TensorFlow's wire compatibility (field numbers never
change), and turns every malformed byte into one error line naming the file instead of a
``DecodeError`` from inside a generated class.

>>> node = bytes([10, 1]) + b"x" + bytes([18, 5]) + b"Const"  # NodeDef name="x", op="Const"
>>> graph = read_graphdef_bytes(bytes([10, len(node)]) + node)
>>> [(n.name, n.op) for n in graph]
[('x', 'Const')]
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nucleoforge.errors import MissingPathError, NucleoforgeError

#: TensorFlow ``DataType`` enum values this reader turns into NumPy arrays.
DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"),  # DT_FLOAT
    2: np.dtype("<f8"),  # DT_DOUBLE
    3: np.dtype("<i4"),  # DT_INT32
    4: np.dtype("u1"),  # DT_UINT8
    5: np.dtype("<i2"),  # DT_INT16
    6: np.dtype("i1"),  # DT_INT8
    9: np.dtype("<i8"),  # DT_INT64
    10: np.dtype("?"),  # DT_BOOL
    19: np.dtype("<f2"),  # DT_HALF
}

# TensorProto field of the typed value list for each dtype (when tensor_content is empty).
_VALUE_FIELD = {1: 5, 2: 6, 3: 7, 4: 7, 5: 7, 6: 7, 9: 10, 10: 11, 19: 13}


class _Malformed(Exception):
    """Internal: the bytes are not a valid message (turned into one NucleoforgeError line)."""


@dataclass
class NodeDef:
    """One graph node: ``name``, ``op``, ``inputs`` (``"name"``, ``"name:1"``, ``"^ctrl"``), ``attr``.

    ``attr`` values are decoded: ``int``, ``float``, ``bool``, ``bytes`` (``s``), a dtype code
    (``type``, as ``("type", code)``), a shape (``tuple`` of sizes, ``None`` for unknown rank),
    a tensor (:class:`numpy.ndarray`) or a ``list`` of these.
    """

    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    device: str = ""
    attr: dict[str, Any] = field(default_factory=dict)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise _Malformed(f"varint runs past the end at byte {pos}")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes):
    """Yield ``(field_number, wire_type, value)``; value is an int (wire 0, 1, 5) or bytes (wire 2)."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _Malformed(f"field number 0 at byte {pos}")
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            if pos + 8 > end:
                raise _Malformed(f"64-bit field {number} runs past the end")
            value, pos = int.from_bytes(buf[pos : pos + 8], "little"), pos + 8
        elif wire == 5:
            if pos + 4 > end:
                raise _Malformed(f"32-bit field {number} runs past the end")
            value, pos = int.from_bytes(buf[pos : pos + 4], "little"), pos + 4
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > end:
                raise _Malformed(f"field {number} declares {length} bytes but only {end - pos} remain")
            value, pos = buf[pos : pos + length], pos + length
        else:
            raise _Malformed(f"unsupported wire type {wire} (field {number})")
        yield number, wire, value


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _f32(v: int) -> float:
    return struct.unpack("<f", v.to_bytes(4, "little"))[0]


def _repeated_ints(wire: int, value) -> list[int]:
    """A repeated varint field, packed (wire 2) or not."""
    if wire == 0:
        return [value]
    out, pos = [], 0
    while pos < len(value):
        v, pos = _varint(value, pos)
        out.append(v)
    return out


def _repeated_fixed(wire: int, value, size: int) -> bytes:
    """The raw little-endian bytes of a repeated fixed-width field, packed or not."""
    if wire == 2:
        if len(value) % size:
            raise _Malformed(f"packed field of {len(value)} bytes is not a multiple of {size}")
        return bytes(value)
    return value.to_bytes(size, "little")


def _text(value: bytes) -> str:
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Malformed(f"string field is not UTF-8 ({exc.reason})") from None


def parse_shape(buf: bytes) -> tuple[int, ...] | None:
    """``TensorShapeProto`` -> tuple of sizes (``-1`` unknown), ``None`` when the rank is unknown."""
    dims: list[int] = []
    for number, wire, value in _fields(buf):
        if number == 2 and wire == 2:
            size = 0
            for n, w, v in _fields(value):
                if n == 1 and w == 0:
                    size = _signed(v)
            dims.append(size)
        elif number == 3 and wire == 0 and value:
            return None
    return tuple(dims)


def parse_tensor(buf: bytes) -> np.ndarray:
    """``TensorProto`` -> :class:`numpy.ndarray` of its dtype and shape.

    Values come from ``tensor_content`` (raw little-endian bytes) or, when that is empty, the
    typed value list; as in TensorFlow, a list shorter than the shape repeats its last value.
    """
    dtype_code, shape, content = 1, (), b""
    typed: dict[int, list[tuple[int, Any]]] = {}
    for number, wire, value in _fields(buf):
        if number == 1 and wire == 0:
            dtype_code = value
        elif number == 2 and wire == 2:
            shape = parse_shape(value)
        elif number == 4 and wire == 2:
            content = bytes(value)
        else:
            typed.setdefault(number, []).append((wire, value))
    if dtype_code not in DTYPES:
        raise _Malformed(f"tensor of unsupported dtype code {dtype_code}")
    if shape is None or any(d < 0 for d in shape):
        raise _Malformed(f"constant tensor with unknown shape {shape}")
    dtype, count = DTYPES[dtype_code], int(np.prod(shape, dtype=np.int64))
    if content:
        if len(content) != count * dtype.itemsize:
            raise _Malformed(f"tensor_content has {len(content)} bytes, shape {shape} of {dtype} needs {count * dtype.itemsize}")
        return np.frombuffer(content, dtype=dtype).reshape(shape).copy()
    entries = typed.get(_VALUE_FIELD[dtype_code], [])
    if dtype_code in (1, 2):
        size = dtype.itemsize
        values = np.frombuffer(b"".join(_repeated_fixed(w, v, size) for w, v in entries), dtype=dtype)
    else:
        ints = [i for w, v in entries for i in _repeated_ints(w, v)]
        if dtype_code == 19:  # half_val holds the float16 bit patterns as int32
            values = np.array(ints, dtype=np.uint16).view(np.float16)
        else:
            values = np.array([_signed(i) for i in ints], dtype=np.int64).astype(dtype)
    if len(values) > count:
        raise _Malformed(f"tensor has {len(values)} values for shape {shape}")
    if len(values) < count:
        fill = values[-1] if len(values) else dtype.type(0)
        values = np.concatenate([values, np.full(count - len(values), fill, dtype=dtype)])
    return values.reshape(shape)


def _attr_value(buf: bytes) -> Any:
    """``AttrValue`` -> a Python value (see :class:`NodeDef`)."""
    for number, wire, value in _fields(buf):
        if number == 1 and wire == 2:
            return _list_value(value)
        if number == 2 and wire == 2:
            return bytes(value)
        if number == 3 and wire == 0:
            return _signed(value)
        if number == 4 and wire == 5:
            return _f32(value)
        if number == 5 and wire == 0:
            return bool(value)
        if number == 6 and wire == 0:
            return ("type", value)
        if number == 7 and wire == 2:
            return parse_shape(value)
        if number == 8 and wire == 2:
            return parse_tensor(value)
    return None


def _list_value(buf: bytes) -> list:
    out: list = []
    for number, wire, value in _fields(buf):
        if number == 2 and wire == 2:
            out.append(bytes(value))
        elif number == 3:
            out.extend(_signed(v) for v in _repeated_ints(wire, value))
        elif number == 4:
            raw = _repeated_fixed(wire, value, 4)
            out.extend(float(x) for x in np.frombuffer(raw, dtype="<f4"))
        elif number == 5:
            out.extend(bool(v) for v in _repeated_ints(wire, value))
        elif number == 6:
            out.extend(("type", v) for v in _repeated_ints(wire, value))
        elif number == 7 and wire == 2:
            out.append(parse_shape(value))
        elif number == 8 and wire == 2:
            out.append(parse_tensor(value))
    return out


def parse_node(buf: bytes) -> NodeDef:
    """``NodeDef`` bytes -> :class:`NodeDef`."""
    node = NodeDef(name="", op="")
    for number, wire, value in _fields(buf):
        if wire != 2:
            continue
        if number == 1:
            node.name = _text(value)
        elif number == 2:
            node.op = _text(value)
        elif number == 3:
            node.inputs.append(_text(value))
        elif number == 4:
            node.device = _text(value)
        elif number == 5:
            key, attr = "", None
            for n, w, v in _fields(value):
                if n == 1 and w == 2:
                    key = _text(v)
                elif n == 2 and w == 2:
                    attr = _attr_value(v)
            node.attr[key] = attr
    if not node.name or not node.op:
        raise _Malformed(f"a node without a name or op (name {node.name!r}, op {node.op!r})")
    return node


def read_graphdef_bytes(data: bytes, source: str = "<bytes>") -> list[NodeDef]:
    """The nodes of a serialised ``GraphDef``, in file order; ``source`` names it in errors."""
    view = memoryview(data)
    nodes: list[NodeDef] = []
    try:
        for number, wire, value in _fields(view):
            if number == 1 and wire == 2:
                nodes.append(parse_node(value))
    except _Malformed as exc:
        raise NucleoforgeError(f"{source}: not a readable TensorFlow GraphDef (truncated or garbled?): {exc}") from None
    if not nodes:
        raise NucleoforgeError(f"{source}: not a TensorFlow GraphDef: it has no nodes")
    return nodes


def read_graphdef(path: str | Path) -> list[NodeDef]:
    """The nodes of the frozen ``GraphDef`` file ``path`` (see :func:`read_graphdef_bytes`)."""
    path = Path(path)
    if not path.is_file():
        raise MissingPathError(f"{path}: no such file (expected a frozen TensorFlow GraphDef .pb)")
    return read_graphdef_bytes(path.read_bytes(), str(path))


__all__ = ["DTYPES", "NodeDef", "parse_shape", "parse_tensor", "read_graphdef", "read_graphdef_bytes"]
