"""Run a (frozen) graph in TensorFlow and print its outputs (needs TensorFlow).

A frozen .pb runs as it is. A SavedModel, a .meta with variables, or any graph given with
--checkpoint is restored first, the way its users run it (see gs validate).

Inputs: --input NAME=VALUE, where NAME is a node or tensor name and VALUE is a .npy file,
file.npz:key, or a literal (1.0, true, 3, [[1,2],[3,4]], text for string inputs). Literals are cast
to the placeholder's dtype and checked against its shape. --random-inputs fills the required
inputs not given from their dtype and shape (--batch N for unknown sizes); placeholders with a
default (keep_prob, is_training) keep it unless given.

examples:
  gs run frozen.pb --input input:0=image.npy --input keep_prob=1.0 --top-k 5
  gs run frozen.pb --random-inputs --batch 2 --save outputs.npz
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from graphsurgeon.errors import FileFormatError, MismatchError
from graphsurgeon.formats import protofile
from graphsurgeon.formats.model import META_GRAPH_DEF, SAVED_MODEL, load_graph
from graphsurgeon.graph import names
from graphsurgeon.validate import (
    run_graph,
    run_original,
)
from graphsurgeon.values import (
    VARIABLE_OPS,
    InputSpec,
    coerce_value,
    dtype_label,
    graph_inputs,
    parse_literal,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("graph", help="a frozen .pb/.pbtxt, or a .meta or SavedModel directory (restored first)")
    add_input_arguments(parser)
    parser.add_argument("--output", "--outputs", dest="outputs", action="append", metavar="NAME",
                        help="node or tensor to fetch (repeat, or comma-separated); default: the candidate outputs")
    parser.add_argument("--top-k", "--top_k", dest="top_k", type=int, metavar="K",
                        help="softmax over the last axis and print the K most likely classes of each row")
    parser.add_argument("--save", metavar="OUT.npz", help="save the outputs to an .npz file (keys: tensor names)")
    parser.add_argument("--device", help="device to run on: cpu, gpu, gpu:1 (default: TensorFlow's choice)")
    parser.add_argument("--checkpoint", "--input_checkpoint", dest="checkpoint", metavar="PREFIX",
                        help="run an unfrozen graph restored from this checkpoint (a .meta with variables uses the "
                             "checkpoint beside it; a SavedModel its own variables)")
    parser.add_argument("--saved_model_tags", "--saved-model-tags", dest="saved_model_tags", metavar="TAGS",
                        help="SavedModel tag set, comma-separated (default: serve)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def add_input_arguments(parser: argparse.ArgumentParser, random_flag: bool = True) -> None:
    """The input flags shared by ``gs run`` and ``gs validate`` (which always fills the rest randomly)."""
    parser.add_argument("--input", "--inputs", dest="inputs", action="append", metavar="NAME=VALUE", default=[],
                        help="value of an input: a .npy file, file.npz:key, or a literal such as 1.0, false, "
                             "[[1,2]] (repeatable)")
    if random_flag:
        parser.add_argument("--random-inputs", "--random_inputs", dest="random_inputs", action="store_true",
                            help="give random values to the required inputs not set with --input")
    parser.add_argument("--batch", type=int, default=1, metavar="N",
                        help="size of unknown dimensions for random inputs (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    parser.add_argument("--initializer-nodes", "--initializer_nodes", dest="initializer_nodes", metavar="NAMES",
                        help="nodes of the frozen graph to run once before the outputs (default: "
                             "init_all_tables, or the table initializer ops found in it)")


# --- values -------------------------------------------------------------------------------------

def load_value(text: str, spec: InputSpec | None = None) -> np.ndarray:
    """The array a command-line VALUE stands for: ``x.npy``, ``file.npz:key`` (or a one-array ``file.npz``), or a
    literal (``parse_literal``). Not yet cast to the placeholder's dtype."""
    lowered = text.lower()
    if lowered.endswith(".npy"):
        path = pathlib.Path(text)
        if not path.is_file():
            raise FileFormatError(f"input file '{text}' not found")
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise FileFormatError(f"cannot read '{text}' as a .npy array: {err}") from err
    match = re.match(r"^(.*\.npz)(?::(.*))?$", text, re.IGNORECASE)
    if match:
        path = pathlib.Path(match.group(1))
        if not path.is_file():
            raise FileFormatError(f"input file '{path}' not found")
        try:
            with np.load(path, allow_pickle=False) as archive:
                keys = list(archive.keys())
                key = match.group(2)
                if key is None:
                    if len(keys) != 1:
                        raise FileFormatError(f"'{path}' holds {len(keys)} arrays ({', '.join(keys)}); choose one "
                                              f"with {path}:KEY")
                    key = keys[0]
                if key not in keys:
                    raise FileFormatError(f"'{path}' has no array '{key}'; it holds: {', '.join(keys) or 'nothing'}")
                return archive[key]
        except (OSError, ValueError) as err:
            raise FileFormatError(f"cannot read '{path}' as an .npz archive: {err}") from err
    return np.asarray(parse_literal(text, spec))


