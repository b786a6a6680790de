"""optimize(graph_def, outputs, passes): run inference rewrites by name, then prune and check.

The passes (one module each under ``graphsurgeon.rewrite``) are ``fold_constant_switches``,
``fold_constant_conditions`` (If / Case, control flow v2), ``inline_calls`` (not by default:
``inline=True`` or ``converter_ready=True``), ``strip_training``, ``fold_constants``,
``fold_batch_norm``, ``remove_import_prefix`` and ``drop_inert_controls`` (control edges that change
nothing; with ``converter_ready``); each keeps
the outputs' values (within float tolerance) and skips, with a logged reason, anything it cannot
prove safe. The default order resolves constant conditions first (bind the training flags before:
``bind={"is_training": False}``), removes pass-through nodes so batch norms follow their
convolutions, folds constants, folds batch norms, and strips again what folding left behind.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from graphsurgeon._proto import graph_pb2, types_pb2
from graphsurgeon.errors import GraphSurgeonError, NotFrozenError, close_matches, listed
from graphsurgeon.graph import functions as fn
from graphsurgeon.graph.check import check_graph
from graphsurgeon.graph.names import parse_input, split_names
from graphsurgeon.graph.variables import VARIABLE_OPS
from graphsurgeon.rewrite.bind import bind_placeholders
from graphsurgeon.rewrite.drop_inert_controls import drop_inert_controls
from graphsurgeon.rewrite.fold_batch_norm import fold_batch_norm
from graphsurgeon.rewrite.fold_constant_conditions import CONDITION_OPS, fold_constant_conditions, inline_all_calls
from graphsurgeon.rewrite.fold_constant_switches import fold_constant_switches
from graphsurgeon.rewrite.fold_constants import DEFAULT_MAX_GROWTH, fold_constants
from graphsurgeon.rewrite.freeze import FreezeResult
from graphsurgeon.rewrite.prune import prune
from graphsurgeon.rewrite.remove_import_prefix import remove_import_prefix, strip_prefix
from graphsurgeon.rewrite.runtime_checks import refresh_switch_warning
from graphsurgeon.rewrite.saved_model_v2 import SignatureFreezeResult
from graphsurgeon.rewrite.strip_training import strip_training
from graphsurgeon.values import initializer_nodes_of

log = logging.getLogger(__name__)

Pass = Callable[[graph_pb2.GraphDef, Sequence[str]], graph_pb2.GraphDef]

#: Every pass by name.
PASSES: dict[str, Pass] = {
    "fold_constant_switches": fold_constant_switches,
    "fold_constant_conditions": fold_constant_conditions,
    "inline_calls": inline_all_calls,
    "strip_training": strip_training,
    "fold_constants": fold_constants,
    "fold_batch_norm": fold_batch_norm,
    "remove_import_prefix": remove_import_prefix,
    "drop_inert_controls": drop_inert_controls,
}

#: A bool placeholder whose name contains this is Keras' training flag: ``optimize`` binds it to False
#: unless told otherwise, as TensorFlow's ``optimize_for_inference`` does.
LEARNING_PHASE = "keras_learning_phase"

#: What ``optimize`` runs when ``passes`` is None.
DEFAULT_PASSES = ("fold_constant_switches", "fold_constant_conditions", "strip_training", "fold_constants",
                  "fold_batch_norm", "strip_training")


@dataclasses.dataclass
class OptimizeResult:
    """What ``optimize_graph`` did: the graph, the outputs (renamed by remove_import_prefix), node counts a pass."""

    graph_def: graph_pb2.GraphDef
    outputs: list[str]
    steps: list[tuple[str, int, int]] = dataclasses.field(default_factory=list)
    """(pass name, nodes before, nodes after the pass and a prune)."""
    bound: dict[str, Any] = dataclasses.field(default_factory=dict)
    default_bound: list[str] = dataclasses.field(default_factory=list)
    """The placeholders bound without being asked (``keras_learning_phase``)."""
    remaining: dict[str, int] = dataclasses.field(default_factory=dict)
    """Function calls and functional control flow left in the result: op -> count (what converters stop on)."""
    initializer_nodes: list[str] = dataclasses.field(default_factory=list)
    """The initializer nodes kept with what they need (``init_all_tables``), to run once after import."""


def variables_in(graph_def: graph_pb2.GraphDef) -> list[str]:
    """Names of the variable nodes (VariableV2, VarHandleOp, ...) in the graph and its functions."""
    found = [n.name for n in graph_def.node if n.op in VARIABLE_OPS]
    for function in graph_def.library.function:
        found += [f"{function.signature.name}/{n.name}" for n in function.node_def if n.op in VARIABLE_OPS]
    return found


def refuse_variables(graph_def: graph_pb2.GraphDef) -> None:
    """Raises ``NotFrozenError`` naming the variables when the graph still holds any."""
    found = variables_in(graph_def)
    if found:
        raise NotFrozenError(f"the graph still holds {len(found)} variable(s) ({listed(found, 3)}); optimize works "
                             "on frozen graphs: run 'gs freeze' first")


def learning_phase_placeholders(graph_def: graph_pb2.GraphDef, outputs: Iterable[str] = ()) -> list[str]:
    """The bool Placeholder / PlaceholderWithDefault nodes named like ``keras_learning_phase`` (the
    name contains it, as TensorFlow's optimize_for_inference matches), other than requested outputs."""
    wanted = {parse_input(o).node for o in outputs}
    return [n.name for n in graph_def.node
            if n.op in ("Placeholder", "PlaceholderWithDefault") and LEARNING_PHASE in n.name
            and n.attr["dtype"].type == types_pb2.DT_BOOL and n.name not in wanted]


def parse_passes(passes: str | Iterable[str] | None) -> list[str]:
    """``"strip_training,fold_batch_norm"`` or a list -> pass names (None -> the default list).

    Raises ``GraphSurgeonError`` for an unknown name, with close matches.
    """
    if passes is None:
        return list(DEFAULT_PASSES)
    names = [n.replace("-", "_") for n in split_names(passes)]
    for name in names:
        if name not in PASSES:
            matches = close_matches(name, PASSES)
            hint = f"; did you mean {', '.join(repr(m) for m in matches)}?" if matches else ""
            raise GraphSurgeonError(f"unknown pass '{name}'{hint} (passes: {', '.join(PASSES)})")
    if not names:
        raise GraphSurgeonError(f"no passes given (passes: {', '.join(PASSES)})")
    return names


def optimize(graph_def: graph_pb2.GraphDef, outputs: str | Iterable[str], passes: str | Iterable[str] | None = None,
             *, bind: Mapping[str, Any] | None = None,
             max_growth_bytes: int = DEFAULT_MAX_GROWTH, bind_learning_phase: bool = True,
             inline: bool = False, converter_ready: bool = False,
             initializer_nodes: str | Iterable[str] | None = None, allow_variables: bool = False) -> graph_pb2.GraphDef:
    """Returns a new GraphDef for ``outputs`` after the named passes, a prune and a structural check.

    ``graph_def`` is not modified. ``bind`` first turns placeholders into constants (as ``freeze``'s
    bind: ``{"is_training": False, "keep_prob": 1.0}``). A bool placeholder named like
    ``keras_learning_phase`` that ``bind`` does not name is bound to False, as TensorFlow's
    ``optimize_for_inference`` does, unless ``bind_learning_phase`` is False. With ``remove_import_prefix`` among the
    passes, outputs may be given with or without the prefix. ``max_growth_bytes`` is fold_constants'
    limit on how much folding may grow the graph (default 1 MiB). ``inline`` runs ``inline_calls``
    first (function calls replaced by their bodies); ``converter_ready`` is ``inline`` plus, whatever
    ``passes`` says, the constant-condition folding, ``drop_inert_controls`` and the Identity /
    IdentityN removal, for converters
    (OpenCV, TFLite, tf2onnx, OpenVINO) that read no functions: ``OptimizeResult.remaining`` lists
    what is left that they may stop on. ``initializer_nodes`` are kept with what they need, like
    outputs (default: ``init_all_tables``, or the table initializer ops, found in the graph; ``()``
    keeps none). A graph that still holds variables is refused unless ``allow_variables``.

    Raises:
        NotFrozenError: the graph holds variables (run ``gs freeze`` first).
        NodeNotFoundError: an output or bound placeholder is not in the graph.
        GraphSurgeonError: an unknown pass name.
        InvalidGraphError: the input or the result is structurally broken.
    """
    return optimize_graph(graph_def, outputs, passes, bind=bind, max_growth_bytes=max_growth_bytes,
                          bind_learning_phase=bind_learning_phase, inline=inline,
                          converter_ready=converter_ready, initializer_nodes=initializer_nodes,
                          allow_variables=allow_variables).graph_def


def optimize_graph(graph_def: graph_pb2.GraphDef, outputs: str | Iterable[str],
                   passes: str | Iterable[str] | None = None, *, bind: Mapping[str, Any] | None = None,
                   max_growth_bytes: int = DEFAULT_MAX_GROWTH, bind_learning_phase: bool = True,
                   inline: bool = False, converter_ready: bool = False,
                   initializer_nodes: str | Iterable[str] | None = None,
                   allow_variables: bool = False,
                   after_pass: Callable[[graph_pb2.GraphDef], None] | None = None) -> OptimizeResult:
    """``optimize`` that also reports node counts after each pass (see ``optimize``). ``after_pass``
    is called with each intermediate graph, which it may change in place (``LazyGraph.spill``)."""
    names = with_inlining(parse_passes(passes), inline=inline, converter_ready=converter_ready)
    output_names = split_names(outputs)
    if not output_names:
        raise GraphSurgeonError("optimize needs at least one output (run 'gs inspect' to list candidate outputs)")
    if not allow_variables:
        refuse_variables(graph_def)
    wanted = {parse_input(o).node for o in output_names}
    inits = [n for n in (initializer_nodes_of(graph_def) if initializer_nodes is None
                         else split_names(initializer_nodes)) if parse_input(n).node not in wanted]
    inits = list(dict.fromkeys(inits))
    if inits:
        log.info("optimize: keeping initializer node(s) %s", ", ".join(inits))
    output_names = output_names + inits
    bound: dict[str, Any] = {}
    working = graph_def
    default_bound: list[str] = []
    if bind_learning_phase:
        given = {parse_input(k).node for k in (bind or {})}
        default_bound = [n for n in learning_phase_placeholders(graph_def, output_names) if n not in given]
        if default_bound:
            bind = {**(bind or {}), **{n: False for n in default_bound}}
            log.info("optimize: binding %s to False (as TensorFlow's optimize_for_inference does)",
                     ", ".join(default_bound))
    if bind:
        working, bound = bind_placeholders(working, bind)
    working = prune(working, output_names)
    if after_pass is not None:
        after_pass(working)
    steps: list[tuple[str, int, int]] = []
    for name in names:
        before = len(working.node)
        if name == "fold_constants":
            working = fold_constants(working, output_names, max_growth_bytes=max_growth_bytes)
        else:
            working = PASSES[name](working, output_names)
        if name == "remove_import_prefix":
            present = {n.name for n in working.node}
            output_names = [o if parse_input(o).node in present else s
                            for o, s in zip(output_names, strip_prefix(output_names))]
        working = prune(working, output_names)
        if after_pass is not None:
            after_pass(working)
        steps.append((name, before, len(working.node)))
        log.info("optimize: %s: %d -> %d nodes", name, before, len(working.node))
    check_graph(working, frozen=False, source="optimized graph")
    remaining = dict(collections.Counter(n.op for n in working.node if n.op in _FUNCTIONAL_OPS
                                         or n.op in {f.signature.name for f in working.library.function}))
    count = len(output_names) - len(inits)
    return OptimizeResult(graph_def=working, outputs=output_names[:count], steps=steps, bound=bound,
                          default_bound=default_bound, remaining=remaining, initializer_nodes=output_names[count:])


#: Ops that run functions of the library; converters read none of them (TFLite and tf2onnx read some).
_FUNCTIONAL_OPS = CONDITION_OPS | fn.WHILE_OPS | fn.CALL_OPS


def with_inlining(names: Sequence[str], *, inline: bool, converter_ready: bool) -> list[str]:
    """The pass list with ``inline_calls`` first (``inline`` or ``converter_ready``) and, for
    ``converter_ready``, the condition folding after it, then ``drop_inert_controls`` and
    ``strip_training`` at the end."""
    out = list(names)
    if converter_ready:
        inline = True
        if "fold_constant_conditions" not in out:
            out.insert(0, "fold_constant_conditions")
        out.extend(["drop_inert_controls", "strip_training"])
    if inline and "inline_calls" not in out:
        out.insert(0, "inline_calls")
    return out


def optimize_frozen(result: FreezeResult | SignatureFreezeResult) -> None:
    """``gs freeze --optimize``: runs the default passes on a freeze result (made without deferred
    values) and records it in ``result`` (graph, node count, a note). A TF1 result keeps its
    initializer nodes; for a TF2 signature the passes see the top-level graph (function bodies stay)."""
    if isinstance(result, SignatureFreezeResult):
        optimized = optimize_graph(result.graph_def, list(result.output_names), allow_variables=True)
        result.notes.append("optimized for inference (top-level graph): " + ", ".join(
            f"{name} {before}->{after}" for name, before, after in optimized.steps))
        result.notes.extend(_learning_phase_notes(optimized))
        result.graph_def = optimized.graph_def
        return
    if result.deferred:
        raise GraphSurgeonError("cannot optimize a freeze result with hollow constants (defer_values=True): the "
                                "passes need the values")
    outputs = split_names(result.outputs)
    keep = list(outputs) + [n for n in result.initializer_nodes if n not in outputs]
    # a whitelist / blacklist may leave variables on purpose; the freeze chose the initializers
    optimized = optimize_graph(result.graph_def, keep, allow_variables=True, initializer_nodes=())
    result.notes.append("optimized for inference: " + ", ".join(
        f"{name} {before}->{after}" for name, before, after in optimized.steps))
    result.notes.extend(_learning_phase_notes(optimized))
    result.warnings = refresh_switch_warning(result.warnings, optimized.graph_def, outputs)
    result.graph_def = optimized.graph_def
    result.nodes_after = len(optimized.graph_def.node)


def _learning_phase_notes(optimized: OptimizeResult) -> list[str]:
    if not optimized.default_bound:
        return []
    return [f"bound {', '.join(optimized.default_bound)} to false, as TensorFlow's optimize_for_inference does "
            "(--bind keras_learning_phase=true to keep training behaviour)"]
