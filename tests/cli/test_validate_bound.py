"""gs validate after gs freeze --bind: bound switches get their bound value, tolerances follow each output's scale.

The fixture (tests/fixtures/make_validate_fixtures.py, real TensorFlow) is a small CNN whose
``is_training`` (batch statistics or moving averages, through ``tf.cond``) and ``keep_prob``
(dropout) are plain required placeholders, as in TF-Slim models. Before, validate fed the original
random values for them, and a correct frozen graph failed on every seed.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from graphsurgeon import comparison
from graphsurgeon import values as gvalues
from graphsurgeon._proto import graph_pb2
from graphsurgeon.cli import main
from graphsurgeon.formats import tensors
from graphsurgeon.formats.model import load_graph

SWITCHES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "validate" / "switches"
META = SWITCHES / "model.ckpt.meta"
SEEDS = range(5)


def _gs(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def frozen(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The fixture frozen by ``gs freeze --bind is_training=false --bind keep_prob=1.0`` (no TensorFlow)."""
    path = tmp_path_factory.mktemp("bound") / "frozen.pb"
    code = main(["freeze", "--input_meta_graph", str(META), "--output_node_names", "logits", "--output_graph",
                 str(path), "--bind", "is_training=false", "--bind", "keep_prob=1.0"])
    assert code == 0 and path.exists()
    return path


def _renamed(frozen: pathlib.Path, out: pathlib.Path, *nodes: str) -> pathlib.Path:
    """A copy of ``frozen`` whose bound Consts ``nodes`` lost their names (as a folding pass may leave it)."""
    graph_def = graph_pb2.GraphDef.FromString(frozen.read_bytes())
    renames = {name: f"folded/{name}" for name in nodes}
    for node in graph_def.node:
        if node.name in renames:
            assert node.op == "Const", node
            node.name = renames[node.name]
        for i, name in enumerate(node.input):
            if name in renames:
                node.input[i] = renames[name]
    out.write_bytes(graph_def.SerializeToString())
    return out


# --- the bound value, found without TensorFlow ----------------------------------------------------

def test_bound_values_come_from_the_frozen_graph(frozen: pathlib.Path, tmp_path: pathlib.Path) -> None:
    original = load_graph(META).graph_def
    frozen_def = load_graph(frozen).graph_def
    found = gvalues.bound_values(original, frozen_def, ["logits:0"])
    assert set(found) == {"is_training:0", "keep_prob:0"}, found
    value, source = found["is_training:0"]
    assert value.dtype == np.bool_ and value.shape == () and not value and source == gvalues.BOUND_IN_FROZEN
    value, source = found["keep_prob:0"]
    assert value.dtype == np.float32 and value == 1.0 and source == gvalues.BOUND_IN_FROZEN
    assert set(gvalues.bound_values(original, frozen_def, ["logits:0"], given=["keep_prob:0"])) == {"is_training:0"}

    # a freeze that bound keep_prob to 0.5 is validated with 0.5, not with the switch's usual 1.0
    half = tmp_path / "half.pb"
    assert main(["freeze", "--input_meta_graph", str(META), "--output_node_names", "logits", "--output_graph",
                 str(half), "--bind", "is_training=false", "--bind", "keep_prob=0.5"]) == 0
    assert gvalues.bound_values(original, load_graph(half).graph_def, ["logits:0"])["keep_prob:0"][0] == 0.5


def test_bound_values_fall_back_to_the_switch_value(frozen: pathlib.Path, tmp_path: pathlib.Path) -> None:
    original = load_graph(META).graph_def
    folded = load_graph(_renamed(frozen, tmp_path / "folded.pb", "is_training", "keep_prob")).graph_def
    found = gvalues.bound_values(original, folded, ["logits:0"])
    assert {name: (value.item(), source) for name, (value, source) in found.items()} == {
        "is_training:0": (False, gvalues.SWITCH_DEFAULT), "keep_prob:0": (1.0, gvalues.SWITCH_DEFAULT)}
    # a Const of the same name but another dtype is not the binding
    wrong = graph_pb2.GraphDef()
    wrong.CopyFrom(load_graph(frozen).graph_def)
    node = next(n for n in wrong.node if n.name == "keep_prob")
    node.attr["value"].tensor.CopyFrom(tensors.array_to_tensor(np.array(["x"], dtype=object)))
    assert gvalues.bound_values(original, wrong, ["logits:0"])["keep_prob:0"][1] == gvalues.SWITCH_DEFAULT


