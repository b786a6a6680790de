"""``gs inspect CKPT`` through graphsurgeon.cli.main, in-process."""

from __future__ import annotations

import json
import pathlib
import re
import shutil
import sys

import numpy as np
import pytest

from graphsurgeon.cli import _inspect_checkpoint, main
from graphsurgeon.formats.checkpoint import load_checkpoint
from graphsurgeon.formats.checkpoint_paths import resolve_checkpoint_prefix

CKPTS = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "checkpoints"


def expected(fixture: str) -> dict:
    return json.loads((CKPTS / fixture / "expected.json").read_text())


def gs(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["inspect", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_listing_is_sorted_aligned_with_totals(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gs(capsys, CKPTS / "saver")
    assert code == 0, err
    lines = out.splitlines()
    answers = expected("saver")
    rows = [line for line in lines if line.split(" ")[0] in answers]
    assert [r.split()[0] for r in rows] == sorted(answers), out
    header = next(line for line in lines if line.startswith("name "))
    dtype_col = header.index("dtype")
    assert all(r[dtype_col - 2:dtype_col] == "  " and r[dtype_col] != " " for r in rows), out
    kernel = next(r for r in rows if r.startswith("dense/kernel "))
    assert kernel.split()[1:5] == ["float", "[3,4]", "12", "48"], kernel
    emb = next(r for r in rows if r.startswith("emb "))
    assert emb.split()[1:] == ["float", "[10,2]", "20", "80", "3", "slices"], emb
    total_bytes = sum(load_checkpoint(CKPTS / "saver").info(n).nbytes for n in answers)
    assert lines[-1].startswith(f"total: {len(answers)} tensors, 47 elements, {total_bytes} bytes"), lines[-1]


@pytest.mark.parametrize("fixture", ["dtypes", "tf2", "sharded", "tf2_sliced"])
def test_json_listing_matches_tensorflow(capsys: pytest.CaptureFixture[str], fixture: str) -> None:
    code, out, err = gs(capsys, CKPTS / fixture, "--json")
    assert code == 0, err
    data = json.loads(out)
    answers = expected(fixture)
    assert [t["name"] for t in data["tensors"]] == sorted(answers)
    for t in data["tensors"]:
        assert t["shape"] == answers[t["name"]]["shape"] and t["dtype_enum"] == answers[t["name"]]["dtype"]
        assert t["num_elements"] == int(np.prod(t["shape"]))
    assert data["total"]["tensors"] == len(answers)
    assert data["total"]["bytes"] == sum(t["nbytes"] for t in data["tensors"])
    assert data["object_based"] == (fixture.startswith("tf2"))


def test_tensor_values_and_stats(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gs(capsys, CKPTS / "dtypes", "--tensor", "float32_nan_payloads")
    assert code == 0, err
    values = np.frombuffer(bytes.fromhex(expected("dtypes")["float32_nan_payloads"]["hex"]), np.float32)
    finite = values[np.isfinite(values)]
    stats = dict(line.split(":", 1) for line in out.splitlines() if line[:4] in ("min:", "max:", "mean", "std:",
                                                                                    "nan:", "inf:"))
    assert float(stats["min"]) == finite.min() and float(stats["max"]) == finite.max()
    assert float(stats["mean"]) == pytest.approx(finite.mean()) and float(stats["std"]) == pytest.approx(finite.std())
    assert int(stats["nan"]) == 3 and int(stats["inf"]) == 2
    assert "nan" in out.splitlines()[1] and "inf" in out.splitlines()[1]


def test_tensor_all_prints_whole_array(capsys: pytest.CaptureFixture[str]) -> None:
    code, short, _ = gs(capsys, CKPTS / "dtypes", "--tensor", "float32_large")
    assert code == 0 and "..." in short
    code, whole, _ = gs(capsys, CKPTS / "dtypes", "--tensor", "float32_large", "--all")
    assert code == 0 and "..." not in whole and "187.375" in whole  # the last element, 1499 / 8


def test_tensor_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gs(capsys, CKPTS / "saver", "--tensor", "emb", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["shape"] == [10, 2] and data["num_slices"] == 3
    assert np.array(data["values"], np.float32).tobytes().hex() == expected("saver")["emb"]["hex"]
    code, out, _ = gs(capsys, CKPTS / "dtypes", "--tensor", "string", "--json")
    assert json.loads(out)["values"][3] == "h\u00e9llo"
    code, out, _ = gs(capsys, CKPTS / "dtypes", "--tensor", "float32_large", "--json")
    assert "values" not in json.loads(out)
    code, out, _ = gs(capsys, CKPTS / "dtypes", "--tensor", "float32_large", "--json", "--all")
    assert len(json.loads(out)["values"]) == 30


def test_progress_bar_only_on_a_terminal(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_inspect_checkpoint, "PROGRESS_MIN_BYTES", 1)
    code, out, err = gs(capsys, CKPTS / "dtypes", "--tensor", "float64")
    assert code == 0 and err == "", "no progress bar when stderr is not a terminal"
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = gs(capsys, CKPTS / "dtypes", "--tensor", "float64")
    assert code == 0 and "reading float64" in err and "100.0%" in err and "reading" not in out


def test_unknown_tensor_suggests_close_matches(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gs(capsys, CKPTS / "saver", "--tensor", "dense/kernl")
    assert code == 1 and out == ""
    assert err.startswith("gs: error: tensor 'dense/kernl' not found in checkpoint '") and "'dense/kernel'" in err


# --- damaged copies: exit 1 with a message, never a traceback -------------------------------

def _flip(path: pathlib.Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


def _missing_index(prefix: pathlib.Path) -> None:
    pathlib.Path(f"{prefix}.index").unlink()


def _missing_shard(prefix: pathlib.Path) -> None:
    pathlib.Path(f"{prefix}.data-00000-of-00001").unlink()


def _truncated_index(prefix: pathlib.Path) -> None:
    index = pathlib.Path(f"{prefix}.index")
    index.write_bytes(index.read_bytes()[:-1])


def _bad_magic(prefix: pathlib.Path) -> None:
    index = pathlib.Path(f"{prefix}.index")
    _flip(index, index.stat().st_size - 1)


def _corrupt_block(prefix: pathlib.Path) -> None:
    _flip(pathlib.Path(f"{prefix}.index"), 15)


def _truncated_shard(prefix: pathlib.Path) -> None:
    data = pathlib.Path(f"{prefix}.data-00000-of-00001")
    data.write_bytes(data.read_bytes()[:10])


def _bad_data(prefix: pathlib.Path) -> None:
    entry = load_checkpoint(prefix).entry("dense/kernel")
    _flip(pathlib.Path(f"{prefix}.data-00000-of-00001"), entry.offset)


@pytest.mark.parametrize("damage, message", [
    (_missing_index, r"model\.ckpt-7\.index' exists"),
    (_missing_shard, r"data shard '.*model\.ckpt-7\.data-00000-of-00001' .* is missing"),
    (_truncated_index, r"does not end with the SSTable magic"),
    (_bad_magic, r"does not end with the SSTable magic"),
    (_corrupt_block, r"data block 0 of '.*model\.ckpt-7\.index' .*fails its crc32c"),
    (_truncated_shard, r"which holds only 10 bytes"),
    (_bad_data, r"tensor 'dense/kernel' in '.*model\.ckpt-7\.data-00000-of-00001' .*fails its checksum"),
])
def test_damaged_checkpoint_errors(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str],
                                   damage, message: str) -> None:  # noqa: ANN001
    shutil.copytree(CKPTS / "saver", tmp_path / "saver")
    prefix = pathlib.Path(resolve_checkpoint_prefix(tmp_path / "saver"))
    damage(prefix)
    code, out, err = gs(capsys, tmp_path / "saver", "--tensor", "dense/kernel")
    assert code == 1, (out, err)
    assert err.startswith("gs: error: ") and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1
    assert re.search(message, err), err
