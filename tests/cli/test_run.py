"""gs run: value parsing (no TensorFlow), install hint without TensorFlow, and runs against TF's own answers."""

from __future__ import annotations

import json
import math
import pathlib
import sys

import numpy as np
import pytest

from graphsurgeon._proto import types_pb2
from graphsurgeon.cli import main
from graphsurgeon.cli import run as cli_run
from graphsurgeon.errors import FileFormatError, MismatchError
from graphsurgeon.validate import InputSpec

VALIDATE = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "validate"
MLP = VALIDATE / "mlp"
TABLE = VALIDATE / "table"
DT = types_pb2


def _spec(name: str, dtype: int, shape: tuple[int, ...] | None = ()) -> InputSpec:
    return InputSpec(f"{name}:0", name, dtype, shape)


def _gs(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- literals and files (no TensorFlow) ---------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("1.0", 1.0), ("-3", -3), ("1e-3", 1e-3), ("true", True), ("False", False), ("TRUE", True),
    ("[1,2]", [1, 2]), ("[[1.5, 2], [3, 4]]", [[1.5, 2], [3, 4]]), ("[true, false]", [True, False]),
    ("inf", math.inf), ("-inf", -math.inf),
])
def test_parse_literal(text: str, expected: object) -> None:
    assert cli_run.parse_literal(text) == expected


def test_parse_literal_nan_and_strings() -> None:
    assert math.isnan(cli_run.parse_literal("nan"))
    words = _spec("words", DT.DT_STRING, (-1,))
    assert cli_run.parse_literal("hello world", words) == "hello world", "text is the value of a string input"
    assert cli_run.parse_literal('["a", "b c"]', words) == ["a", "b c"]
    assert cli_run.parse_literal("[not a list", words) == "[not a list"
    with pytest.raises(MismatchError, match=r"cannot read 'abc' as a value for placeholder 'rate:0' \(float"):
        cli_run.parse_literal("abc", _spec("rate", DT.DT_FLOAT))
    with pytest.raises(MismatchError, match="cannot read"):
        cli_run.parse_literal("{1: 2}")


SPECS = [
    _spec("keep_prob", DT.DT_FLOAT), _spec("is_training", DT.DT_BOOL), _spec("ids", DT.DT_INT64, (-1,)),
    _spec("pixels", DT.DT_UINT8, (2, 2)), _spec("words", DT.DT_STRING, (-1,)), _spec("scale", DT.DT_DOUBLE),
    _spec("half", DT.DT_HALF, (2,)), _spec("n", DT.DT_INT32), _spec("z", DT.DT_COMPLEX64),
    _spec("x", DT.DT_FLOAT, (-1, 8)),
]


@pytest.mark.parametrize(("item", "name", "dtype", "value"), [
    ("keep_prob:0=1.0", "keep_prob:0", np.float32, 1.0),
    ("keep_prob=1", "keep_prob:0", np.float32, 1.0),
    ("is_training:0=false", "is_training:0", np.bool_, False),
    ("is_training=True", "is_training:0", np.bool_, True),
    ("is_training=1", "is_training:0", np.bool_, True),
    ("is_training=0", "is_training:0", np.bool_, False),
    ("ids=[1, 2, 3]", "ids:0", np.int64, [1, 2, 3]),
    ("pixels=[[0, 255], [7, 8]]", "pixels:0", np.uint8, [[0, 255], [7, 8]]),
    ('words=["apple", "kiwi"]', "words:0", object, [b"apple", b"kiwi"]),
    ("scale=0.5", "scale:0", np.float64, 0.5),
    ("half=[0.5, 1]", "half:0", np.float16, [0.5, 1.0]),
    ("n=-7", "n:0", np.int32, -7),
    ("z=1+2j", "z:0", np.complex64, 1 + 2j),
])
def test_parse_feeds_each_dtype(item: str, name: str, dtype: type, value: object) -> None:
    feeds = cli_run.parse_feeds([item], SPECS)
    assert list(feeds) == [name]
    assert feeds[name].dtype == np.dtype(dtype), f"{item}: {feeds[name].dtype}"
    assert feeds[name].tolist() == value