def test_given_values_that_differ_from_the_binding_are_overridden(frozen: pathlib.Path, tmp_path: pathlib.Path) -> None:
    original = load_graph(META).graph_def
    frozen_def = load_graph(frozen).graph_def
    fixed, overridden = gvalues.original_only_values(original, frozen_def, ["logits:0"], {"keep_prob": 0.3})
    assert set(fixed) == {"is_training:0"} and set(overridden) == {"keep_prob:0"}, (fixed, overridden)
    given, bound = overridden["keep_prob:0"]
    assert given.dtype == np.float32 and given == np.float32(0.3) and bound == 1.0
    assert gvalues.original_only_values(original, frozen_def, ["logits:0"], {"keep_prob:0": 1, "is_training": 0})[1] \
        == {}
    # what the freeze bound (FreezeResult.bound) wins where folding left no Const of the name: 0.5, not the switch's 1.0
    folded = load_graph(_renamed(frozen, tmp_path / "folded.pb", "is_training", "keep_prob")).graph_def
    found = gvalues.bound_values(original, folded, ["logits:0"], bound={"keep_prob": 0.5})
    assert found["keep_prob:0"] == (np.float32(0.5), gvalues.BOUND_IN_FROZEN)
    assert found["is_training:0"][1] == gvalues.SWITCH_DEFAULT
    # a folded binding's value is unknown: a given value is not reported as overriding it
    assert gvalues.original_only_values(original, folded, ["logits:0"], {"is_training": True})[1] == {}


def test_placeholders_the_frozen_graph_keeps_are_not_bound() -> None:
    mlp = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "validate" / "mlp"
    # keep_prob and is_training stay placeholders (with defaults) there: both graphs use their defaults
    assert gvalues.bound_values(load_graph(mlp / "graph.pb").graph_def, load_graph(mlp / "frozen.pb").graph_def,
                                ["logits:0"]) == {}


# --- the scale-aware tolerance (no TensorFlow) ----------------------------------------------------

def _deep_net_logits() -> tuple[np.ndarray, np.ndarray]:
    """Logits up to ~2e3 with near-zero elements, and the same with 3e-3 of summation-order noise."""
    rng = np.random.default_rng(0)
    want = np.clip(rng.standard_normal((4, 1000)) * 600, -1900, 1900).astype(np.float32)
    want[0, 10] = 2000.0
    want[:, :10] = rng.standard_normal((4, 10)).astype(np.float32) * 1e-3  # near zero
    got = (want + rng.uniform(-3e-3, 3e-3, want.shape)).astype(np.float32)
    return want, got


def test_scale_aware_tolerance_passes_summation_noise_that_elementwise_fails() -> None:
    want, got = _deep_net_logits()
    scaled = comparison.compare(want, got)
    assert scaled.ok, scaled
    assert scaled.scale == pytest.approx(2000.0) and 2e-3 < scaled.max_abs < 3.1e-3
    assert scaled.max_rel == pytest.approx(scaled.max_abs / 2000.0)
    assert scaled.allowed == pytest.approx(comparison.DEFAULT_ATOL + comparison.DEFAULT_RTOL * 2000.0)
    elementwise = comparison.compare(want, got, elementwise=True)
    assert not elementwise.ok and elementwise.note.endswith(f"of {want.size} differ"), elementwise
    close = np.isclose(got, want, rtol=comparison.DEFAULT_RTOL, atol=comparison.DEFAULT_ATOL)
    assert elementwise.note == f"{int(np.sum(~close))} of {want.size} differ", "the element-wise rule is numpy's"
    # the scale does not hide a real error: one logit off by 1 on a scale of 2e3 (5e-4 relative)
    broken = got.copy()
    broken[1, 500] += 1.0
    assert not comparison.compare(want, broken).ok
    # tighter flags make the noise fail too
    assert not comparison.compare(want, got, rtol=1e-7, atol=1e-6).ok