def split_assignment(item: str) -> tuple[str, str]:
    """``"keep_prob:0=1.0"`` -> ``("keep_prob:0", "1.0")``."""
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise MismatchError(f"--input '{item}' is not NAME=VALUE (e.g. keep_prob:0=1.0 or input=image.npy)")
    return name.strip(), value


def parse_feeds(items: Iterable[str], specs: Sequence[InputSpec]) -> dict[str, np.ndarray]:
    """``--input`` items -> ``{tensor name: array}``, cast and shape-checked against the placeholders."""
    by_name = {spec.name: spec for spec in specs}
    out: dict[str, np.ndarray] = {}
    for item in items:
        name, text = split_assignment(item)
        try:
            tensor = names.tensor_name(name)
        except ValueError as err:
            raise MismatchError(f"--input '{item}': '{name}' is a control input, not a tensor") from err
        if tensor in out:
            raise MismatchError(f"input '{tensor}' is given twice")
        spec = by_name.get(tensor)
        value = load_value(text, spec)
        out[tensor] = coerce_value(value, spec) if spec else value
    return out


# --- printing -----------------------------------------------------------------------------------

def softmax(values: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in float64."""
    x = values.astype(np.float64)
    x = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(x)
    return e / np.sum(e, axis=-1, keepdims=True)


def _looks_like_probabilities(values: np.ndarray) -> bool:
    x = values.astype(np.float64)
    return bool(np.all(x >= 0) and np.all(x <= 1) and np.allclose(np.sum(x, axis=-1), 1.0, atol=1e-3))


def top_k(values: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
    """Per row (all axes but the last flattened): the ``k`` best ``(class, probability)``.

    Softmax is applied over the last axis unless the rows already are probabilities (non-negative,
    summing to 1), as the output of a Softmax node is.
    """
    if values.ndim == 0:
        raise MismatchError("--top-k needs an output with at least one axis")
    rows = values.reshape(-1, values.shape[-1])
    probs = rows.astype(np.float64) if _looks_like_probabilities(rows) else softmax(rows)
    k = max(1, min(k, rows.shape[-1]))
    out = []
    for row in probs:
        best = np.argsort(-row, kind="stable")[:k]
        out.append([(int(i), float(row[i])) for i in best])
    return out


def summarize_value(value: np.ndarray) -> dict[str, Any]:
    """min/max/mean for numbers, true count for bools, first items for strings."""
    if value.size == 0:
        return {}
    if value.dtype.kind in "OSU":
        return {"first": [_text(v) for v in value.reshape(-1)[:5]]}
    if value.dtype.kind == "b":
        return {"true": int(np.sum(value)), "false": int(value.size - np.sum(value))}
    if value.dtype.kind == "c":
        return {"mean_abs": float(np.mean(np.abs(value)))}
    x = value.astype(np.float64)
    return {"min": float(np.min(x)), "max": float(np.max(x)), "mean": float(np.mean(x))}


def _text(item: Any) -> str:
    return item.decode("utf-8", errors="replace") if isinstance(item, bytes) else str(item)


def _jsonable(value: np.ndarray) -> Any:
    if value.dtype.kind in "OSU":
        return np.vectorize(_text, otypes=[object])(value).tolist() if value.ndim else _text(value.item())
    if value.dtype.kind == "c":
        return {"real": value.real.tolist(), "imag": value.imag.tolist()}
    if value.dtype.kind == "f" or value.dtype.kind not in "biu":
        return _finite(value.astype(np.float64).tolist())
    return value.tolist()


def _finite(obj: Any) -> Any:
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    return obj


def _shape(value: np.ndarray) -> str:
    return "[" + ",".join(map(str, value.shape)) + "]"


def format_outputs(values: Mapping[str, np.ndarray], k: int | None = None) -> str:
    """Each output's name, dtype, shape and a short value summary; with ``k``, the top classes."""
    lines = []
    width = max((len(name) for name in values), default=0)
    for name, value in values.items():
        stats = summarize_value(value)
        summary = "  ".join(f"{key} {_fmt(val)}" for key, val in stats.items())
        lines.append(f"{name.ljust(width)}  {dtype_label(value)}{_shape(value)}  {summary}".rstrip())
        with np.printoptions(threshold=12, edgeitems=3, precision=4, suppress=True, linewidth=100):
            shown = np.array2string(value if value.dtype.kind != "O" else value.astype("S"), separator=", ")
        lines.extend("    " + line for line in shown.splitlines()[:8])
        if k and value.dtype.kind in "fiu" and value.ndim >= 1:
            for row, best in enumerate(top_k(value, k)):
                lines.append(f"    top-{k} row {row}: " + ", ".join(f"{cls} ({p:.4f})" for cls, p in best))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return "[" + ", ".join(repr(v) for v in value) + "]"
    return str(value)


def outputs_to_dict(values: Mapping[str, np.ndarray], k: int | None = None, max_values: int = 10000) -> dict:
    """JSON-ready data: per output shape, dtype, summary, values (up to ``max_values`` elements), top-k."""
    out = {}
    for name, value in values.items():
        entry: dict[str, Any] = {"shape": list(value.shape), "dtype": dtype_label(value),
                                 "summary": {key: _finite(v) if isinstance(v, float) else v
                                             for key, v in summarize_value(value).items()}}
        if value.size <= max_values:
            entry["values"] = _jsonable(value)
        else:
            entry["values_omitted"] = f"{value.size} elements; use --save"
        if k and value.dtype.kind in "fiu" and value.ndim >= 1:
            entry["top_k"] = [[{"class": cls, "probability": p} for cls, p in best] for best in top_k(value, k)]
        out[name] = entry
    return out


def save_outputs(values: Mapping[str, np.ndarray], path: str | os.PathLike[str],
                 inputs: Iterable[str | os.PathLike[str]] = ()) -> None:
    """Writes the outputs to an .npz (keys: tensor names; strings as bytes, loadable without pickle)."""
    arrays = {name: (value.astype("S") if value.dtype.kind == "O" else value) for name, value in values.items()}
    with protofile.atomic_writer(path, inputs) as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as its own options


def run(args: argparse.Namespace) -> int:
    verbose = bool(getattr(args, "verbose", False))
    loaded = load_graph(args.graph, args.saved_model_tags)
    feeds = parse_feeds(args.inputs, graph_inputs(loaded.graph_def))
    if args.top_k is not None and args.top_k < 1:
        raise MismatchError(f"--top-k must be at least 1, got {args.top_k}")
    if args.save:
        protofile.check_output_path(args.save, [args.graph])
    has_variables = any(node.op in VARIABLE_OPS for node in loaded.graph_def.node)
    if args.checkpoint or loaded.kind == SAVED_MODEL or (loaded.kind == META_GRAPH_DEF and has_variables):
        if args.initializer_nodes:
            raise MismatchError("--initializer-nodes applies to frozen graphs; an original model runs its own "
                                "initializers")
        values = run_original(loaded, args.checkpoint, feeds=feeds, outputs=names.split_names(args.outputs),
                              random_inputs=args.random_inputs, batch=args.batch, seed=args.seed,
                              device=args.device, verbose=verbose)
    else:
        values = run_graph(loaded, feeds, outputs=names.split_names(args.outputs), random_inputs=args.random_inputs,
                           batch=args.batch, device=args.device, seed=args.seed,
                           initializer_nodes=args.initializer_nodes, verbose=verbose)
    if args.save:
        save_outputs(values, args.save, [args.graph])
    if args.json:
        print(json.dumps({"graph": args.graph, "outputs": outputs_to_dict(values, args.top_k),
                          "saved": args.save}, indent=2))
    else:
        print(format_outputs(values, args.top_k))
        if args.save:
            print(f"saved {len(values)} output(s) to {args.save}")
    return 0