@pytest.mark.parametrize(("item", "message"), [
    ("is_training=0.5", r"'is_training:0' \(bool, shape \[\]\) must be a bool"),
    ("n=1.5", r"'n:0' \(int32, shape \[\]\) must be an integer"),
    ("pixels=[[0, 256], [1, 2]]", "out of the range of uint8"),
    ("x=1.0", r"'x:0' \(float, shape \[\?,8\]\) is a scalar"),
    ("ids=[[1]]", r"'ids:0' \(int64, shape \[\?\]\) has shape \[1,1\]"),
    ("keep_prob", "is not NAME=VALUE"),
    ("=1", "is not NAME=VALUE"),
    ("^keep_prob=1", "control input"),
])
def test_parse_feeds_errors_name_the_placeholder(item: str, message: str) -> None:
    with pytest.raises(MismatchError, match=message):
        cli_run.parse_feeds([item], SPECS)


def test_parse_feeds_twice_is_an_error() -> None:
    with pytest.raises(MismatchError, match="given twice"):
        cli_run.parse_feeds(["keep_prob=1", "keep_prob:0=0.5"], SPECS)


def test_load_value_from_files(tmp_path: pathlib.Path) -> None:
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.save(tmp_path / "a.npy", array)
    np.savez(tmp_path / "many.npz", first=array, second=array * 2)
    np.savez(tmp_path / "one.npz", only=array + 1)
    np.testing.assert_array_equal(cli_run.load_value(str(tmp_path / "a.npy")), array)
    np.testing.assert_array_equal(cli_run.load_value(f"{tmp_path / 'many.npz'}:second"), array * 2)
    np.testing.assert_array_equal(cli_run.load_value(str(tmp_path / "one.npz")), array + 1)
    with pytest.raises(FileFormatError, match="has no array 'third'; it holds: first, second"):
        cli_run.load_value(f"{tmp_path / 'many.npz'}:third")
    with pytest.raises(FileFormatError, match="holds 2 arrays"):
        cli_run.load_value(str(tmp_path / "many.npz"))
    with pytest.raises(FileFormatError, match="not found"):
        cli_run.load_value(str(tmp_path / "missing.npy"))
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(FileFormatError, match="cannot read"):
        cli_run.load_value(str(tmp_path / "bad.npy"))
    feeds = cli_run.parse_feeds([f"x={tmp_path / 'many.npz'}:first"], [_spec("x", DT.DT_FLOAT, (-1, 3))])
    np.testing.assert_array_equal(feeds["x:0"], array)


def test_top_k_and_softmax() -> None:
    logits = np.array([[1.0, 3.0, 2.0], [0.0, -1.0, 5.0]], np.float32)
    best = cli_run.top_k(logits, 2)
    probs = cli_run.softmax(logits)
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0)
    assert [[c for c, _ in row] for row in best] == [[1, 2], [2, 0]]
    assert best[0][0][1] == pytest.approx(probs[0, 1])
    already = np.array([[0.1, 0.7, 0.2]], np.float32)
    assert cli_run.top_k(already, 1) == [[(1, pytest.approx(0.7))]], "probabilities are not softmaxed again"
    assert len(cli_run.top_k(logits, 10)[0]) == 3


def test_run_missing_required_input_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _gs(capsys, "run", MLP / "frozen.pb")
    assert code == 1 and out == ""
    assert "no value for required input 'x:0' (float, shape [?,8])" in err and "--random-inputs" in err, err


def test_run_scalar_for_array_input_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _gs(capsys, "run", MLP / "frozen.pb", "--input", "x=1.0")
    assert code == 1 and "'x:0' (float, shape [?,8]) is a scalar" in err, err


