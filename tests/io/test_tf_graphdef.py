"""The GraphDef wire-format reader, on messages encoded here field by field (no TensorFlow)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from nucleoforge.errors import MissingPathError, NucleoforgeError
from nucleoforge.io.tf_graphdef import read_graphdef, read_graphdef_bytes


# --- a minimal protobuf encoder (field numbers as in TensorFlow's .proto files) ---------------
def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 -> ten-byte two's complement, as protobuf encodes it
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def tag(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def vint(number: int, value: int) -> bytes:
    return tag(number, 0) + varint(value)


def ld(number: int, payload: bytes | str) -> bytes:
    payload = payload.encode() if isinstance(payload, str) else payload
    return tag(number, 2) + varint(len(payload)) + payload


def f32(number: int, value: float) -> bytes:
    return tag(number, 5) + struct.pack("<f", value)


def shape(*dims: int) -> bytes:
    return b"".join(ld(2, vint(1, d)) for d in dims)


def tensor(dtype: int, dims: tuple[int, ...], *fields: bytes) -> bytes:
    return vint(1, dtype) + ld(2, shape(*dims)) + b"".join(fields)


def attr(key: str, value: bytes) -> bytes:
    return ld(5, ld(1, key) + ld(2, value))


def node(name: str, op: str, *rest: bytes) -> bytes:
    return ld(1, ld(1, name) + ld(2, op) + b"".join(rest))


def graph(*nodes: bytes) -> bytes:
    return b"".join(nodes) + ld(4, vint(1, 561))  # versions{producer}: skipped by the reader


# --- tests -----------------------------------------------------------------------------------
def test_constants_from_tensor_content_and_value_lists():
    weights = np.arange(6, dtype="<f4").reshape(2, 3) - 2.5
    data = graph(
        node("w", "Const", attr("dtype", vint(6, 1)), attr("value", ld(8, tensor(1, (2, 3), ld(4, weights.tobytes()))))),
        node("packed", "Const", attr("value", ld(8, tensor(1, (3,), ld(5, struct.pack("<3f", 1, 2, 3)))))),
        node("unpacked", "Const", attr("value", ld(8, tensor(1, (2,), f32(5, 0.5), f32(5, -1.0))))),
        node("fill", "Const", attr("value", ld(8, tensor(1, (2, 2), f32(5, 7.0))))),  # TF repeats the last value
        node("axis", "Const", attr("value", ld(8, tensor(3, (), vint(7, -3))))),
        node("ints", "Const", attr("value", ld(8, tensor(3, (3,), ld(7, varint(0) + varint(-5) + varint(300)))))),
        node("zeros", "Const", attr("value", ld(8, tensor(1, (2,))))),
    )
    values = {n.name: n.attr["value"] for n in read_graphdef_bytes(data)}
    np.testing.assert_array_equal(values["w"], weights)
    assert values["w"].dtype == np.float32 and values["w"].flags.writeable
    np.testing.assert_array_equal(values["packed"], [1, 2, 3])
    np.testing.assert_array_equal(values["unpacked"], [0.5, -1.0])
    np.testing.assert_array_equal(values["fill"], np.full((2, 2), 7.0))
    assert values["axis"].shape == () and values["axis"].dtype == np.int32 and int(values["axis"]) == -3
    np.testing.assert_array_equal(values["ints"], [0, -5, 300])
    np.testing.assert_array_equal(values["zeros"], [0, 0])


def test_node_fields_and_attribute_kinds():
    data = graph(
        node("x", "Placeholder", attr("dtype", vint(6, 1)), attr("shape", ld(7, shape(-1, -1, 4)))),
        node(
            "conv", "Conv2D", ld(3, "x"), ld(3, "w:0"), ld(3, "^ctrl"), ld(4, "/cpu:0"),
            attr("padding", ld(2, "SAME")), attr("use_cudnn_on_gpu", vint(5, 1)),
            attr("strides", ld(1, ld(3, varint(1) * 4))),  # packed list(int)
            attr("squeeze_dims", ld(1, vint(3, -3))),  # unpacked list(int)
            attr("alpha", f32(4, 0.25)), attr("keep", vint(3, -7)), attr("unknown", ld(7, vint(3, 1))),
            attr("floats", ld(1, ld(4, struct.pack("<2f", 1.5, 2.5)))),
        ),
    )
    x, conv = read_graphdef_bytes(data)
    assert (x.name, x.op, x.inputs, x.attr) == ("x", "Placeholder", [], {"dtype": ("type", 1), "shape": (-1, -1, 4)})
    assert (conv.op, conv.inputs, conv.device) == ("Conv2D", ["x", "w:0", "^ctrl"], "/cpu:0")
    assert conv.attr == {
        "padding": b"SAME", "use_cudnn_on_gpu": True, "strides": [1, 1, 1, 1], "squeeze_dims": [-3],
        "alpha": 0.25, "keep": -7, "unknown": None, "floats": [1.5, 2.5],
    }


def _sample(tmp_path):
    content = np.ones((4, 8), dtype="<f4").tobytes()
    path = tmp_path / "graph.pb"
    path.write_bytes(graph(node("w", "Const", attr("value", ld(8, tensor(1, (4, 8), ld(4, content))))), node("y", "Identity", ld(3, "w"))))
    return path


def test_file_round_trip(tmp_path):
    nodes = read_graphdef(_sample(tmp_path))
    assert [n.name for n in nodes] == ["w", "y"] and nodes[0].attr["value"].shape == (4, 8)


@pytest.mark.parametrize("cut", [1, 7, 40, -3])
def test_truncated_file_is_one_error_line_naming_it(tmp_path, cut):
    path = _sample(tmp_path)
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(NucleoforgeError, match=r"graph\.pb: not a readable TensorFlow GraphDef") as info:
        read_graphdef(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "data",
    [
        b"\x89HDF\r\n\x1a\n" + bytes(range(200)),  # another file format
        b"\x0f" * 10,  # wire type 7
        ld(1, b"\xff\xff\xff"),  # a node whose fields run past the end
        ld(1, ld(1, b"\xff\xfe") + ld(2, "Const")),  # a name that is not UTF-8
        node("c", "Const", attr("value", ld(8, tensor(1, (3,), ld(4, b"\0" * 8))))),  # content of the wrong size
        node("c", "Const", attr("value", ld(8, tensor(1, (-1,))))),  # unknown shape
        node("c", "Const", attr("value", ld(8, tensor(99, (1,))))),  # unknown dtype
        node("", "Const"),
    ],
)
def test_garbled_bytes_are_one_error_line(tmp_path, data):
    path = tmp_path / "bad.pb"
    path.write_bytes(data)
    with pytest.raises(NucleoforgeError, match=r"bad\.pb: not a (readable )?TensorFlow GraphDef") as info:
        read_graphdef(path)
    assert "\n" not in str(info.value)


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.pb").write_bytes(b"")
    with pytest.raises(NucleoforgeError, match="empty.pb: not a TensorFlow GraphDef: it has no nodes"):
        read_graphdef(tmp_path / "empty.pb")
    with pytest.raises(MissingPathError, match="absent.pb: no such file"):
        read_graphdef(tmp_path / "absent.pb")