def test_scale_ignores_infinities_and_nan_matches_only_nan() -> None:
    want = np.array([np.inf, -np.inf, 3.0, np.nan, 0.0], np.float32)
    assert comparison.compare(want, want.copy()).ok
    found = comparison.compare(want, np.array([np.inf, -np.inf, 3.0, np.nan, 2e-4], np.float32))
    assert found.scale == 3.0 and found.ok, "2e-4 is within 1e-5 + 1e-4 * 3"
    assert not comparison.compare(want, np.array([np.inf, 1e30, 3.0, np.nan, 0.0], np.float32)).ok
    assert not comparison.compare(want, np.array([np.inf, -np.inf, 3.0, 1.0, 0.0], np.float32)).ok
    zeros = np.zeros(3, np.float32)
    found = comparison.compare(zeros, zeros + np.float32(1e-3))
    assert not found.ok and found.scale == 0.0 and found.max_rel == np.inf and found.allowed == comparison.DEFAULT_ATOL


def _report(row: comparison.ValidationRow, elementwise: bool = False) -> comparison.ValidationReport:
    return comparison.ValidationReport("orig.meta", "frozen.pb", None, [row], {}, [], ["CPU:0"], 1e-4, 1e-5,
                                       elementwise=elementwise)


def test_mismatch_message_names_the_flags_the_error_and_the_scale() -> None:
    want, got = _deep_net_logits()
    for elementwise in (False, True):
        broken = got.copy()
        broken[1, 500] += 1.0
        found = comparison.compare(want, broken, elementwise=elementwise)
        row = comparison.ValidationRow("logits:0", "CPU:0", want.shape, "float32", found.max_abs, found.max_rel,
                                       found.ok, found.note, found.scale)
        report = _report(row, elementwise)
        message = report.mismatch_message()
        assert message.startswith("MISMATCH: logits:0 on CPU:0"), message
        for part in ("--rtol", "--atol", "scale 2e+03", f"relative error {found.max_rel:.3g}",
                     f"max abs error {found.max_abs:.3g}"):
            assert part in message, (part, message)
        assert ("--elementwise" in message) is elementwise, message
        assert report.format().splitlines()[-1] == message
        assert report.to_dict()["message"] == message and report.to_dict()["rows"][0]["scale"] == pytest.approx(2000)
    ints = comparison.ValidationRow("ids:0", "CPU:0", (3,), "int64", 2.0, None, False, "1 of 3 differ")
    assert "int64 must match exactly" in _report(ints).mismatch_message()


# --- gs validate with TensorFlow ------------------------------------------------------------------

