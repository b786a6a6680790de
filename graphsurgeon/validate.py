"""Runs graphs in TensorFlow: ``run_graph(...)`` and ``validate(original, frozen) -> ValidationReport``.

This is the only module of graphsurgeon that imports TensorFlow, and it does so lazily, inside
the functions that need it: ``import graphsurgeon.validate`` never loads TensorFlow. Without
TensorFlow those functions raise ``MissingDependencyError`` with the install hint. What needs no
TensorFlow lives in ``graphsurgeon.values`` (a graph's inputs and outputs, input values) and
``graphsurgeon.comparison`` (the comparison and its report).

Graphs are imported with ``name=""`` (no ``import/`` prefix) and with their device fields
cleared, then run in a ``tf.compat.v1.Session`` under ``tf.device(<device>)`` with soft placement,
once per device asked for (default: the CPU and every GPU TensorFlow sees). A TF2 SavedModel
original (``tf.saved_model.save``, Keras export) is instead loaded with ``tf.saved_model.load`` and
its signature called eagerly under ``tf.device``, as its users run it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from graphsurgeon._proto import graph_pb2, meta_graph_pb2
from graphsurgeon.comparison import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    ValidationReport,
    ValidationRow,
    compare,
    dtype_label,
    plain_value,
)
from graphsurgeon.errors import MismatchError, MissingDependencyError, ValidationError, not_found
from graphsurgeon.formats import model as _model
from graphsurgeon.formats import tensors
from graphsurgeon.formats.model import is_tf2_saved_model
from graphsurgeon.graph import names
from graphsurgeon.values import (
    DEFAULT_SIGNATURE,
    PLACEHOLDER_OPS,
    VARIABLE_OPS,
    InputSpec,
    as_graph_def,
    candidate_outputs,
    check_outputs,
    coerce_value,
    dense_tensor,
    has_saved_model_init,
    initializer_nodes_of,
    normalize_device,
    original_only_values,
    prepare_feeds,
    prepare_original,
    random_value,
    saver_nodes,
    short_device,
    signature_def,
    signature_inputs,
    signature_key,
    string_pool,
    tensor_order,
)

logger = logging.getLogger(__name__)

INSTALL_HINT = 'pip install "tf-graphsurgeon[tf]"'


# --- TensorFlow, lazily and quietly ------------------------------------------------------------

def _missing_tf(err: BaseException | None = None) -> MissingDependencyError:
    detail = f" ({err})" if err else ""
    return MissingDependencyError(
        f"running graphs needs TensorFlow, which is not installed{detail}; install it with: {INSTALL_HINT}")


@contextlib.contextmanager
def _stderr_silenced(enabled: bool) -> Iterator[None]:
    """Sends file descriptor 2 to a temporary file; replays it if the block raises.

    TensorFlow's C++ start-up lines ("oneDNN custom operations are on", "All log messages before
    absl::InitializeLog()") bypass Python and ignore TF_CPP_MIN_LOG_LEVEL in TF 2.21.
    """
    if not enabled:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            captured = sink.read()
            if captured:
                os.write(2, captured)
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def import_tensorflow(verbose: bool = False) -> Any:
    """Imports and returns ``tensorflow``, hiding its start-up noise unless ``verbose``.

    Raises ``MissingDependencyError`` (with ``pip install "tf-graphsurgeon[tf]"``) when TensorFlow
    cannot be imported.
    """
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # 2 still shows oneDNN's "E" lines at run time
    first = "tensorflow" not in sys.modules
    try:
        with _stderr_silenced(first and not verbose), warnings.catch_warnings():
            if not verbose:
                warnings.simplefilter("ignore")
            import tensorflow as tf
    except ImportError as err:
        raise _missing_tf(err) from err
    return tf


@contextlib.contextmanager
def _tf_quiet(verbose: bool) -> Iterator[None]:
    """Silences TensorFlow's Python loggers (deprecation notes) and warnings for the block."""
    if verbose:
        yield
        return
    loggers = [logging.getLogger("tensorflow"), logging.getLogger("absl")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def available_devices(verbose: bool = False) -> list[str]:
    """The devices TensorFlow can run on here: ``/device:CPU:0`` and each ``/device:GPU:N``."""
    tf = import_tensorflow(verbose)
    with _tf_quiet(verbose):
        found = tf.config.list_physical_devices()
    out = []
    for dev in found:
        index = dev.name.rpartition(":")[2]  # "/physical_device:GPU:1"
        if dev.device_type in ("CPU", "GPU"):
            out.append(f"/device:{dev.device_type}:{index or 0}")
    return out or ["/device:CPU:0"]


def _resolve_devices(devices: str | Sequence[str] | None, verbose: bool) -> list[str]:
    present = available_devices(verbose)
    if devices is None:
        return present
    wanted = [normalize_device(d) for d in names.split_names(devices)]
    for dev in wanted:
        if dev not in present:
            raise ValidationError(f"device '{short_device(dev)}' is not available; TensorFlow sees: "
                                  + ", ".join(short_device(d) for d in present))
    return wanted


def _tf_error_text(err: BaseException) -> str:
    """The useful part of a TensorFlow error: its message and the node, without stack traces."""
    message = str(getattr(err, "message", None) or err)
    node = getattr(getattr(err, "op", None), "name", None)
    kept = []
    for line in (raw.strip() for raw in message.splitlines()):
        if not line:
            continue
        if line.startswith(("Graph execution error", "Detected at node", "[[", "Original stack trace", "File ")):
            continue
        if line.startswith("Node: '"):
            node = node or line[len("Node: '"):].rstrip("'")
            continue
        kept.append(line)
    text = " ".join(kept[:3]) if kept else type(err).__name__
    if node and f"'{node}'" not in text:
        text += f" (node '{node}')"
    return text if len(text) <= 600 else text[:600] + "..."


# --- running ----------------------------------------------------------------------------------

def _session(tf: Any, graph: Any, optimizer: bool = True) -> Any:
    config = tf.compat.v1.ConfigProto(allow_soft_placement=True)
    config.gpu_options.allow_growth = True
    if not optimizer:
        config.graph_options.rewrite_options.disable_meta_optimizer = True
    return tf.compat.v1.Session(graph=graph, config=config)


def _tf_graph_def(tf: Any, graph_def: graph_pb2.GraphDef) -> Any:
    tf_graph_def = tf.compat.v1.GraphDef.FromString(graph_def.SerializeToString())
    for node in tf_graph_def.node:
        node.device = ""  # device strings baked in at training time; we place by tf.device
    return tf_graph_def


def _run_ops(sess: Any, graph: Any, node_names: Sequence[str], what: str) -> None:
    if not node_names:
        return
    ops = []
    for name in node_names:
        try:
            ops.append(graph.get_operation_by_name(names.node_name(name)))
        except KeyError as err:
            raise not_found("initializer node", name, [op.name for op in graph.get_operations()],
                                  where=what) from err
    logger.info("running initializers of %s: %s", what, ", ".join(op.name for op in ops))
    sess.run(ops)


def _run_in_session(sess: Any, fetches: Sequence[str], feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    values = sess.run(list(fetches), feed_dict=dict(feeds))
    return {name: np.asarray(value) for name, value in zip(fetches, values)}


def _run_frozen_once(tf: Any, graph_def: graph_pb2.GraphDef, feeds: Mapping[str, np.ndarray], fetches: Sequence[str],
                     device: str, init_nodes: Sequence[str], what: str,
                     optimizer: bool = True) -> dict[str, np.ndarray]:
    graph = tf.Graph()
    stage = "import"
    try:
        with graph.as_default(), tf.device(device):
            tf.compat.v1.import_graph_def(_tf_graph_def(tf, graph_def), name="")
        stage = "run"
        with _session(tf, graph, optimizer) as sess:
            _run_ops(sess, graph, init_nodes, what)
            return _run_in_session(sess, fetches, feeds)
    except (tf.errors.OpError, ValueError, TypeError, KeyError) as err:
        on = f" on {short_device(device)}" if device else ""
        verb = f"cannot import {what}" if stage == "import" else f"failed to run {what}{on}"
        hint = ""
        if "uninitialized" in str(err).lower():
            hint = " (the graph still has variables: freeze it, or run it with its checkpoint)"
        raise ValidationError(f"TensorFlow {verb}: {_tf_error_text(err)}{hint}") from err


def run_graph(graph: Any, feeds: Mapping[str, Any] | None = None, outputs: Sequence[str] | str | None = None,
              random_inputs: bool = False, batch: int = 1, device: str | None = None, seed: int = 0,
              initializer_nodes: Sequence[str] | str | None = None, tags: Iterable[str] | str | None = None,
              verbose: bool = False) -> dict[str, np.ndarray]:
    """Runs a (frozen) graph in TensorFlow once and returns ``{tensor name: value}``.

    Args:
        graph: a graph path (.pb, .pbtxt, .meta, SavedModel dir: its GraphDef is used as is, no
            checkpoint is restored), a ``LoadedGraph`` or a GraphDef.
        feeds: node or tensor name -> value (array, scalar or nested list), cast to the
            placeholder's dtype and checked against its shape.
        outputs: what to fetch (node or tensor names); default: ``candidate_outputs``.
        random_inputs: fill required placeholders that are not in ``feeds`` with random values.
        batch: size of unknown dimensions for random inputs.
        device: ``cpu``, ``gpu:0``...; default: TensorFlow's choice (a GPU when there is one).
        seed: seed of the random inputs.
        initializer_nodes: nodes to run once first; default: ``initializer_nodes_of`` (table init).
        tags: SavedModel tag set, when ``graph`` is a SavedModel directory.
        verbose: let TensorFlow's logs and warnings through.

    Raises:
        MissingDependencyError: TensorFlow is not installed.
        MismatchError: a required input has no value, or a value does not fit its placeholder.
        NodeNotFoundError: an input, output or initializer name is not in the graph.
        ValidationError: TensorFlow could not import or run the graph.
    """
    graph_def, what = as_graph_def(graph, tags)
    output_names = names.split_names(outputs) or candidate_outputs(graph_def)
    if not output_names:
        raise ValidationError(f"'{what}' has no candidate outputs; name what to fetch with --output")
    fetches = check_outputs(graph_def, output_names, f"'{what}'")
    feed_dict = prepare_feeds(graph_def, feeds, random_inputs, batch, seed, where=f"'{what}'", outputs=fetches)
    init = names.split_names(initializer_nodes) if initializer_nodes is not None else initializer_nodes_of(graph_def)
    tf = import_tensorflow(verbose)
    with _tf_quiet(verbose):
        dev = normalize_device(device) if device else None
        if dev and dev not in available_devices(verbose):
            raise ValidationError(f"device '{device}' is not available; TensorFlow sees: "
                                  + ", ".join(short_device(d) for d in available_devices(verbose)))
        logger.info("running '%s' on %s", what, short_device(dev) if dev else "the default device")
        return _run_frozen_once(tf, graph_def, feed_dict, fetches, dev or "", init, f"'{what}'")


# --- the original model, run the way its users run it ------------------------------------------

def _restore_variables_by_name(tf: Any, sess: Any, graph: Any, graph_def: graph_pb2.GraphDef, prefix: str) -> None:
    """Restores each variable node from the checkpoint key of the same name (no Saver in the graph)."""
    variables = [node for node in graph_def.node if node.op in VARIABLE_OPS]
    if not variables:
        return
    with graph.as_default():
        keys = [(n.attr["shared_name"].s.decode() or n.name) if n.op == "VarHandleOp" else n.name for n in variables]
        dtypes = [tf.dtypes.as_dtype(tensors.base_dtype(n.attr["dtype"].type)) for n in variables]
        with tf.device("/device:CPU:0"):
            restored = tf.raw_ops.RestoreV2(prefix=prefix, tensor_names=keys, shape_and_slices=[""] * len(keys),
                                            dtypes=dtypes, name="graphsurgeon_restore")
        assigns = []
        for node, value in zip(variables, restored):
            target = graph.get_tensor_by_name(f"{node.name}:0")
            if node.op == "VarHandleOp":
                assigns.append(tf.raw_ops.AssignVariableOp(resource=target, value=value))
            else:
                assigns.append(tf.compat.v1.assign(target, value))
    sess.run(assigns)


def _tf_meta_graph_def(tf: Any, meta: meta_graph_pb2.MetaGraphDef) -> Any:
    return tf.compat.v1.MetaGraphDef.FromString(meta.SerializeToString())


def _load_original(tf: Any, sess: Any, graph: Any, loaded: _model.LoadedGraph, prefix: str | None) -> list[str]:
    """Builds the original in ``graph`` and restores it; returns the initializer ops still to run."""
    meta = loaded.meta_graph_def
    if loaded.kind == _model.SAVED_MODEL:
        # Restores the variables and runs main_op / legacy_init_op, as TF Serving does.
        tf.compat.v1.saved_model.loader.load(sess, list(loaded.tags), str(loaded.saved_model_dir),
                                             clear_devices=True)
        if meta is not None and has_saved_model_init(meta):
            return []
        return [op.name for op in graph.get_collection(tf.compat.v1.GraphKeys.TABLE_INITIALIZERS)]
    saver_def = None
    init: list[str] = []
    if loaded.kind == _model.META_GRAPH_DEF and meta is not None:  # a MetaGraphDef file always has one
        tf.compat.v1.train.import_meta_graph(_tf_meta_graph_def(tf, meta), clear_devices=True)
        if meta.HasField("saver_def"):
            saver_def = meta.saver_def
        init = [op.name for op in graph.get_collection(tf.compat.v1.GraphKeys.TABLE_INITIALIZERS)]
    else:
        tf.compat.v1.import_graph_def(_tf_graph_def(tf, loaded.graph_def), name="")
    if prefix is not None:
        if saver_def is not None and saver_def.restore_op_name:
            restore: tuple[str, str] | None = (saver_def.restore_op_name, saver_def.filename_tensor_name)
        else:
            restore = saver_nodes(loaded.graph_def)
        if restore:
            logger.info("restoring %s through %s", prefix, restore[0])
            sess.run(restore[0], {restore[1]: prefix})
        else:
            logger.info("restoring %s by variable name (no Saver in the graph)", prefix)
            _restore_variables_by_name(tf, sess, graph, loaded.graph_def, prefix)
    return init or initializer_nodes_of(loaded.graph_def)


@contextlib.contextmanager
def _original_session(tf: Any, loaded: _model.LoadedGraph, prefix: str | None, device: str, what: str,
                      optimizer: bool = True) -> Iterator[Any]:
    graph = tf.Graph()
    stage = "load"
    try:
        with graph.as_default(), tf.device(device), _session(tf, graph, optimizer) as sess:
            init = _load_original(tf, sess, graph, loaded, prefix)
            stage = "initialize"
            _run_ops(sess, graph, init, what)
            stage = "run"
            yield sess
    except (tf.errors.OpError, ValueError, TypeError, KeyError, OSError) as err:
        hint = ""
        text = str(err).lower()
        if prefix is None and ("uninitialized" in text or "not initialized" in text):
            hint = " (give the checkpoint with --checkpoint)"
        on = f" on {short_device(device)}" if device else ""
        verb = {"load": f"cannot load the original {what}" + (f" or restore '{prefix}' into it" if prefix else ""),
                "initialize": f"cannot run the initializers of the original {what}"}.get(
                    stage, f"failed to run the original {what}{on}")
        raise ValidationError(f"TensorFlow {verb}: {_tf_error_text(err)}{hint}") from err


@contextlib.contextmanager
def original_session(original: Any, checkpoint: str | os.PathLike[str] | None = None,
                     tags: Iterable[str] | str | None = None, device: str | None = None,
                     verbose: bool = False) -> Iterator[Any]:
    """A ``tf.compat.v1.Session`` holding the original model, restored and initialized as its users do it.

    A SavedModel goes through ``tf.compat.v1.saved_model.loader.load`` (restore, then main_op /
    legacy_init_op; the ``TABLE_INITIALIZERS`` collection when it has neither). A ``.meta`` goes
    through ``import_meta_graph`` and its SaverDef's restore op fed with the checkpoint prefix, then
    its ``TABLE_INITIALIZERS``. A bare GraphDef is imported with ``name=""``, restored through its own
    ``save/restore_all`` (or, with no Saver in it, each variable from the checkpoint key of its
    name), then its ``init_all_tables`` or table initializer ops are run. Device fields are cleared.

    Args:
        original: .pb/.pbtxt graph, .meta or SavedModel directory (or a ``LoadedGraph`` of one).
        checkpoint: prefix, directory or .index file; default for a .meta with variables: the
            prefix beside it.
        tags: the SavedModel tag set.
        device: ``cpu``, ``gpu:0``...; default TensorFlow's choice.
        verbose: let TensorFlow's logs and warnings through.

    Raises:
        ValidationError: TensorFlow cannot load, restore or initialize the model, or it is a TF2
            SavedModel (see ``run_original``).
    """
    loaded, prefix, label = prepare_original(original, checkpoint, tags)
    if is_tf2_saved_model(loaded):
        raise ValidationError(f"'{label}' is a TF2 SavedModel: the TF1 loader cannot restore its variables into a "
                              "session; call its signature with run_original(...) or compare with validate(...)")
    tf = import_tensorflow(verbose)
    with _tf_quiet(verbose):
        dev = _resolve_devices([device], verbose)[0] if device else ""
        with _original_session(tf, loaded, prefix, dev, f"'{label}'") as sess:
            yield sess


def run_original(original: Any, checkpoint: str | os.PathLike[str] | None = None, *,
                 tags: Iterable[str] | str | None = None, feeds: Mapping[str, Any] | None = None,
                 outputs: Sequence[str] | str | None = None, random_inputs: bool = False, batch: int = 1,
                 seed: int = 0, device: str | None = None, signature: str = DEFAULT_SIGNATURE,
                 verbose: bool = False) -> dict[str, np.ndarray]:
    """Runs the original (unfrozen) model once, restored from its checkpoint (see ``original_session``).

    ``feeds``, ``outputs``, ``random_inputs``, ``batch`` and ``seed`` work as in ``run_graph``,
    against the original graph. Returns ``{tensor name: value}``. A TF2 SavedModel is loaded with
    ``tf.saved_model.load`` and its ``signature`` called eagerly (as in ``validate``): ``feeds``
    and ``outputs`` then take signature keys or the tensor names they map to (default: all of the
    signature's outputs, keyed by tensor name).
    """
    loaded, prefix, label = prepare_original(original, checkpoint, tags)
    if is_tf2_saved_model(loaded):
        tf = import_tensorflow(verbose)
        with _tf_quiet(verbose):
            dev = _resolve_devices([device], verbose)[0] if device else ""
            return _run_original_tf2(tf, loaded, label, signature, feeds, outputs, random_inputs, batch, seed, dev)
    output_names = names.split_names(outputs) or candidate_outputs(loaded.graph_def)
    if not output_names:
        raise ValidationError(f"'{label}' has no candidate outputs; name what to fetch with --output")
    fetches = check_outputs(loaded.graph_def, output_names, f"'{label}'")
    feed_dict = prepare_feeds(loaded.graph_def, feeds, random_inputs, batch, seed, where=f"'{label}'", outputs=fetches)
    tf = import_tensorflow(verbose)
    with _tf_quiet(verbose):
        dev = _resolve_devices([device], verbose)[0] if device else ""
        return _run_original_once(tf, loaded, prefix, feed_dict, fetches, dev, f"'{label}'")


def _run_original_once(tf: Any, loaded: _model.LoadedGraph, prefix: str | None, feeds: Mapping[str, np.ndarray],
                       fetches: Sequence[str], device: str, what: str, optimizer: bool = True) -> dict[str, np.ndarray]:
    with _original_session(tf, loaded, prefix, device, what, optimizer) as sess:
        return _run_in_session(sess, fetches, feeds)


# --- a TF2 SavedModel, run eagerly through one signature ------------------------------------------

@contextlib.contextmanager
def _eager_mode(tf: Any) -> Iterator[None]:
    """Eager execution for the block, also in a process that called ``disable_eager_execution``."""
    if tf.executing_eagerly():
        yield
        return
    from tensorflow.python.eager import context  # noqa: PLC0415 (no public switch back to eager mode)

    with context.eager_mode():
        yield


def _run_signature_once(tf: Any, loaded: _model.LoadedGraph, signature: str, values: Mapping[str, np.ndarray],
                        device: str, what: str) -> dict[str, np.ndarray]:
    """Loads the TF2 SavedModel under ``tf.device(device)`` and calls its signature once, eagerly."""
    stage = "load"
    try:
        with _eager_mode(tf), tf.device(device):
            model = tf.saved_model.load(str(loaded.saved_model_dir), tags=sorted(loaded.tags))
            stage = "run"
            function = model.signatures[signature]
            result = function(**{key: tf.constant(value) for key, value in values.items()})
            return {key: np.asarray(tensor.numpy()) for key, tensor in result.items()}
    except (tf.errors.OpError, ValueError, TypeError, KeyError, OSError) as err:
        on = f" on {short_device(device)}" if device else ""
        verb = (f"cannot load the original {what} with tf.saved_model.load" if stage == "load"
                else f"failed to run signature '{signature}' of the original {what}{on}")
        raise ValidationError(f"TensorFlow {verb}: {_tf_error_text(err)}") from err


def _signature_values(specs: Mapping[str, InputSpec], inputs: Mapping[str, Any] | None, random_inputs: bool,
                      batch: int, seed: int, pool: Sequence[bytes],
                      where: str) -> tuple[dict[str, np.ndarray], set[str]]:
    """({signature key: value} for every input, the keys that were given): given values cast and
    shape-checked against the signature's TensorSpecs, the rest random (or a ``MismatchError``)."""
    if batch < 1:
        raise MismatchError(f"batch must be at least 1, got {batch}")
    given: dict[str, np.ndarray] = {}
    for name, value in (inputs or {}).items():
        key = signature_key(name, {k: spec.name for k, spec in specs.items()}, "input", where)
        if key in given:
            raise MismatchError(f"input '{key}' ({specs[key].name}) of {where} is given twice")
        given[key] = coerce_value(value, specs[key])
    missing = [f"'{key}' ({spec.name}, {spec.dtype_name}, shape {spec.shape_text})"
               for key, spec in specs.items() if key not in given]
    if missing and not random_inputs:
        raise MismatchError(f"no value for required input {', '.join(missing)} of {where}; give --input KEY=VALUE "
                            "(a .npy file, file.npz:key, or a literal) or use --random-inputs")
    rng = np.random.default_rng(seed)
    values = {key: given[key] if key in given else random_value(spec, batch, rng, pool)
              for key, spec in specs.items()}
    return values, set(given)


def _run_original_tf2(tf: Any, loaded: _model.LoadedGraph, label: str, signature: str,
                      feeds: Mapping[str, Any] | None, outputs: Sequence[str] | str | None, random_inputs: bool,
                      batch: int, seed: int, device: str) -> dict[str, np.ndarray]:
    """``run_original`` for a TF2 SavedModel: its signature called eagerly; ``{output tensor name: value}``."""
    where = f"signature '{signature}' of '{label}'"
    sig = signature_def(loaded, signature, label)
    specs = signature_inputs(loaded, signature)
    out_map = {key: dense_tensor(sig.outputs[key], f"output '{key}' of {where}") for key in sig.outputs}
    wanted = names.split_names(outputs)
    keys = list(dict.fromkeys(signature_key(name, out_map, "output", where) for name in wanted)) if wanted \
        else sorted(out_map, key=lambda key: tensor_order(out_map[key]))
    values, _ = _signature_values(specs, feeds, random_inputs, batch, seed, string_pool(loaded.graph_def), where)
    result = _run_signature_once(tf, loaded, signature, values, device, f"'{label}'")
    return {out_map[key]: result[key] for key in keys}


def _compare(original: Callable[[Any, str], Mapping[str, np.ndarray]], keys: Sequence[str],
             frozen_def: graph_pb2.GraphDef, frozen_label: str, feeds: Mapping[str, np.ndarray], fetches: Sequence[str],
             init: Sequence[str], devices: Sequence[str] | str | None, rtol: float, atol: float, elementwise: bool,
             verbose: bool, optimizer: bool = True) -> tuple[list[ValidationRow], list[str]]:
    """The one run-and-compare loop (TF1 and TF2 originals): on each device, ``original(tf, device)`` (values
    by ``keys``) and the frozen graph (values by ``fetches``, in the same order), compared pairwise."""
    tf = import_tensorflow(verbose)
    rows: list[ValidationRow] = []
    with _tf_quiet(verbose):
        run_on = _resolve_devices(devices, verbose)
        for device in run_on:
            want = original(tf, device)
            logger.info("running the frozen '%s' on %s", frozen_label, short_device(device))
            got = _run_frozen_once(tf, frozen_def, feeds, fetches, device, init, f"'{frozen_label}'", optimizer)
            for key, name in zip(keys, fetches):
                found = compare(want[key], got[name], rtol, atol, elementwise)
                rows.append(ValidationRow(name, short_device(device), tuple(got[name].shape), dtype_label(got[name]),
                                          found.max_abs, found.max_rel, found.ok, found.note, found.scale))
    return rows, run_on


def _validate_tf2(loaded: _model.LoadedGraph, original_label: str, frozen_def: graph_pb2.GraphDef,
                  frozen_label: str, *, signature: str, inputs: Mapping[str, Any] | None,
                  outputs: Sequence[str] | str | None, rtol: float, atol: float, elementwise: bool,
                  devices: Sequence[str] | str | None, seed: int, batch: int,
                  initializer_nodes: Sequence[str] | str | None, verbose: bool) -> ValidationReport:
    """``validate`` for a TF2 SavedModel original: the signature is called eagerly, the frozen graph run."""
    where = f"signature '{signature}' of '{original_label}'"
    sig = signature_def(loaded, signature, original_label)
    specs = signature_inputs(loaded, signature)
    out_map = {key: dense_tensor(sig.outputs[key], f"output '{key}' of {where}") for key in sig.outputs}
    frozen_nodes = {node.name for node in frozen_def.node}
    wanted = names.split_names(outputs)
    if wanted:
        keys = list(dict.fromkeys(signature_key(name, out_map, "output", where) for name in wanted))
    else:
        keys = [key for key in out_map if names.node_name(out_map[key]) in frozen_nodes]
        if not keys:
            listing = ", ".join(sorted(out_map.values()))
            raise ValidationError(f"'{frozen_label}' holds none of the outputs of {where} ({listing}); is it "
                                  f"frozen from another signature? (pass the right one with --signature)")
    keys.sort(key=lambda key: tensor_order(out_map[key]))
    fetches = check_outputs(frozen_def, [out_map[key] for key in keys], f"'{frozen_label}'")

    values, given = _signature_values(specs, inputs, True, batch, seed, string_pool(frozen_def), where)
    frozen_given = {specs[key].name: value for key, value in values.items() if specs[key].node in frozen_nodes}
    feeds = prepare_feeds(frozen_def, frozen_given, random_inputs=False, batch=batch, seed=seed,
                          where=f"'{frozen_label}'", outputs=fetches)
    init = names.split_names(initializer_nodes) if initializer_nodes is not None else initializer_nodes_of(frozen_def)

    def original_values(tf: Any, device: str) -> Mapping[str, np.ndarray]:
        logger.info("calling signature '%s' of the original '%s' on %s", signature, original_label,
                    short_device(device))
        return _run_signature_once(tf, loaded, signature, values, device, f"'{original_label}'")

    rows, run_on = _compare(original_values, keys, frozen_def, frozen_label, feeds, fetches, init, devices, rtol, atol,
                            elementwise, verbose)
    return ValidationReport(
        original=original_label, frozen=frozen_label, checkpoint=None, rows=rows,
        inputs={specs[key].name: (tuple(value.shape), dtype_label(value)) for key, value in values.items()},
        random=[specs[key].name for key in values if key not in given], devices=[short_device(d) for d in run_on],
        rtol=rtol, atol=atol, seed=seed, signature=signature, elementwise=elementwise)


def validate(original: Any, frozen: Any, *, checkpoint: str | os.PathLike[str] | None = None,
             tags: Iterable[str] | str | None = None, inputs: Mapping[str, Any] | None = None,
             outputs: Sequence[str] | str | None = None, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
             elementwise: bool = False, devices: Sequence[str] | str | None = None, seed: int = 0, batch: int = 1,
             initializer_nodes: Sequence[str] | str | None = None, signature: str = DEFAULT_SIGNATURE,
             graph_optimizer: bool = False, bound: Mapping[str, Any] | None = None, verbose: bool = False
             ) -> ValidationReport:
    """Runs the original model and the frozen graph on the same inputs on every device and compares.

    The original is run the way its users run it: a SavedModel through
    ``tf.compat.v1.saved_model.loader.load`` (restore + main_op/legacy_init_op); a ``.meta``
    through ``import_meta_graph`` and its Saver's restore op, then the ``TABLE_INITIALIZERS``
    collection; a bare GraphDef is imported and restored through its own ``save/restore_all``
    (or, without one, each variable from the key of its name), then its table initializers. The
    frozen graph is imported and its ``initializer_nodes`` (default: ``init_all_tables`` or the
    table initializer ops) are run first. Both sessions run with TensorFlow's graph optimizer off
    (see ``graph_optimizer``), so that what differs is what the freeze changed.

    A TF2 SavedModel (an object graph with concrete functions, as ``tf.saved_model.save`` and
    Keras ``model.export`` write; the TF1 loader cannot restore its variables) is run eagerly as
    its users run it: ``tf.saved_model.load(dir, tags)``, then ``loaded.signatures[signature]``
    called with one ``tf.constant`` per signature input. Signature keys map to the frozen graph's
    tensor names through the SavedModel's ``signature_def`` (``x`` -> ``serving_default_x:0``,
    ``y`` -> ``StatefulPartitionedCall:0``), which ``gs freeze`` keeps; ``inputs`` and
    ``outputs`` may name either. Random inputs follow the signature's TensorSpecs.

    Args:
        original: a .pb/.pbtxt graph (+ ``checkpoint``), a .meta (checkpoint default: the prefix
            beside it), a SavedModel directory, or a ``LoadedGraph`` of one.
        frozen: the frozen graph: path, ``LoadedGraph`` or GraphDef.
        checkpoint: the checkpoint prefix (or directory, or .index file) for a graph or .meta.
        tags: the SavedModel tag set (default ``serve`` or the only one).
        inputs: node or tensor name -> value; the other required placeholders get random values
            (seeded by ``seed``; unknown sizes become ``batch``), the same for both models. A
            placeholder of the original that the frozen graph no longer has (bound with ``gs freeze
            --bind is_training=false``, or folded away) is fed to the original only, with the value
            of the Const the freeze left in its place, else its switch's inference value
            (``values.bound_values``; the report's ``fixed`` lists them); a value given here wins
            (``overridden`` lists those the frozen graph bound to another value).
        outputs: what to compare (default: the frozen graph's candidate outputs).
        rtol, atol: float tolerances: ``|frozen - original| <= atol + rtol * scale``, scale the
            largest finite ``|original|`` of the output; other dtypes must match exactly.
        elementwise: judge each element against ``atol + rtol * |original|`` (numpy's ``allclose``).
        devices: the devices to run on (default: the CPU and every GPU).
        initializer_nodes: nodes of the frozen graph to run once first.
        signature: for a TF2 SavedModel original, the signature the frozen graph was made from.
        graph_optimizer: run both with TensorFlow's graph optimizer (grappler) on, as TF does by
            default; off, the frozen graph runs the original's kernels op for op (on, its Conv2D +
            batch norm fusion moves deep nets' floats by ~1e-4 of the scale). A TF2 original: on.
        bound: placeholder -> value the freeze bound (``FreezeResult.bound``), fed to a TF1 original.
        verbose: let TensorFlow's logs and warnings through.

    Returns:
        A ``ValidationReport``; check ``.ok``. Mismatches are reported, not raised.

    Raises:
        MissingDependencyError: TensorFlow is not installed.
        ValidationError: either model cannot be loaded, restored or run.
        NodeNotFoundError, MismatchError, CheckpointError: bad names, values or checkpoint.
    """
    loaded, prefix, original_label = prepare_original(original, checkpoint, tags)
    frozen_def, frozen_label = as_graph_def(frozen)
    if is_tf2_saved_model(loaded):
        return _validate_tf2(loaded, original_label, frozen_def, frozen_label, signature=signature, inputs=inputs,
                             outputs=outputs, rtol=rtol, atol=atol, elementwise=elementwise, devices=devices,
                             seed=seed, batch=batch, initializer_nodes=initializer_nodes, verbose=verbose)
    output_names = names.split_names(outputs) or candidate_outputs(frozen_def)
    if not output_names:
        raise ValidationError(f"'{frozen_label}' has no candidate outputs; name the outputs to compare")
    fetches = check_outputs(frozen_def, output_names, f"'{frozen_label}'")
    check_outputs(loaded.graph_def, fetches, f"the original '{original_label}'")
    given = dict(inputs or {})
    frozen_nodes = {n.name for n in frozen_def.node}
    original_nodes = [n.name for n in loaded.graph_def.node]
    frozen_placeholders = {n.name for n in frozen_def.node if n.op in PLACEHOLDER_OPS}
    original_placeholders = {n.name for n in loaded.graph_def.node if n.op in PLACEHOLDER_OPS}
    # A placeholder of the original that the freeze bound (is_training=false) or removed: fed to the original only.
    original_only = {k: v for k, v in given.items()
                     if names.node_name(k) in original_placeholders and names.node_name(k) not in frozen_placeholders}
    for key in given:
        if names.node_name(key) not in frozen_nodes and names.node_name(key) not in original_placeholders:
            raise not_found("input", key, sorted(frozen_placeholders | original_placeholders),
                                  where=f"'{frozen_label}' or the original '{original_label}'")
    # Random values for what the frozen graph needs, then for what the original alone needs (shared names: the same).
    feeds = prepare_feeds(frozen_def, {k: v for k, v in given.items() if k not in original_only}, random_inputs=True,
                          batch=batch, seed=seed, where=f"'{frozen_label}'", outputs=fetches)
    for name in feeds:
        if names.node_name(name) not in set(original_nodes):
            raise not_found("input", name, original_nodes, where=f"the original '{original_label}'")
    # The bound value (is_training=false) for what the freeze bound or folded away and the user did not give.
    fixed, overridden = original_only_values(loaded.graph_def, frozen_def, fetches, original_only, feeds, bound)
    known = {**feeds, **original_only, **{name: value for name, (value, _) in fixed.items()}}
    original_feeds = prepare_feeds(loaded.graph_def, known, random_inputs=True, batch=batch, seed=seed + 1,
                                   where=f"the original '{original_label}'", outputs=fetches)
    given_names = {names.tensor_name(k) for k in given}
    init = names.split_names(initializer_nodes) if initializer_nodes is not None else initializer_nodes_of(frozen_def)

    def original_values(tf: Any, device: str) -> Mapping[str, np.ndarray]:
        logger.info("running the original '%s' on %s", original_label, short_device(device))
        return _run_original_once(tf, loaded, prefix, original_feeds, fetches, device, f"'{original_label}'",
                                  graph_optimizer)

    rows, run_on = _compare(original_values, fetches, frozen_def, frozen_label, feeds, fetches, init, devices, rtol,
                            atol, elementwise, verbose, graph_optimizer)
    return ValidationReport(
        original=original_label, frozen=frozen_label, checkpoint=prefix, rows=rows,
        inputs={name: (tuple(value.shape), dtype_label(value)) for name, value in original_feeds.items()},
        random=[name for name in original_feeds if name not in given_names and name not in fixed],
        devices=[short_device(d) for d in run_on], rtol=rtol, atol=atol, seed=seed, elementwise=elementwise,
        fixed={name: (plain_value(value), source) for name, (value, source) in fixed.items()},
        overridden={name: (plain_value(mine), plain_value(theirs)) for name, (mine, theirs) in overridden.items()})