def test_run_without_tensorflow_gives_install_hint(capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    code, out, err = _gs(capsys, "run", MLP / "frozen.pb", "--random-inputs")
    assert code == 1 and out == ""
    assert err.startswith("gs: error:") and 'pip install "tf-graphsurgeon[tf]"' in err, err
    assert "Traceback" not in err


# --- with TensorFlow ---------------------------------------------------------------------------

def _expected(directory: pathlib.Path) -> dict[str, np.ndarray]:
    with np.load(directory / "expected.npz") as archive:
        return dict(archive)


@pytest.mark.tf
def test_run_reproduces_original_outputs_and_saves(capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path) -> None:
    saved = tmp_path / "out.npz"
    code, out, err = _gs(capsys, "run", MLP / "frozen.pb", "--input", f"x={MLP / 'inputs.npz'}:x",
                         "--input", "keep_prob:0=1.0", "--input", "is_training:0=false",
                         "--output", "logits", "--output", "probs:0", "--save", saved)
    assert code == 0, err
    expected = _expected(MLP)
    with np.load(saved, allow_pickle=False) as archive:
        assert sorted(archive.keys()) == ["logits:0", "probs:0"]
        for name in archive.keys():
            np.testing.assert_allclose(archive[name], expected[name], rtol=1e-6, atol=1e-7, err_msg=name)
    assert "logits:0  float32[3,5]" in out and "probs:0   float32[3,5]" in out, out
    assert f"saved 2 output(s) to {saved}" in out
    assert err == "", f"TensorFlow noise leaked: {err!r}"


@pytest.mark.tf
def test_run_top_k_matches_tensorflow_probabilities(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _gs(capsys, "run", MLP / "frozen.pb", "--input", f"x={MLP / 'inputs.npz'}:x", "--top-k", "2")
    assert code == 0, err
    probs = _expected(MLP)["probs:0"]
    for row, values in enumerate(probs):
        best = np.argsort(-values)[:2]
        line = f"top-2 row {row}: {best[0]} ({values[best[0]]:.4f}), {best[1]} ({values[best[1]]:.4f})"
        assert line in out, f"missing {line!r} in\n{out}"


@pytest.mark.tf
def test_run_json_and_table_initializers(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _gs(capsys, "run", TABLE / "frozen.pb", "--input", 'words=["banana","kiwi","apple","date"]',
                         "--output", "ids,out", "--json")
    assert code == 0, err
    data = json.loads(out)
    expected = _expected(TABLE)
    assert data["outputs"]["ids:0"]["values"] == expected["ids:0"].tolist()
    np.testing.assert_allclose(data["outputs"]["out:0"]["values"], expected["out:0"], rtol=1e-6)
    assert data["outputs"]["out:0"]["shape"] == [4, 3] and data["outputs"]["ids:0"]["dtype"] == "int64"


@pytest.mark.tf
def test_run_random_inputs_and_batch(capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path) -> None:
    saved = tmp_path / "random.npz"
    code, out, err = _gs(capsys, "run", MLP / "frozen.pb", "--random-inputs", "--batch", "3", "--seed", "7",
                         "--device", "cpu", "--save", saved)
    assert code == 0, err
    with np.load(saved) as archive:
        probs = archive["probs:0"]
    assert probs.shape == (3, 5)
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-5)


@pytest.mark.tf
def test_run_refuses_to_overwrite_graph_and_unknown_output(capsys: pytest.CaptureFixture[str],
                                                           tmp_path: pathlib.Path) -> None:
    graph = tmp_path / "frozen.pb"
    graph.write_bytes((MLP / "frozen.pb").read_bytes())
    code, _, err = _gs(capsys, "run", graph, "--random-inputs", "--save", graph)
    assert code == 1 and "same file" in err, err
    code, _, err = _gs(capsys, "run", graph, "--random-inputs", "--output", "prob")
    assert code == 1 and "did you mean 'probs'" in err, err


@pytest.mark.tf
def test_run_original_models_restore_their_variables(capsys: pytest.CaptureFixture[str]) -> None:
    expected = _expected(TABLE)
    code, out, err = _gs(capsys, "run", TABLE / "saved_model", "--input", 'words=["banana","kiwi","apple","date"]',
                         "--output", "ids", "--json")
    assert code == 0, err
    assert json.loads(out)["outputs"]["ids:0"]["values"] == expected["ids:0"].tolist()
    for original in (["run", MLP / "model.ckpt.meta"], ["run", MLP / "graph.pb", "--checkpoint", MLP / "model.ckpt"]):
        code, out, err = _gs(capsys, *original, "--input", f"x={MLP / 'inputs.npz'}:x", "--output", "probs", "--json")
        assert code == 0, err
        np.testing.assert_allclose(json.loads(out)["outputs"]["probs:0"]["values"], _expected(MLP)["probs:0"],
                                   rtol=1e-6)
    code, _, err = _gs(capsys, "run", MLP / "graph.pb", "--random-inputs")
    assert code == 1 and "uninitialized value" in err and "freeze it, or run it with its checkpoint" in err, err


@pytest.mark.tf
def test_run_hides_tensorflow_start_up_noise() -> None:
    """A fresh process: TensorFlow's C++ start-up lines (oneDNN, absl) and deprecation notes stay hidden."""
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-m", "graphsurgeon", "run", str(MLP / "frozen.pb"), "--random-inputs"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", f"noise on stderr: {result.stderr!r}"
    assert result.stdout.startswith("probs:0  float32[1,5]"), result.stdout
