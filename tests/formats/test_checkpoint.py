"""Tests of the tensor-bundle reader against checkpoints written by TensorFlow 2.21.

Core tests compare with ``expected.json`` (TensorFlow's own get_tensor answers, saved by
tests/fixtures/make_checkpoint_fixtures.py); ``tf`` tests ask TensorFlow live.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import struct
import sys

import google_crc32c
import numpy as np
import pytest

from graphsurgeon._proto import tensor_bundle_pb2, trackable_object_graph_pb2, types_pb2
from graphsurgeon.errors import CheckpointError, ChecksumError, NodeNotFoundError, UnsupportedError
from graphsurgeon.formats import snappy
from graphsurgeon.formats.bundle_entries import encode_slice_key
from graphsurgeon.formats.checkpoint import load_checkpoint
from graphsurgeon.formats.checkpoint_paths import is_checkpoint_path, resolve_checkpoint_prefix
from graphsurgeon.formats.sstable import mask_crc, read_table, unmask_crc

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import damage  # noqa: E402  (tests/damage.py: the SSTable writer shared with the bad-input suite)

CKPTS = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "checkpoints"
FIXTURES = ["dtypes", "saver", "sharded", "tf2", "tf2_sliced", "saved_model"]
V1 = CKPTS / "v1" / "v1.ckpt"


def expected(fixture: str) -> dict:
    return json.loads((CKPTS / fixture / "expected.json").read_text())


def assert_matches(ckpt, answers: dict, where: str) -> None:  # noqa: ANN001
    assert sorted(ckpt) == sorted(answers), f"{where}: names differ: {sorted(set(ckpt) ^ set(answers))}"
    for name, rec in answers.items():
        info = ckpt.info(name)
        assert info.dtype == rec["dtype"], f"{where}/{name}: dtype {info.dtype} != {rec['dtype']}"
        assert list(info.shape) == rec["shape"], f"{where}/{name}: shape {info.shape} != {rec['shape']}"
        value = ckpt[name]
        assert value.shape == tuple(rec["shape"]), f"{where}/{name}: array shape {value.shape}"
        assert not value.flags.writeable, f"{where}/{name}: arrays must be read-only"
        if "strings" in rec:
            assert value.dtype == object
            assert [bytes(v).hex() for v in value.reshape(-1)] == rec["strings"], f"{where}/{name}: strings differ"
        else:
            assert value.tobytes().hex() == rec["hex"], f"{where}/{name}: bytes differ from TensorFlow's"


# --- values ----------------------------------------------------------------------------------

@pytest.mark.parametrize("fixture", FIXTURES)
def test_fixture_values_equal_tensorflows(fixture: str) -> None:
    assert_matches(load_checkpoint(CKPTS / fixture), expected(fixture), fixture)


def test_v1_values_equal_tensorflows() -> None:
    ckpt = load_checkpoint(V1)
    assert type(ckpt).__name__ == "V1Checkpoint" and ckpt.prefix == str(V1)
    assert_matches(ckpt, expected("v1"), "v1")
    assert ckpt.info("part").num_slices == 3 and ckpt.info("f32").num_slices == 0
    pieces = ckpt.slices("part")
    assert [e for e, _ in pieces] == [((0, 3), (0, 2)), ((3, 2), (0, 2)), ((5, 2), (0, 2))]
    np.testing.assert_array_equal(np.concatenate([p for _, p in pieces]), ckpt["part"])
    with pytest.raises(UnsupportedError, match="V1"):
        ckpt.entry("f32")
    with pytest.raises(UnsupportedError, match="V1"):
        list(ckpt.iter_raw_chunks("f32"))
    assert is_checkpoint_path(V1) and resolve_checkpoint_prefix(V1) == str(V1)


def test_v1_damaged(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "v1.ckpt"
    shutil.copy(V1, path)
    flip_byte(path, 40)
    with pytest.raises(ChecksumError, match=r"v1\.ckpt"):
        load_checkpoint(path)


def test_dtypes_fixture_covers_every_dtype() -> None:
    ckpt = load_checkpoint(CKPTS / "dtypes")
    dtypes = {ckpt.info(n).dtype for n in ckpt}
    DT = types_pb2.DataType
    wanted = {DT.DT_FLOAT, DT.DT_DOUBLE, DT.DT_HALF, DT.DT_BFLOAT16, DT.DT_INT8, DT.DT_INT16, DT.DT_INT32,
              DT.DT_INT64, DT.DT_UINT8, DT.DT_UINT16, DT.DT_UINT32, DT.DT_UINT64, DT.DT_BOOL, DT.DT_COMPLEX64,
              DT.DT_COMPLEX128, DT.DT_STRING, DT.DT_QINT8, DT.DT_QUINT8, DT.DT_QINT16, DT.DT_QUINT16,
              DT.DT_QINT32, DT.DT_FLOAT8_E4M3FN, DT.DT_FLOAT8_E5M2, DT.DT_INT4, DT.DT_UINT4}
    assert wanted <= dtypes, f"missing dtypes: {sorted(DT.Name(d) for d in wanted - dtypes)}"
    assert ckpt["scalar/string"][()] == b"hello"
    assert ckpt["scalar/float32"].shape == ()
    assert ckpt["empty/float32_0x3"].shape == (0, 3)
    assert ckpt["string"].tolist() == [b"ab", b"", b"x" * 200, "h\u00e9llo".encode(), b"\x00nul\x00\xff"]
    nan_bits = ckpt["float32_nan_payloads"].view(np.uint32)
    assert int(nan_bits[0]) == 0x7FC00001 and int(nan_bits[2]) == 0x7F800001, "NaN payloads must survive"
    assert ckpt["int4"].astype(np.int8).tolist() == [1, -2, 3, 7, -8]


def test_fixed_size_arrays_are_views_of_the_mapped_file() -> None:
    ckpt = load_checkpoint(CKPTS / "dtypes")
    value = ckpt["float32"]
    base = value
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    assert not isinstance(base, np.ndarray), "a float32 tensor should be a view of the mmap, not a copy"


def test_info_needs_no_data(tmp_path: pathlib.Path) -> None:
    shutil.copy(CKPTS / "saver" / "model.ckpt-7.index", tmp_path / "m.index")
    data = tmp_path / "m.data-00000-of-00001"
    data.write_bytes(b"\0" * (CKPTS / "saver" / "model.ckpt-7.data-00000-of-00001").stat().st_size)
    ckpt = load_checkpoint(tmp_path / "m", verify=False)  # zeros instead of data: metadata still right
    info = ckpt.info("emb")
    assert (info.dtype, info.shape, info.num_slices, info.nbytes) == (types_pb2.DT_FLOAT, (10, 2), 3, 80)
    assert info.num_elements == 20 and info.dtype_name == "float"


def test_partitioned_reassembly_and_slices() -> None:
    ckpt = load_checkpoint(CKPTS / "saver")
    pieces = ckpt.slices("emb")
    assert [extents for extents, _ in pieces] == [((0, 4), (0, 2)), ((4, 3), (0, 2)), ((7, 3), (0, 2))]
    full = ckpt["emb"]
    for extents, piece in pieces:
        np.testing.assert_array_equal(full[tuple(slice(s, s + n) for s, n in extents)], piece)
    assert "emb/part_0" not in ckpt and all(not n.startswith("\0") for n in ckpt)
    [(extents, whole)] = ckpt.slices("dense/kernel")
    assert extents == ((0, 3), (0, 4)) and whole.shape == (3, 4)
    sliced = load_checkpoint(CKPTS / "tf2_sliced")
    name = "big/.ATTRIBUTES/VARIABLE_VALUE"
    assert sliced.info(name).num_slices > 1
    assert sliced.num_shards == 3
    np.testing.assert_array_equal(sliced[name], np.arange(1000, dtype=np.float32).reshape(100, 10))


def test_sharded_saver_uses_two_data_files() -> None:
    ckpt = load_checkpoint(CKPTS / "sharded")
    assert ckpt.num_shards == 2 and len(ckpt.data_paths) == 2
    assert {ckpt.info(n).shard_id for n in ckpt} == {0, 1}


def test_object_graph_decodes() -> None:
    ckpt = load_checkpoint(CKPTS / "tf2")
    graph = ckpt.object_graph()
    assert isinstance(graph, trackable_object_graph_pb2.TrackableObjectGraph)
    assert {c.local_name for c in graph.nodes[0].children} >= {"model", "save_counter"}
    keys = {a.checkpoint_key for node in graph.nodes for a in node.attributes}
    assert keys and keys <= set(ckpt), f"object graph keys not in checkpoint: {keys - set(ckpt)}"
    assert "model/extras/a.Sb/.ATTRIBUTES/VARIABLE_VALUE" in ckpt  # '/' escaped as '.S'
    assert "model/extras/c..d/.ATTRIBUTES/VARIABLE_VALUE" in ckpt  # '.' escaped as '..'
    assert load_checkpoint(CKPTS / "saver").object_graph() is None


def test_arrays_outlive_close() -> None:
    with load_checkpoint(CKPTS / "saver") as ckpt:
        kernel = ckpt["dense/kernel"]
    np.testing.assert_array_equal(kernel, np.arange(12, dtype=np.float32).reshape(3, 4))
    np.testing.assert_array_equal(ckpt["dense/kernel"], kernel)  # reopens its map on demand


def test_entry_is_a_copy() -> None:
    ckpt = load_checkpoint(CKPTS / "saver")
    entry = ckpt.entry("dense/kernel")
    assert isinstance(entry, tensor_bundle_pb2.BundleEntryProto) and entry.size == 48
    entry.size = 1
    assert ckpt.entry("dense/kernel").size == 48


def test_iter_raw_chunks(tmp_path: pathlib.Path) -> None:
    ckpt = load_checkpoint(CKPTS / "dtypes")
    chunks = list(ckpt.iter_raw_chunks("float64", chunk_size=10))
    assert max(len(c) for c in chunks) == 10 and b"".join(chunks) == ckpt["float64"].tobytes()
    assert list(ckpt.iter_raw_chunks("empty/float32_0")) == []
    with pytest.raises(UnsupportedError, match="string"):
        list(ckpt.iter_raw_chunks("string"))
    with pytest.raises(UnsupportedError):
        list(load_checkpoint(CKPTS / "saver").iter_raw_chunks("emb"))
    prefix = damaged_copy(tmp_path, "dtypes")
    ckpt = load_checkpoint(prefix)
    entry = ckpt.entry("float64")
    flip_byte(f"{prefix}.data-00000-of-00001", entry.offset + 3)
    chunks = ckpt.iter_raw_chunks("float64", chunk_size=16)
    assert len(next(chunks)) == 16  # data flows before the end...
    with pytest.raises(ChecksumError, match="float64"):  # ...and the mismatch shows at the end
        list(chunks)
    assert len(b"".join(ckpt.iter_raw_chunks("float64", verify=False))) == 48


# --- paths -----------------------------------------------------------------------------------

@pytest.mark.parametrize("form", ["prefix", "index", "data", "dir", "state", "saved_model", "variables"])
def test_path_forms_resolve(form: str) -> None:
    saver = str(CKPTS / "saver" / "model.ckpt-7")
    path, prefix = {
        "prefix": (saver, saver),
        "index": (saver + ".index", saver),
        "data": (saver + ".data-00000-of-00001", saver),
        "dir": (str(CKPTS / "saver"), saver),  # state file holds the generator's absolute tmp path
        "state": (str(CKPTS / "tf2" / "checkpoint"), str(CKPTS / "tf2" / "ckpt-2")),
        "saved_model": (str(CKPTS / "saved_model"), str(CKPTS / "saved_model" / "variables" / "variables")),
        "variables": (str(CKPTS / "saved_model" / "variables"), str(CKPTS / "saved_model" / "variables" / "variables")),
    }[form]
    assert resolve_checkpoint_prefix(path) == prefix
    assert load_checkpoint(path).prefix == prefix


def test_meta_path_resolves_to_its_checkpoint(tmp_path: pathlib.Path) -> None:
    shutil.copytree(CKPTS / "saver", tmp_path / "saver")
    (tmp_path / "saver" / "model.ckpt-7.meta").write_bytes(b"")
    prefix = tmp_path / "saver" / "model.ckpt-7"
    assert resolve_checkpoint_prefix(f"{prefix}.meta") == str(prefix)
    assert not is_checkpoint_path(f"{prefix}.meta"), "a .meta file is a graph for gs inspect"


def test_is_checkpoint_path(tmp_path: pathlib.Path) -> None:
    saver = CKPTS / "saver"
    for yes in [saver / "model.ckpt-7", saver / "model.ckpt-7.index", saver / "model.ckpt-7.data-00000-of-00001",
                saver, saver / "checkpoint", CKPTS / "tf2", CKPTS / "saved_model" / "variables"]:
        assert is_checkpoint_path(yes), f"{yes} should be a checkpoint path"
    (tmp_path / "graph.pb").write_bytes(b"\x0a\x03\x0a\x01a")
    for no in [tmp_path / "graph.pb", tmp_path / "nothing", tmp_path, CKPTS / "saved_model"]:
        assert not is_checkpoint_path(no), f"{no} should not be a checkpoint path"


def test_missing_paths_say_what_was_looked_for(tmp_path: pathlib.Path) -> None:
    with pytest.raises(CheckpointError, match=r"no checkpoint at .*model\.ckpt-8.*did you mean .*model\.ckpt-7"):
        load_checkpoint(CKPTS / "saver" / "model.ckpt-8")
    with pytest.raises(CheckpointError, match="no 'checkpoint' state file"):
        load_checkpoint(tmp_path)
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "/gone/away/model-3"\n')
    with pytest.raises(CheckpointError, match="names '/gone/away/model-3'"):
        load_checkpoint(tmp_path)


# --- format details --------------------------------------------------------------------------

def test_crc_mask_and_slice_keys() -> None:
    assert google_crc32c.value(b"123456789") == 0xE3069283
    assert mask_crc(0) == 0xA282EAD8 and unmask_crc(mask_crc(0x28C0C9B1)) == 0x28C0C9B1
    assert mask_crc(0x28C0C9B1) == 0x35E53C59
    assert encode_slice_key("emb", [(0, 4), (0, 2)]).hex() == "00656d620001010280848082"
    assert encode_slice_key("x", [(0, -1), (0, -1)]).hex() == "00780001010280" + "7f807f"


def test_slice_key_escapes_nul() -> None:
    assert encode_slice_key("a\x00b", []) == b"\x00a\x00\xffb\x00\x01\x00"


def test_snappy_decompress() -> None:
    # "abcabcabcabcX": literal "abc", copy(offset 3, length 9) overlapping, literal "X"
    block = bytes([13, (3 - 1) << 2]) + b"abc" + bytes([((9 - 1) << 2) | 2]) + struct.pack("<H", 3) + bytes([0]) + b"X"
    assert snappy.decompress(block) == b"abcabcabcabcX"
    with pytest.raises(snappy.SnappyError):
        snappy.decompress(bytes([5, 0]) + b"a" + bytes([((9 - 1) << 2) | 2]) + struct.pack("<H", 7))


# --- a tiny bundle writer, to make files TensorFlow cannot be asked to make ------------------

def write_table(path: pathlib.Path, records: list[tuple[bytes, bytes]], compress: bool = False) -> None:
    path.write_bytes(damage.encode_table(records, compress=compress))


def write_bundle(prefix: pathlib.Path, tensors: dict[str, tuple[int, tuple[int, ...], bytes]],
                 big_endian: bool = False, min_consumer: int = 0, compress: bool = False,
                 entry_edit=None) -> None:  # noqa: ANN001
    """tensors: name -> (dtype, shape, stored bytes)."""
    header = tensor_bundle_pb2.BundleHeaderProto(num_shards=1, endianness=1 if big_endian else 0)
    header.version.producer = 1
    header.version.min_consumer = min_consumer
    records = [(b"", header.SerializeToString())]
    data = b""
    for name in sorted(tensors):
        dtype, shape, raw = tensors[name]
        entry = tensor_bundle_pb2.BundleEntryProto(dtype=dtype, offset=len(data), size=len(raw),
                                                   crc32c=mask_crc(google_crc32c.value(raw)))
        for d in shape:
            entry.shape.dim.add(size=d)
        if entry_edit:
            entry_edit(name, entry)
        records.append((name.encode(), entry.SerializeToString()))
        data += raw
    write_table(pathlib.Path(f"{prefix}.index"), records, compress=compress)
    pathlib.Path(f"{prefix}.data-00000-of-00001").write_bytes(data)


def test_hand_written_bundle_reads_back(tmp_path: pathlib.Path) -> None:
    values = np.array([1.5, -2.0, np.pi], np.float64)
    write_bundle(tmp_path / "m", {"x": (types_pb2.DT_DOUBLE, (3,), values.tobytes())})
    np.testing.assert_array_equal(load_checkpoint(tmp_path / "m")["x"], values)
    assert [k for k, _ in read_table(str(tmp_path / "m.index"))] == [b"", b"x"]


def test_snappy_compressed_index(tmp_path: pathlib.Path) -> None:
    values = np.arange(4, dtype=np.int32)
    write_bundle(tmp_path / "m", {"y": (types_pb2.DT_INT32, (2, 2), values.tobytes())}, compress=True)
    np.testing.assert_array_equal(load_checkpoint(tmp_path / "m")["y"], values.reshape(2, 2))


def test_big_endian_bundle_is_byte_swapped(tmp_path: pathlib.Path) -> None:
    f32 = np.array([1.0, -2.5], np.float32)
    c64 = np.array([1 + 2j], np.complex64)
    strings = [b"ab", b"c"]
    lengths = struct.pack(">II", 2, 1)
    length_crc = google_crc32c.value(lengths)
    stored = bytes([2, 1]) + struct.pack(">I", mask_crc(length_crc)) + b"abc"

    def string_crc(name: str, entry: tensor_bundle_pb2.BundleEntryProto) -> None:
        if name == "s":  # the entry crc runs over the uint32 lengths, not the varints (docs/formats.md §1)
            entry.crc32c = mask_crc(google_crc32c.extend(length_crc, stored[2:]))

    write_bundle(tmp_path / "m", {"f": (types_pb2.DT_FLOAT, (2,), f32.astype(">f4").tobytes()),
                                  "c": (types_pb2.DT_COMPLEX64, (1,), c64.astype(">c8").tobytes()),
                                  "s": (types_pb2.DT_STRING, (2,), stored)}, big_endian=True, entry_edit=string_crc)
    ckpt = load_checkpoint(tmp_path / "m")
    np.testing.assert_array_equal(ckpt["f"], f32)
    np.testing.assert_array_equal(ckpt["c"], c64)
    assert ckpt["s"].tolist() == strings
    with pytest.raises(UnsupportedError, match="big-endian"):
        list(ckpt.iter_raw_chunks("f"))


# --- errors: each made by damaging a copy of a fixture ---------------------------------------

def damaged_copy(tmp_path: pathlib.Path, fixture: str = "saver") -> str:
    src = CKPTS / fixture
    dst = tmp_path / fixture
    shutil.copytree(src, dst)
    return resolve_checkpoint_prefix(dst)


def flip_byte(path: str | pathlib.Path, offset: int) -> None:
    data = bytearray(pathlib.Path(path).read_bytes())
    data[offset] ^= 0x40
    pathlib.Path(path).write_bytes(bytes(data))


def test_error_missing_index(tmp_path: pathlib.Path) -> None:
    prefix = damaged_copy(tmp_path)
    pathlib.Path(prefix + ".index").unlink()
    with pytest.raises(CheckpointError, match=r"model\.ckpt-7"):
        load_checkpoint(tmp_path / "saver")


def test_error_missing_data_shard(tmp_path: pathlib.Path) -> None:
    prefix = damaged_copy(tmp_path, "sharded")
    pathlib.Path(prefix + ".data-00001-of-00002").unlink()
    with pytest.raises(CheckpointError, match=r"data shard '.*data-00001-of-00002' .* is missing"):
        load_checkpoint(prefix)


def test_error_truncated_index(tmp_path: pathlib.Path) -> None:
    prefix = damaged_copy(tmp_path)
    index = pathlib.Path(prefix + ".index")
    data = index.read_bytes()
    index.write_bytes(data[:-7])
    with pytest.raises(CheckpointError, match="magic number.*truncated"):
        load_checkpoint(prefix)
    index.write_bytes(data[:20])
    with pytest.raises(CheckpointError, match="shorter than an SSTable footer"):
        load_checkpoint(prefix)


def test_error_bad_magic(tmp_path: pathlib.Path) -> None:
    prefix = damaged_copy(tmp_path)
    flip_byte(prefix + ".index", pathlib.Path(prefix + ".index").stat().st_size - 3)
    with pytest.raises(CheckpointError, match=r"model\.ckpt-7\.index' does not end with the SSTable magic"):
        load_checkpoint(prefix)


def test_error_corrupt_block(tmp_path: pathlib.Path) -> None:
    prefix = damaged_copy(tmp_path)
    flip_byte(prefix + ".index", 12)
    with pytest.raises(ChecksumError, match=r"data block 0 of .*model\.ckpt-7\.index.*fails its crc32c"):
        load_checkpoint(prefix)
    # the same damage with checksums off is caught by the structure checks, never a crash
    try:
        load_checkpoint(prefix, verify=False)
    except CheckpointError as err:
        assert "model.ckpt-7.index" in str(err)


def test_error_corrupt_block_structure(tmp_path: pathlib.Path) -> None:
    # a valid crc over a broken restart array
    records = [(b"", b"\x08\x01"), (b"a", b"")]
    write_table(tmp_path / "m.index", records)
    data = bytearray((tmp_path / "m.index").read_bytes())
    block_end = len(damage._block(records))  # the data block starts the file and ends with its restart count
    data[block_end - 4] = 9  # restart count 9 no longer fits
    block = bytes(data[:block_end])
    data[block_end:block_end + 5] = damage._with_trailer(block)[-5:]
    (tmp_path / "m.index").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="bad restart count"):
        load_checkpoint(tmp_path / "m")


def test_error_checksum_mismatch(tmp_path: pathlib.Path) -> None:
    prefix = damaged_copy(tmp_path)
    ckpt = load_checkpoint(prefix)
    entry = ckpt.entry("dense/kernel")
    flip_byte(prefix + ".data-00000-of-00001", entry.offset + 5)
    ckpt = load_checkpoint(prefix)
    with pytest.raises(ChecksumError, match=r"tensor 'dense/kernel' in '.*data-00000-of-00001'.*fails its checksum"):
        ckpt["dense/kernel"]
    assert ckpt.read("dense/kernel", verify=False).shape == (3, 4)
    assert load_checkpoint(prefix, verify=False)["dense/kernel"].shape == (3, 4)
    np.testing.assert_array_equal(ckpt["dense/bias"], [0.5, -0.5, 1, 2])  # others still read


def test_error_string_length_checksum(tmp_path: pathlib.Path) -> None:
    prefix = damaged_copy(tmp_path)
    entry = load_checkpoint(prefix).entry("vocab")
    flip_byte(prefix + ".data-00000-of-00001", entry.offset + 4)  # inside the stored length checksum
    with pytest.raises(ChecksumError, match="'vocab'.*length checksum"):
        load_checkpoint(prefix)["vocab"]


def test_error_truncated_shard(tmp_path: pathlib.Path) -> None:
    prefix = damaged_copy(tmp_path)
    data = pathlib.Path(prefix + ".data-00000-of-00001")
    data.write_bytes(data.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"tensor '.*' in .* points at bytes \[\d+, \d+\) of .*which holds only "
                                              r"100 bytes"):
        load_checkpoint(prefix)


def test_error_entry_past_end_of_shard(tmp_path: pathlib.Path) -> None:
    def far(name: str, entry: tensor_bundle_pb2.BundleEntryProto) -> None:
        entry.offset = 1 << 40

    write_bundle(tmp_path / "m", {"w": (types_pb2.DT_FLOAT, (2,), b"\0" * 8)}, entry_edit=far)
    with pytest.raises(CheckpointError, match=r"tensor 'w' .* points at bytes \[1099511627776, "):
        load_checkpoint(tmp_path / "m")


def test_error_unknown_dtype(tmp_path: pathlib.Path) -> None:
    write_bundle(tmp_path / "m", {"odd": (77, (2,), b"\0" * 8), "ok": (types_pb2.DT_INT8, (1,), b"\x05")})
    ckpt = load_checkpoint(tmp_path / "m")
    assert ckpt.info("odd").dtype == 77 and ckpt["ok"].tolist() == [5]  # listing still works
    with pytest.raises(CheckpointError, match=r"tensor 'odd' in .*m\.index' has unknown dtype"):
        ckpt["odd"]


def test_error_newer_bundle_version(tmp_path: pathlib.Path) -> None:
    write_bundle(tmp_path / "m", {"w": (types_pb2.DT_INT8, (1,), b"\x01")}, min_consumer=2)
    with pytest.raises(CheckpointError, match="needs a newer checkpoint reader.*min_consumer 2"):
        load_checkpoint(tmp_path / "m")


def test_error_unknown_name_suggests_close_matches() -> None:
    ckpt = load_checkpoint(CKPTS / "saver")
    with pytest.raises(NodeNotFoundError, match=r"tensor 'dense/kernl' not found in checkpoint '.*model\.ckpt-7'; "
                                                r"did you mean 'dense/kernel'"):
        ckpt["dense/kernl"]
    with pytest.raises(NodeNotFoundError):
        ckpt.info("nope")
    assert ckpt.get("nope") is None


@pytest.mark.parametrize("fixture", ["saver", "tf2_sliced", "v1"])
def test_random_damage_never_crashes(tmp_path: pathlib.Path, fixture: str) -> None:
    """Random byte changes in the index give a GraphSurgeonError or good data, never another exception."""
    import random

    from graphsurgeon.errors import GraphSurgeonError

    rng = random.Random(fixture)
    src = V1 if fixture == "v1" else pathlib.Path(resolve_checkpoint_prefix(CKPTS / fixture) + ".index")
    original = src.read_bytes()
    shutil.copytree(src.parent, tmp_path / "c")
    target = tmp_path / "c" / src.name
    for _ in range(60):
        data = bytearray(original)
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        target.write_bytes(bytes(data[:rng.randrange(len(data))] if rng.random() < 0.2 else data))
        for verify in (False, True):
            try:
                ckpt = load_checkpoint(target if fixture == "v1" else str(target)[:-len(".index")], verify=verify)
                for name in ckpt:
                    ckpt.get(name)
            except GraphSurgeonError:
                pass


# --- against TensorFlow, live ----------------------------------------------------------------

def tf_check(prefix: str, ckpt) -> None:  # noqa: ANN001
    import tensorflow as tf

    reader = tf.train.load_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    assert {n: list(ckpt.info(n).shape) for n in ckpt} == {n: list(s) for n, s in shapes.items()}
    dtypes = reader.get_variable_to_dtype_map()
    for name in shapes:
        assert ckpt.info(name).dtype == dtypes[name].as_datatype_enum, name
        theirs = reader.get_tensor(name)
        ours = ckpt[name]
        if dtypes[name] == tf.string:
            assert np.asarray(theirs, dtype=object).reshape(-1).tolist() == ours.reshape(-1).tolist(), name
        else:
            assert np.ascontiguousarray(theirs).tobytes() == ours.tobytes(), f"{name}: bytes differ"


@pytest.mark.tf
@pytest.mark.parametrize("fixture", FIXTURES)
def test_fixture_against_live_tensorflow(fixture: str) -> None:
    ckpt = load_checkpoint(CKPTS / fixture)
    tf_check(ckpt.prefix, ckpt)


@pytest.mark.tf
def test_v1_against_live_tensorflow() -> None:
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(V1))
    ckpt = load_checkpoint(V1)
    assert {n: list(s) for n, s in reader.get_variable_to_shape_map().items()} == \
        {n: list(ckpt.info(n).shape) for n in ckpt}
    compared = 0
    for name in ckpt:
        if ckpt.info(name).num_slices:
            continue  # TensorFlow: "Sliced checkpoints are not supported" (expected.json covers these)
        try:
            theirs = reader.get_tensor(name)
        except tf.errors.UnimplementedError:  # TF's V1 reader: "Data type not supported" for some dtypes
            continue
        compared += 1
        if ckpt.info(name).dtype == types_pb2.DT_STRING:
            assert np.asarray(theirs, dtype=object).reshape(-1).tolist() == ckpt[name].reshape(-1).tolist()
        else:
            assert np.ascontiguousarray(theirs).tobytes() == ckpt[name].tobytes(), name
    assert compared >= 8, f"TensorFlow read only {compared} tensors of the V1 fixture"


@pytest.mark.tf
def test_tensor_larger_than_64_mib(tmp_path: pathlib.Path) -> None:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    big = rng.standard_normal((4200, 4200), dtype=np.float32)  # 67.3 MiB
    prefix = str(tmp_path / "big")
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=["big", "small"], shape_and_slices=["", ""],
                      tensors=[tf.constant(big), tf.constant([1, 2], tf.int64)])
    ckpt = load_checkpoint(prefix)
    assert ckpt.info("big").nbytes == big.nbytes > 64 << 20
    seen = []
    value = ckpt.read("big", progress=seen.append)
    assert len(seen) > 1 and sum(seen) == big.nbytes, "progress is reported in chunks"
    assert value.tobytes() == big.tobytes()
    tf_check(prefix, ckpt)
    assert sum(len(c) for c in ckpt.iter_raw_chunks("big", chunk_size=8 << 20)) == big.nbytes
