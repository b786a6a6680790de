"""Show what a graph (or checkpoint) holds: inputs, candidate outputs, variables, switches, signatures.

Each line starts with its kind (input, output, switch, variable, op, signature, ...), so
`gs inspect model.meta | grep ^output` lists the candidate outputs. --json prints the same data.
A checkpoint path (prefix, .index, .data-*, directory with a checkpoint file) lists its tensors.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from graphsurgeon.errors import GraphSurgeonError, not_found
from graphsurgeon.formats import tensors
from graphsurgeon.formats.checkpoint_paths import is_checkpoint_path
from graphsurgeon.formats.model import is_tf2_saved_model, load_graph
from graphsurgeon.formats.protofile import format_bytes
from graphsurgeon.graph import names
from graphsurgeon.summary import summarize

# Imported where used, so that inspecting a GraphDef loads no checkpoint reader, TF2 object graph
# or GraphView code (start-up: tests/test_lazy_imports.py): graphsurgeon.cli._inspect_checkpoint,
# graphsurgeon.graph.object_graph, graphsurgeon.graph.view.

# Function names are listed one per line up to this many (all of them with --all).
_MAX_FUNCTIONS = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="graph file (.pb, .pbtxt, .meta), SavedModel directory, or checkpoint")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON (keys in the README)")
    parser.add_argument("--saved_model_tags", "--saved-model-tags", "--tags", dest="tags", default=None,
                        metavar="TAGS", help="comma-separated tag set choosing a SavedModel's meta graph "
                        "(default: serve, or the only one)")
    parser.add_argument("--tensor", metavar="NAME", default=None,
                        help="checkpoint: print this tensor's values and statistics; graph: show this node")
    parser.add_argument("--all", action="store_true",
                        help="checkpoint: print whole arrays; graph: also list ignored sinks and every function")
    parser.add_argument("--outputs", default=None, metavar="A,B", help="output nodes, for --why")
    parser.add_argument("--why", default=None, metavar="NODE",
                        help="show one chain of inputs by which the --outputs need NODE")


def run(args: argparse.Namespace) -> int:
    if is_checkpoint_path(args.path):
        from graphsurgeon.cli import _inspect_checkpoint

        return int(_inspect_checkpoint.run(args) or 0)
    if args.why is not None or args.outputs is not None:
        return _run_why(args)
    loaded = load_graph(args.path, tags=args.tags)
    if args.tensor is not None:
        return _print_node(loaded.graph_def, args.tensor, str(loaded.path), as_json=args.json)
    data = summarize(loaded)
    if data.get("saved_model") is not None and is_tf2_saved_model(loaded):
        # TF2: which functions each signature runs, and each variable's checkpoint key.
        from graphsurgeon.graph.object_graph import saved_model_functions, saved_model_variables

        data["saved_model"]["variables"] = saved_model_variables(loaded)
        data["saved_model"]["functions"] = saved_model_functions(loaded)
    if args.json:
        json.dump(data, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_summary(data, show_all=args.all))
    return 0


def _run_why(args: argparse.Namespace) -> int:
    if args.why is None or args.outputs is None:
        raise GraphSurgeonError("--why NODE and --outputs A,B go together: "
                                "gs inspect GRAPH --outputs probs --why conv1/weights")
    loaded = load_graph(args.path, tags=args.tags)
    outputs = names.split_names(args.outputs)
    if not outputs:
        raise GraphSurgeonError("--outputs is empty; give output node names like --outputs probs,logits")
    from graphsurgeon.graph.view import GraphView

    chain = GraphView(loaded.graph_def).why(args.why, outputs)
    if args.json:
        json.dump({"node": args.why, "outputs": outputs, "path": list(chain)}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    ops = {n.name: n.op for n in loaded.graph_def.node}
    sys.stdout.write(_table([["why", str(step), name, ops.get(name, "?")] for step, name in enumerate(chain)]))
    return 0


def _print_node(graph_def: Any, name: str, source: str, as_json: bool) -> int:
    wanted = names.node_name(name)
    by_name = {n.name: n for n in graph_def.node}
    node = by_name.get(wanted)
    if node is None:
        raise not_found("node", wanted, by_name, where=f"'{source}'")
    consumers = sorted({n.name for n in graph_def.node if any(names.node_name(i) == wanted for i in n.input)})
    data = {
        "name": node.name, "op": node.op, "device": node.device, "inputs": list(node.input),
        "consumers": consumers, "attrs": sorted(node.attr),
        "attr_values": {key: format_attr(node.attr[key]) for key in sorted(node.attr)},
    }
    if as_json:
        json.dump(data, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    lines = [["node", node.name], ["op", node.op]]
    if node.device:
        lines.append(["device", node.device])
    lines += [["input", i] for i in node.input]
    lines += [["consumer", c] for c in consumers]
    lines += [["attr", key, format_attr(node.attr[key])] for key in sorted(node.attr)]
    sys.stdout.write(_table(lines))
    return 0


def _dtype(value: int) -> str:
    try:
        return tensors.dtype_name(value)
    except Exception:  # noqa: BLE001  (an unknown enum from a damaged file prints as its number)
        return str(value)


def _attr_shape(proto: Any) -> str:
    if proto.unknown_rank:
        return "<unknown>"
    return "[" + ",".join("?" if d.size < 0 else str(d.size) for d in proto.dim) + "]"


def _text(raw: bytes, limit: int = 80) -> str:
    text = raw.decode("utf-8", "replace")
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    return text if len(text) <= limit else text[:limit] + "..."


def format_attr(attr: Any) -> str:
    """One AttrValue as a short line: dtypes by name, shapes as ``[?,3]``, functions by name, a tensor
    as ``dtype[shape]`` with its values when it has at most 8, lists as ``[a, b]``."""
    kind = attr.WhichOneof("value")
    if kind == "type":
        return _dtype(attr.type)
    if kind == "shape":
        return _attr_shape(attr.shape)
    if kind == "func":
        return attr.func.name + (f" {{{', '.join(sorted(attr.func.attr))}}}" if attr.func.attr else "")
    if kind == "s":
        return repr(_text(attr.s))
    if kind == "b":
        return "true" if attr.b else "false"
    if kind in ("i", "f"):
        return str(getattr(attr, kind))
    if kind == "placeholder":
        return f"${attr.placeholder}"
    if kind == "tensor":
        shape = _attr_shape(attr.tensor.tensor_shape)
        try:
            value = tensors.tensor_to_array(attr.tensor)
        except Exception:  # noqa: BLE001  (what cannot be decoded is shown by dtype and shape only)
            value = None
        described = f"{_dtype(attr.tensor.dtype)}{shape}"
        if value is not None and value.size <= 8:
            items = [_text(v, 20) if isinstance(v, bytes) else v for v in value.reshape(-1).tolist()]
            described += " " + (str(items[0]) if value.ndim == 0 else str(items))
        return described
    if kind == "list":
        lst = attr.list
        parts: list[str] = []
        parts += [repr(_text(v)) for v in lst.s] + [str(v) for v in lst.i] + [str(v) for v in lst.f]
        parts += ["true" if v else "false" for v in lst.b] + [_dtype(v) for v in lst.type]
        parts += [_attr_shape(v) for v in lst.shape] + [f.name for f in lst.func]
        parts += [f"tensor<{_dtype(t.dtype)}>" for t in lst.tensor]
        shown = parts[:16] + ([f"... {len(parts) - 16} more"] if len(parts) > 16 else [])
        return "[" + ", ".join(shown) + "]"
    return "<unset>"


def _shape(shape: Sequence[int] | None) -> str:
    if shape is None:
        return "<unknown>"
    return "[" + ",".join("?" if d < 0 else str(d) for d in shape) + "]"


def _value(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# The first column (the kind of line) has one width everywhere, so sections line up.
_KIND_WIDTH = 11


def _table(rows: list[list[str]]) -> str:
    """Rows of cells, every column but the last padded to its widest cell; one line per row."""
    if not rows:
        return ""
    widths: dict[int, int] = {0: _KIND_WIDTH}
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths.get(i, 0), len(cell))
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def format_summary(data: dict[str, Any], show_all: bool = False) -> str:
    """The human form of ``summarize()``: one fact a line, the kind first, columns aligned."""
    rows: list[list[str]] = []
    kind = data["kind"] + (" (text)" if data["text"] else " (binary)")
    rows.append(["path", str(data["path"])])
    rows.append(["format", kind])
    rows.append(["nodes", str(data["node_count"])])
    if data["producer"] is not None:
        rows.append(["producer", f"{data['producer']} (min_consumer {data['min_consumer']})"])
    out = _table(rows)

    sections: list[list[list[str]]] = []
    sections.append([["input", i["name"], i["op"], str(i["dtype"]), _shape(i["shape"])]
                     + ([f"default={_value(i['default'])}"] if i["default"] is not None else [])
                     for i in data["inputs"]] or [["input", "(none: no Placeholder nodes)"]])
    sections.append([["output", o["name"], o["op"], str(o["dtype"]), _shape(o["shape"]),
                      "feeds=" + (",".join(o["feeds"]) or "-")] for o in data["outputs"]]
                    or [["output", "(none found: every node is consumed or is machinery; see --all)"]])
    ignored = data["ignored_sinks"]
    if ignored:
        if show_all:
            sections.append([["ignored", reason, name] for reason, items in ignored.items() for name in items])
        else:
            sections.append([["ignored", f"{len(items)} {reason}"] for reason, items in ignored.items()])
    sections.append([["switch", s["name"], str(s["dtype"]), _shape(s["shape"]),
                      f"default={_value(s['default'])}" if s["has_default"] else "no-default",
                      f"feed {_value(s['feed'])} for inference"] for s in data["switches"]])
    sections.append([["variable", v["name"], v["op"], str(v["dtype"]), _shape(v["shape"]),
                      "?" if v["elements"] is None else str(v["elements"]),
                      "?" if v["bytes"] is None else format_bytes(v["bytes"]),
                      {True: "trainable", False: "-", None: ""}[v["trainable"]]] for v in data["variables"]])
    totals = data["variable_totals"]
    trainable = "" if totals["trainable_count"] is None else f", {totals['trainable_count']} trainable"
    unknown = f", {totals['unknown_size']} of unknown size" if totals["unknown_size"] else ""
    sections.append([["variables", f"{totals['count']} variables, {totals['elements']} elements, "
                      f"{format_bytes(totals['bytes'])}{trainable}{unknown}"]])
    sections.append([["device", dev, str(n)] for dev, n in data["devices"].items()])
    functions = data["functions"]
    fn_rows = [["functions", f"{functions['count']} (gradients {functions['gradients']})"]]
    if show_all or functions["count"] <= _MAX_FUNCTIONS:
        fn_rows += [["function", name] for name in functions["names"]]
    sections.append(fn_rows)
    meta = data["meta_graph"]
    if meta is not None:
        sections.append(_meta_rows(meta))
    saved_model = data["saved_model"]
    if saved_model is not None:
        sections.append([["saved_model", saved_model["dir"]], ["tags", ",".join(saved_model["tags"]) or "-"]]
                        + [["tag_set", ",".join(t) or "(no tags)"] for t in saved_model["tag_sets"]])
        sections.append([["sm_variable", v["node"], v["key"] or "?", str(v["dtype"]), _shape(v["shape"]),
                          "signatures=" + (",".join(v["signatures"]) or "-")]
                         for v in saved_model.get("variables", [])])
        sections.append([["sm_function", f["name"], f"args={f['inputs']}", f"outputs={f['outputs']}",
                          f"nodes={f['nodes']}", "signatures=" + (",".join(f["signatures"]) or "-")]
                         for f in saved_model.get("functions", []) if show_all or f["signatures"]])
    sections.append([["op", str(count), op] for op, count in data["op_types"].items()])
    for section in sections:
        out += _table(section)
    return out


def _meta_rows(meta: dict[str, Any]) -> list[list[str]]:
    rows: list[list[str]] = []
    if meta["tensorflow_version"]:
        rows.append(["tf_version", meta["tensorflow_version"]])
    saver = meta["saver"]
    if saver is not None:
        rows.append(["saver", saver["version"], f"filename={saver['filename_tensor_name']}",
                     f"save={saver['save_tensor_name']}", f"restore={saver['restore_op_name']}"])
    for key, sig in meta["signatures"].items():
        rows.append(["signature", key, f"method={sig['method_name'] or '-'}"])
        for direction in ("inputs", "outputs"):
            for arg, info in sig[direction].items():
                rows.append([f"sig_{direction[:-1]}", key, arg, str(info["name"]), str(info["dtype"]),
                             _shape(info["shape"])])
    for key, col in meta["collections"].items():
        rows.append(["collection", key, str(col["kind"]), str(col["size"])])
    return rows
