"""drop_inert_controls: a control input goes only when its node and all it depends on are stateless ops
(not control flow v1, not functions, not unknown ops); an IdentityN of one input becomes an Identity."""

from __future__ import annotations

import numpy as np
from rewrite_graphs import DT, F32, build, const, inputs_of, ops_of, placeholder

from graphsurgeon.rewrite.drop_inert_controls import drop_inert_controls


def test_only_side_effect_free_control_inputs_go():
    g = build(placeholder("x"), placeholder("p", DT.DT_BOOL, []),
              const("c", np.float32(1)), const("c2", np.float32(2), controls=["c"]),
              ("noop", "NoOp", ["^c", "^c2"], {}),
              ("check", "CheckNumerics", ["x"], {"T": DT.DT_FLOAT, "message": b"bad"}),  # stateful
              ("sw", "Switch", ["x", "p"], F32), ("pivot", "Identity", ["sw:1"], F32),
              ("custom", "MyCustomOp", [], {}),
              ("relu", "Relu", ["x", "^noop", "^check", "^pivot", "^custom", "^c"], F32),
              ("out", "IdentityN", ["relu", "^noop"], {"T": [np.float32]}))
    before = g.SerializeToString()
    out = drop_inert_controls(g, ["out"])
    assert g.SerializeToString() == before
    inputs = inputs_of(out)
    assert inputs["relu"] == ["x", "^check", "^pivot", "^custom"]
    assert inputs["out"] == ["relu"] and ops_of(out)["out"] == "Identity"
    assert next(n for n in out.node if n.name == "out").attr["T"].type == DT.DT_FLOAT
    assert inputs["c2"] == []  # a Const waiting on a Const
    assert inputs["noop"] == []


def test_identity_n_with_several_inputs_stays():
    g = build(placeholder("x"), ("two", "IdentityN", ["x", "x"], {"T": [np.float32, np.float32]}),
              ("add", "Add", ["two:0", "two:1"], F32))
    out = drop_inert_controls(g, ["add"])
    assert ops_of(out)["two"] == "IdentityN"