@pytest.mark.tf
@pytest.mark.parametrize("seed", SEEDS)
def test_validate_after_bind_passes_on_every_seed(frozen: pathlib.Path, seed: int,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _gs(capsys, "validate", META, frozen, "--seed", seed, "--batch", 2)
    assert code == 0, out + err
    assert "input:    is_training:0 bool[] (= false, bound in the frozen graph)" in out, out
    assert "input:    keep_prob:0 float32[] (= 1.0, bound in the frozen graph)" in out, out
    assert f"input:    images:0 float32[2,6,6,3] (random, seed {seed})" in out, out


@pytest.mark.tf
@pytest.mark.parametrize("seed", SEEDS)
def test_random_switch_values_fail(frozen: pathlib.Path, seed: int) -> None:
    """What validate fed before (random is_training and keep_prob, seed + 1) makes a correct frozen graph fail."""
    from graphsurgeon import validate as gv

    original = load_graph(META).graph_def
    images = gvalues.prepare_feeds(load_graph(frozen).graph_def, random_inputs=True, seed=seed, outputs=["logits:0"])
    old = gvalues.prepare_feeds(original, images, random_inputs=True, seed=seed + 1, outputs=["logits:0"])
    switches = {name: old[name] for name in ("is_training:0", "keep_prob:0")}
    report = gv.validate(META, frozen, inputs=switches, seed=seed)
    assert not report.ok, f"seed {seed}: random {switches} did not change the outputs"
    assert "is_training:0" not in report.fixed and report.inputs["keep_prob:0"] == ((), "float32")
    assert gv.validate(META, frozen, seed=seed).ok


@pytest.mark.tf
def test_validate_reports_the_fed_values_in_json(frozen: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _gs(capsys, "validate", META, frozen, "--seed", 3, "--json")
    assert code == 0, out + err
    data = json.loads(out)
    assert data["inputs"]["is_training:0"] == {"shape": [], "dtype": "bool", "random": False, "value": False,
                                               "source": "bound in the frozen graph"}
    assert data["inputs"]["keep_prob:0"]["value"] == 1.0 and data["inputs"]["images:0"]["random"] is True
    assert data["elementwise"] is False and data["message"] is None and data["rows"][0]["scale"] > 0


@pytest.mark.tf
def test_validate_uses_the_switch_value_when_the_binding_was_folded(frozen: pathlib.Path, tmp_path: pathlib.Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    folded = _renamed(frozen, tmp_path / "folded.pb", "is_training", "keep_prob")
    code, out, err = _gs(capsys, "validate", META, folded, "--seed", 1)
    assert code == 0, out + err
    assert f"input:    is_training:0 bool[] (= false, {gvalues.SWITCH_DEFAULT})" in out, out
    assert f"input:    keep_prob:0 float32[] (= 1.0, {gvalues.SWITCH_DEFAULT})" in out, out


@pytest.mark.tf
def test_given_input_wins_over_the_bound_value(frozen: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _gs(capsys, "validate", META, frozen, "--input", "keep_prob=0.5", "--seed", 2)
    assert code == 1, out
    assert "input:    keep_prob:0 float32[] (given)" in out, out
    assert "input:    is_training:0 bool[] (= false, bound in the frozen graph)" in out, out
    assert ("warning:  keep_prob:0 is given as 0.5 but the frozen graph bound it to 1.0: the original runs with 0.5, "
            "the frozen graph with 1.0, so outputs may differ") in out, out
    last = out.splitlines()[-1]
    assert last.startswith("MISMATCH: logits:0 on CPU:0") and "--rtol" in last and "scale" in last, last
    assert "does not match the original" in err, err


@pytest.mark.tf
def test_given_value_other_than_the_binding_is_warned(frozen: pathlib.Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """--input for a placeholder the frozen graph bound: the given value wins, and a one-line warning says why
    the outputs then differ; the bound value itself, given again, warns of nothing."""
    code, out, err = _gs(capsys, "validate", META, frozen, "--input", "keep_prob=0.3", "--input", "is_training=false",
                         "--seed", 4)
    assert code == 1, out + err
    warnings = [line for line in out.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning:  keep_prob:0 is given as 0.3 but the frozen graph bound it to 1.0: the original "
                        "runs with 0.3, the frozen graph with 1.0, so outputs may differ"], out
    assert "input:    is_training:0 bool[] (given)" in out and out.splitlines()[-1].startswith("MISMATCH"), out

    code, out, err = _gs(capsys, "validate", META, frozen, "--input", "keep_prob=0.3", "--seed", 4, "--json")
    assert code == 1, out + err
    data = json.loads(out)
    assert data["inputs"]["keep_prob:0"]["source"] == "given" and data["inputs"]["keep_prob:0"]["random"] is False
    assert data["inputs"]["keep_prob:0"]["value"] == pytest.approx(0.3)
    assert data["inputs"]["keep_prob:0"]["bound_value"] == 1.0, data["inputs"]
    assert data["warnings"] == [w.removeprefix("warning:  ") for w in warnings], data["warnings"]
    assert f"gs: warning: {data['warnings'][0]}" in err, err
    assert data["inputs"]["is_training:0"]["source"] == "bound in the frozen graph"

    code, out, err = _gs(capsys, "validate", META, frozen, "--input", "keep_prob=1", "--input", "is_training=0",
                         "--seed", 4)
    assert code == 0 and "warning" not in out + err, out + err
    assert "input:    keep_prob:0 float32[] (given)" in out, out


@pytest.mark.tf
@pytest.mark.parametrize("how", ["bind", "bind-optimize", "inference"])
def test_freeze_validate_reports_its_bindings_as_bound(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str],
                                                       how: str) -> None:
    """gs freeze --validate reports what it bound as plain gs validate does, not as given inputs; after
    --optimize, whose folding removes the bound Consts, keep_prob is still validated with its bound 0.5."""
    frozen = tmp_path / "frozen.pb"
    extra = {"bind": ["--bind", "is_training=false", "--bind", "keep_prob=0.5"],
             "bind-optimize": ["--bind", "is_training=false", "--bind", "keep_prob=0.5", "--optimize"],
             "inference": ["--inference"]}[how]
    code, out, err = _gs(capsys, "freeze", "--input_meta_graph", META, "--output_node_names", "logits",
                         "--output_graph", frozen, "--validate", *extra)
    assert code == 0, out + err
    keep_prob = "1.0" if how == "inference" else "0.5"
    assert "input:    is_training:0 bool[] (= false, bound in the frozen graph)" in out, out
    assert f"input:    keep_prob:0 float32[] (= {keep_prob}, bound in the frozen graph)" in out, out
    assert "(given)" not in out and "warning" not in out + err and out.splitlines()[-1].startswith("OK: 1 output"), out
    placeholders = {n.name for n in load_graph(frozen).graph_def.node if n.name in ("is_training", "keep_prob")}
    assert placeholders == (set() if how == "bind-optimize" else {"is_training", "keep_prob"}), placeholders


@pytest.mark.tf
def test_real_mismatch_still_fails(frozen: pathlib.Path, tmp_path: pathlib.Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    graph_def = graph_pb2.GraphDef.FromString(frozen.read_bytes())
    node = next(n for n in graph_def.node if n.name == "out/biases")
    value = tensors.tensor_to_array(node.attr["value"].tensor).copy()
    value[1] += 0.05
    node.attr["value"].tensor.CopyFrom(tensors.array_to_tensor(value))
    altered = tmp_path / "altered.pb"
    altered.write_bytes(graph_def.SerializeToString())
    for extra in ((), ("--elementwise",)):
        code, out, err = _gs(capsys, "validate", META, altered, "--seed", 0, *extra)
        assert code == 1, out
        row = next(line for line in out.splitlines() if line.startswith("logits:0"))
        assert "MISMATCH (1 of 4 differ)" in row, row
        last = out.splitlines()[-1]
        assert "max abs error 0.05" in last and "--rtol" in last and "--atol" in last, last
        assert ("--elementwise" in last) == bool(extra), last
    code, out, err = _gs(capsys, "validate", META, altered, "--seed", 0, "--json")
    assert code == 1 and "--rtol" in json.loads(out)["message"] and "--atol" in err, err
    code, out, _ = _gs(capsys, "validate", META, altered, "--seed", 0, "--atol", "0.06")
    assert code == 0, out


@pytest.mark.tf
@pytest.mark.slow
def test_deep_net_with_large_logits_passes_on_every_seed(tmp_path: pathlib.Path) -> None:
    """tf_keras ResNet50 (TF1 graph mode, 64x64) with logits scaled to ~2e3, as a trained net's: the frozen
    graph differs from the session by about 2e-3 (oneDNN summation order), which the element-wise rule
    fails on near-zero logits (2 to 6 of 1000 on each seed here); the scale-aware default passes."""
    import os

    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf

    keras = pytest.importorskip("tf_keras", reason="tf_keras is not installed (TF1 graph-mode Keras models)")
    from tf_keras.src import backend as keras_backend  # get_session is not exported by tf_keras 2.x

    from graphsurgeon import validate as gv

    keras.backend.clear_session()
    try:
        with tf.Graph().as_default():
            keras.utils.set_random_seed(0)
            model = keras.applications.ResNet50(weights=None, classifier_activation=None, input_shape=(64, 64, 3))
            sess = keras_backend.get_session()
            kernel = model.get_layer("predictions").kernel
            sess.run(kernel.assign(kernel * 5000.0))
            output = model.output.name
            prefix = tf.compat.v1.train.Saver().save(sess, str(tmp_path / "model.ckpt"))
    finally:
        keras.backend.clear_session()
    frozen = tmp_path / "frozen.pb"
    assert main(["freeze", "--input_meta_graph", prefix + ".meta", "--output_node_names", output.split(":")[0],
                 "--output_graph", str(frozen), "--bind", "keras_learning_phase=false"]) == 0
    for seed in range(3):  # each run loads the 100 MB model twice
        report = gv.validate(prefix + ".meta", frozen, seed=seed, devices=["cpu"])
        assert report.ok, report.format()
        row = report.rows[0]
        assert row.scale > 1e3 and row.max_abs < 1e-2 and row.max_rel < 1e-5, report.format()
        assert report.fixed["keras_learning_phase:0"] == (False, gvalues.BOUND_IN_FROZEN)
