"""The one parser of TensorFlow's name forms: node, node:1, ^node."""

from __future__ import annotations

import pytest

from graphsurgeon.errors import NodeNotFoundError, close_matches, not_found
from graphsurgeon.graph.names import (
    TensorRef,
    format_input,
    input_nodes,
    node_name,
    parse_input,
    parse_inputs,
    split_names,
    tensor_name,
)

CASES = [
    ("a", TensorRef("a", 0, False)),
    ("a:0", TensorRef("a", 0, False)),
    ("scope/a:12", TensorRef("scope/a", 12, False)),
    ("^scope/a", TensorRef("scope/a", 0, True)),
    ("a:b", TensorRef("a:b", 0, False)),       # a suffix that is not a number stays in the name
    (":1", TensorRef(":1", 0, False)),         # no node before the colon
    ("a:", TensorRef("a:", 0, False)),
]


@pytest.mark.parametrize(("text", "ref"), CASES)
def test_parse_input(text: str, ref: TensorRef) -> None:
    assert parse_input(text) == ref


def test_parse_inputs_matches_parse_input() -> None:
    texts = [c[0] for c in CASES] + ["x/y/z", "^x:1", "q:007"]
    refs = parse_inputs(texts)
    assert refs == tuple(parse_input(t) for t in texts)
    assert all(type(r) is TensorRef for r in refs)
    assert parse_inputs([]) == ()
    assert list(input_nodes(texts)) == [r.node for r in refs]
    plain = ("a", "b/c")
    assert input_nodes(plain) is plain, "plain names are returned as they are"


def test_format_round_trips_and_tensor_names() -> None:
    for text in ("a", "a:1", "^a"):
        assert format_input(parse_input(text)) == text
    assert format_input(parse_input("a:0")) == "a"
    assert str(TensorRef("a", 2)) == "a:2"
    assert TensorRef("a").tensor_name == "a:0"
    assert node_name("^a") == node_name("a:3") == node_name("a") == "a"
    assert tensor_name("a") == "a:0" and tensor_name("a:2") == "a:2"
    with pytest.raises(ValueError, match="control input"):
        tensor_name("^a")


def test_split_names() -> None:
    assert split_names("a, b:0,,c") == ["a", "b:0", "c"]
    assert split_names(["a,b", "c"]) == ["a", "b", "c"]
    assert split_names(None) == []


def test_close_matches_and_not_found() -> None:
    names = ["dense/kernel", "dense/bias", "model/logits"]
    assert close_matches("dense/kernl", names)[0] == "dense/kernel"
    assert "model/logits" in close_matches("logits", names)
    err = not_found("output", "dense/kernl", names, where="graph.pb")
    assert isinstance(err, NodeNotFoundError)
    assert "output 'dense/kernl' not found in graph.pb; did you mean 'dense/kernel'" in str(err)
    assert "gs inspect" in str(err)


def test_unique_name_skips_every_taken_set() -> None:
    from graphsurgeon.graph.names import unique_name

    assert unique_name("a", {"b"}) == "a"
    assert unique_name("a", {"a", "a_1"}, ["a_2"]) == "a_3"
    taken = {"x"}
    assert unique_name("x", taken) == "x_1" and taken == {"x"}, "unique_name must not add to taken"
