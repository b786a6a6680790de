"""Will a frozen graph run on its own? Warnings for what it still needs from the caller.

* **Training switches**: the outputs depend on a placeholder that ``gs inspect`` calls a switch
  (a scalar bool such as ``is_training``, or a float named like ``keep_prob`` / ``dropout`` /
  ``keras_learning_phase``). Unbound, ``gs optimize`` folds nothing behind it, TFLite stops on the
  placeholder and OpenVINO makes it a model input. ``switch_binds`` gives the ``--bind`` values.
* **Lookup tables**: the outputs read a table whose initializer is not in the frozen graph, so
  every lookup fails with "Table not initialized" (name the initializer, usually
  ``init_all_tables``, in ``--initializer_nodes``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from graphsurgeon._proto import graph_pb2
from graphsurgeon.graph.names import parse_input, split_names
from graphsurgeon.graph.walk import ancestors
from graphsurgeon.summary import node_shape, switch_hint

_PLACEHOLDER_OPS = frozenset({"Placeholder", "PlaceholderV2", "PlaceholderWithDefault"})
#: Ops that make a lookup table (resource or ref handle).
TABLE_OPS = frozenset({"HashTable", "HashTableV2", "MutableHashTable", "MutableHashTableV2",
                       "MutableHashTableOfTensors", "MutableHashTableOfTensorsV2", "MutableDenseHashTable",
                       "MutableDenseHashTableV2", "AnonymousHashTable", "AnonymousMutableHashTable"})
#: Ops that fill a table (input 0 is the table).
TABLE_INIT_OPS = frozenset({"InitializeTable", "InitializeTableV2", "InitializeTableFromTextFile",
                            "InitializeTableFromTextFileV2", "LookupTableImport", "LookupTableImportV2",
                            "InitializeTableFromDataset"})
#: Mutable tables start empty and are filled by the program; an initializer is optional.
_MUTABLE_TABLE_OPS = frozenset(op for op in TABLE_OPS if "Mutable" in op)


def switch_binds(graph_def: graph_pb2.GraphDef, outputs: str | Iterable[str]) -> dict[str, Any]:
    """placeholder -> its inference value, for every training switch the outputs depend on."""
    nodes = {n.name: n for n in graph_def.node}
    needed = set(ancestors(nodes, split_names(outputs)))
    binds: dict[str, Any] = {}
    for node in graph_def.node:
        if node.name not in needed or node.op not in _PLACEHOLDER_OPS:
            continue
        dtype = node.attr["dtype"].type if "dtype" in node.attr else None
        hint = switch_hint(node.name, dtype, node_shape(node))
        if hint is not None:
            binds[node.name] = hint
    return binds


#: How a switch warning starts (``refresh_switch_warning`` replaces it after a rewrite).
SWITCH_WARNING = "the outputs still depend on training switch placeholder(s)"


def refresh_switch_warning(warnings: list[str], graph_def: graph_pb2.GraphDef,
                           outputs: str | Iterable[str]) -> list[str]:
    """``warnings`` with the switch warning recomputed for ``graph_def`` (after optimize bound some)."""
    kept = [w for w in warnings if not w.startswith(SWITCH_WARNING)]
    line = switch_warning(graph_def, outputs)
    return ([line] if line else []) + kept


def _bind_text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else repr(value)


def switch_warning(graph_def: graph_pb2.GraphDef, outputs: str | Iterable[str]) -> str | None:
    """One line naming the training switches the outputs still depend on, with ``--bind`` suggestions."""
    binds = switch_binds(graph_def, outputs)
    if not binds:
        return None
    names = ", ".join(binds)
    flags = " ".join(f"--bind {name}={_bind_text(value)}" for name, value in binds.items())
    return (f"{SWITCH_WARNING} {names}: for inference, freeze with "
            f"{flags} (or --inference); unbound, gs optimize folds nothing behind them and converters "
            "stop on them or make them inputs")


def table_warnings(frozen: graph_pb2.GraphDef, outputs: str | Iterable[str], original: graph_pb2.GraphDef,
                   initializer_nodes: Iterable[str] = ()) -> list[str]:
    """Lines for each lookup table the outputs read whose initializer the frozen graph does not keep."""
    nodes = {n.name: n for n in frozen.node}
    needed = set(ancestors(nodes, split_names(outputs)))
    tables = [n for n in frozen.node if n.name in needed and n.op in TABLE_OPS and n.op not in _MUTABLE_TABLE_OPS]
    if not tables:
        return []
    kept_inits = set(ancestors(nodes, initializer_nodes))
    originals = {n.name: n for n in original.node}
    inits_of: dict[str, list[str]] = {}
    for node in original.node:
        if node.op in TABLE_INIT_OPS and node.input:
            inits_of.setdefault(parse_input(node.input[0]).node, []).append(node.name)
    # which named group (init_all_tables / a SavedModel main_op) runs a table's initializer
    runners = [n for n in ("init_all_tables", "legacy_init_op", "main_op") if n in originals]
    runner_reach = {r: set(ancestors(originals, [r])) for r in runners}
    lines = []
    for table in tables:
        inits = inits_of.get(table.name, [])
        if any(i in kept_inits for i in inits):
            continue
        runner = next((r for r in runners if any(i in runner_reach[r] for i in inits)), None)
        if runner is None and inits:
            runner = inits[0]
        what = f"--initializer_nodes {runner}" if runner else "its initializer in --initializer_nodes"
        lines.append(f"the outputs read lookup table '{table.name}' ({table.op}) but its initializer is not kept: "
                     f"lookups fail with 'Table not initialized'; freeze with {what} and run it once after import")
    return lines
