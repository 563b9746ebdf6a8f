"""Tracing ``graph()`` into the IR (``build_ir``) and checking the result (``validate``)."""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from axl import io
from axl._params import check_overrides
from axl.dsl import INPUT_MODES, OutputRef, StepDef, TracedCall, Workflow
from axl.errors import AxlError, CanonicalError, Loc, WorkflowError
from axl.external import External
from axl.hashing import canonical_json
from axl.ir._autowire import autowire, defines_graph
from axl.ir._model import (
    Arg,
    Const,
    IRNode,
    IROutput,
    IRWorkflow,
    Map,
    Ref,
    Seq,
    iter_refs,
    iter_sources,
)
from axl.ir._sources import check_source_modes, path_of, source_of

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$")


class Tracer:
    """Records step calls made while ``graph()`` runs and hands out :class:`OutputRef` s."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.calls: list[TracedCall] = []
        self.names: set[str] = set()
        self._counts: dict[str, int] = {}
        self.params_values: dict[str, dict[str, Any]] = {}
        #: Params overrides (from --params), so that ``File(p["data"])`` sees the chosen value.
        self.overrides: dict[str, Any] = {}

    def record(
        self,
        step_def: StepDef[Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        name: str | None,
        file: str,
        line: int,
    ) -> OutputRef[Any]:
        here: Loc = {"file": file, "line": line}
        if name is not None:
            if not isinstance(name, str) or not _NAME.match(name):
                raise WorkflowError(
                    f"step name {name!r} is not valid",
                    hint="use letters, digits, '_' and '-', starting with a letter, "
                    "at most 63 characters",
                    **here,
                )
            if name in self.names:
                raise WorkflowError(
                    f"two calls in graph() of workflow {self._wf_name!r} are named {name!r}",
                    hint="give each call a unique name=",
                    **here,
                )
        else:
            name = self._auto_name(step_def.name)
        self.names.add(name)
        outputs: tuple[str, ...]
        if step_def.options.params:
            values = self._params_values(step_def, args, kwargs, file, line)
            self.params_values[name] = values
            outputs = ("out", *sorted(values))
            ref_output: str | None = "out"
        elif step_def.options.outputs is not None:
            outputs = step_def.options.outputs
            ref_output = None
        else:
            outputs = ("out",)
            ref_output = "out"
        self.calls.append(TracedCall(name, step_def, args, kwargs, file, line, outputs))
        return OutputRef(name, ref_output, outputs)

    @property
    def _wf_name(self) -> str:
        return type(self.workflow).workflow_name()

    def _auto_name(self, base: str) -> str:
        count = self._counts.get(base, 0)
        while True:
            candidate = base if count == 0 else f"{base}-{count}"
            count += 1
            if candidate not in self.names:
                self._counts[base] = count
                return candidate

    def _params_values(
        self,
        step_def: StepDef[Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        file: str,
        line: int,
    ) -> dict[str, Any]:
        if args or kwargs:
            raise WorkflowError(
                f"the params step {step_def.name!r} takes no arguments",
                hint="params are the first step; other steps take its output",
                file=file,
                line=line,
            )
        try:
            values = step_def.fn(self.workflow)
        except AxlError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of user code becomes one error line
            raise WorkflowError(
                f"the params step {step_def.name!r} raised {type(exc).__name__}: {exc}",
                hint="the params step must return a dict of defaults without side effects",
                file=step_def.file,
                line=step_def.line,
            ) from None
        if not isinstance(values, dict):
            raise WorkflowError(
                f"the params step {step_def.name!r} returned {type(values).__name__}, not a dict",
                hint="return a dict of parameter names to default values",
                file=step_def.file,
                line=step_def.line,
            )
        try:
            canonical_json(values)
        except CanonicalError as exc:
            raise WorkflowError(
                f"the params step {step_def.name!r} returned a value that is not JSON-able: "
                f"{exc.message}",
                hint="params are overridable from YAML, so they must be JSON-able",
                file=step_def.file,
                line=step_def.line,
            ) from None
        return values


def build_ir(
    cls: type[Workflow],
    params: Mapping[str, Any] | None = None,
    params_file: str | Path | None = None,
) -> IRWorkflow:
    """Trace ``cls.graph()`` into an :class:`IRWorkflow` and validate it.

    Args:
        cls: The workflow class.
        params: Overrides for the params step's values (e.g. loaded from a YAML file).
        params_file: Where ``params`` came from, for error messages.

    Raises:
        WorkflowError: The workflow is malformed.
        ParamsError: An override names a parameter the params step does not define.
    """
    if not (isinstance(cls, type) and issubclass(cls, Workflow)):
        raise WorkflowError(f"{cls!r} is not a subclass of axl.Workflow")
    wf_name = cls.workflow_name()
    try:
        # Classes from exec'd code or a notebook have no source file; errors then lack file:line.
        file = inspect.getsourcefile(cls) or "<unknown>"
        line = inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        file, line = "<unknown>", 0
    try:
        instance = cls()
    except AxlError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of user code becomes one error line
        raise WorkflowError(
            f"workflow {wf_name!r} could not be instantiated: {type(exc).__name__}: {exc}",
            hint="a workflow class must be constructible without arguments",
            file=file,
            line=line,
        ) from None
    tracer = Tracer(instance)
    instance._axl_tracer = tracer
    inferred = not defines_graph(cls)
    try:
        result = autowire(tracer) if inferred else instance.graph()
    except AxlError as exc:
        if exc.file is None:
            # OutputRef refusals do not know where graph() misused them; the traceback does.
            exc.file, exc.line = _user_frame(exc, file, line)
            exc.args = (exc.render(),)
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of user code becomes one error line
        frame_file, frame_line = _user_frame(exc, file, line)
        raise WorkflowError(
            f"graph() of workflow {wf_name!r} raised {type(exc).__name__}: {exc}",
            hint="graph() only wires steps; do computation inside steps",
            file=frame_file,
            line=frame_line,
        ) from None
    finally:
        instance._axl_tracer = None
    results = _results(result, wf_name, file, line)
    if not tracer.calls:
        raise WorkflowError(f"graph() of workflow {wf_name!r} called no step", file=file, line=line)
    overrides = dict(params or {})
    tracer.overrides = overrides
    nodes = [_node(cls, tracer, call, overrides) for call in tracer.calls]
    if overrides:
        check_overrides(
            wf_name,
            list(tracer.params_values.values()),
            overrides,
            None if params_file is None else str(params_file),
        )
    ir = IRWorkflow(
        name=wf_name,
        module=cls.__module__,
        qualname=cls.__qualname__,
        nodes=tuple(nodes),
        results=results,
        image=cls.image,
        io_handler=cls.io_handler,
        input_mode=cls.input_mode,
        use_lockfile=_uses_lockfile(cls),
        requirements=tuple(cls.requirements),
        requirements_file=cls.requirements_file,
        inferred=inferred,
    )
    validate(ir)
    return ir


def _uses_lockfile(cls: type[Workflow]) -> bool:
    """``use_lockfile`` as the class sets it; left at its default, it yields to requirements, so
    an IR holding both says the user asked for both (an error: axl.graph._deps)."""
    if any("use_lockfile" in vars(k) for k in cls.__mro__ if k is not Workflow):
        return bool(cls.use_lockfile)
    return not (cls.requirements or cls.requirements_file)


def _user_frame(exc: BaseException, file: str, line: int) -> tuple[str, int]:
    tb = exc.__traceback__
    found = (file, line)
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == file:
            found = (file, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _results(result: Any, wf_name: str, file: str, line: int) -> tuple[Ref, ...]:
    if isinstance(result, OutputRef):
        items: list[Any] = [result]
    elif isinstance(result, (tuple, list)):
        items = list(result)
    elif isinstance(result, dict):
        items = list(result.values())
    else:
        items = []
    refs: list[Ref] = []
    for item in items:
        if not isinstance(item, OutputRef):
            items = []
            break
        if item._axl_output is None:
            refs.extend(Ref(item.node, o) for o in item._axl_outputs)
        else:
            refs.append(Ref(item.node, item.output))
    if not refs:
        raise WorkflowError(
            f"graph() of workflow {wf_name!r} returned {type(result).__name__}, "
            "not the output of a step",
            hint="return the final step's output (or a tuple/dict of outputs) from graph()",
            file=file,
            line=line,
        )
    return tuple(refs)


def _node(
    cls: type[Workflow], tracer: Tracer, call: TracedCall, overrides: dict[str, Any]
) -> IRNode:
    step_def = call.step
    opts = step_def.options
    here: Loc = {"file": call.file, "line": call.line}
    where = f"step {call.name!r} of workflow {cls.workflow_name()!r}"
    sig, simple = _signature(step_def)
    try:
        arguments = _bind(sig, simple, tracer.workflow, call.args, call.kwargs)
    except TypeError as exc:
        raise WorkflowError(
            f"{where} is called with arguments its function does not accept: {exc}",
            hint=f"{step_def.name}{_public_signature(step_def)} is defined at "
            f"{Path(step_def.file).name}:{step_def.line}",
            **here,
        ) from None
    self_name = next(iter(sig.parameters))
    args: list[tuple[str, Arg]] = []
    for arg_name, value in arguments.items():
        if arg_name == self_name:
            continue
        args.append((arg_name, _to_arg(value, tracer, f"{where}, argument {arg_name!r}", here)))
    ref_args = [n for n, a in args if not isinstance(a, Const)]
    # Arguments made only of external inputs (a File, or a list of them) default to path mode.
    external = {n for n, a in args if any(True for _ in iter_sources(a)) and not any(iter_refs(a))}
    input_modes = _input_modes(cls, opts.input_mode, ref_args, sig, where, step_def, external)
    check_source_modes(args, dict(input_modes), where, here)
    params_json = None
    if opts.params:
        values = dict(tracer.params_values[call.name])
        values.update({k: v for k, v in overrides.items() if k in values})
        params_json = canonical_json(values)
        outputs = tuple(IROutput(o, "json", "json") for o in call.outputs)
    else:
        handler = _handler(opts.io_handler, step_def, where)
        ext = io.extension_of(handler)
        outputs = tuple(IROutput(o, handler, ext) for o in call.outputs)
    return IRNode(
        name=call.name,
        step=step_def.name,
        kind="params" if opts.params else "step",
        module=step_def.fn.__module__,
        qualname=step_def.fn.__qualname__,
        args=tuple(args),
        input_modes=input_modes,
        outputs=outputs,
        io_handler=opts.io_handler,
        retries=opts.retries,
        resources=opts.resources,
        env=opts.env,
        when=opts.when,
        cache=opts.cache,
        cache_version=opts.cache_version,
        params=params_json,
        strict_inputs=bool(cls.strict_inputs if opts.strict_inputs is None else opts.strict_inputs),
        file=step_def.file,
        line=step_def.line,
        call_file=call.file,
        call_line=call.line,
    )


@functools.lru_cache(maxsize=4096)
def _signature(step_def: StepDef[Any]) -> tuple[inspect.Signature, tuple[str, ...] | None]:
    """The step function's signature, and its parameter names when binding can skip
    ``Signature.bind`` (plain positional-or-keyword parameters only): a 10,000-call graph binds
    10,000 times."""
    sig = inspect.signature(step_def.fn)
    kinds = {p.kind for p in sig.parameters.values()}
    simple = tuple(sig.parameters) if kinds <= {inspect.Parameter.POSITIONAL_OR_KEYWORD} else None
    return sig, simple


def _bind(
    sig: inspect.Signature,
    simple: tuple[str, ...] | None,
    instance: object,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> dict[str, Any]:
    if simple is not None and len(args) + 1 <= len(simple) and not (set(kwargs) - set(simple)):
        bound = dict(zip(simple, (instance, *args), strict=False))
        if not set(kwargs) & set(bound):
            bound.update(kwargs)
            required = [
                n for n, p in sig.parameters.items() if p.default is inspect.Parameter.empty
            ]
            if all(n in bound for n in required):
                return bound
    return dict(sig.bind(instance, *args, **kwargs).arguments)


def _public_signature(step_def: StepDef[Any]) -> str:
    sig = inspect.signature(step_def.fn)
    params = list(sig.parameters.values())[1:]
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))


def _to_arg(value: Any, tracer: Tracer, where: str, here: Loc) -> Arg:
    if isinstance(value, External):
        path = path_of(value, tracer.params_values, tracer.overrides, where, here)
        return source_of(value, path, where, here)
    if isinstance(value, OutputRef):
        if value.node not in tracer.names:
            raise WorkflowError(f"{where} is the output of a step of another workflow", **here)
        if value._axl_output is None:
            raise WorkflowError(
                f"{where} is step {value.node!r}, which has several outputs "
                f"{list(value._axl_outputs)}",
                hint="unpack the call or pick one output, e.g. ref['name']",
                **here,
            )
        return Ref(value.node, value.output)
    if isinstance(value, (list, tuple)) and _holds_ref(value):
        return Seq(tuple(_to_arg(v, tracer, where, here) for v in value))
    if isinstance(value, dict) and _holds_ref(value):
        for k in value:
            if not isinstance(k, str):
                raise WorkflowError(f"{where} is a dict with a non-string key {k!r}", **here)
        return Map(tuple((k, _to_arg(value[k], tracer, where, here)) for k in sorted(value)))
    try:
        return Const(canonical_json(value))
    except CanonicalError as exc:
        raise WorkflowError(
            f"{where} is a constant that is not JSON-able ({exc.message})",
            hint="pass JSON-able constants (they become part of the key), or produce the value "
            "in a step",
            **here,
        ) from None


def _holds_ref(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, External):
            return True
        if isinstance(item, OutputRef):
            return True
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return False


def _input_modes(
    cls: type[Workflow],
    mode: str | tuple[tuple[str, str], ...] | None,
    ref_args: list[str],
    sig: inspect.Signature,
    where: str,
    step_def: StepDef[Any],
    external: Collection[str] = (),
) -> tuple[tuple[str, str], ...]:
    here: Loc = {"file": step_def.file, "line": step_def.line}
    default = cls.input_mode
    per_arg: dict[str, str] = {}
    if isinstance(mode, tuple):
        per_arg = dict(mode)
        for arg_name in per_arg:
            if arg_name not in sig.parameters:
                raise WorkflowError(
                    f"{where}: input_mode names argument {arg_name!r}, which the function "
                    "does not take",
                    hint=f"its arguments are: {', '.join(list(sig.parameters)[1:])}",
                    **here,
                )
    elif mode is not None:
        default = mode
    for value in [default, *per_arg.values()]:
        if value not in INPUT_MODES:
            raise WorkflowError(
                f"{where}: unknown input mode {value!r}",
                hint=f"input modes are: {', '.join(INPUT_MODES)}",
                **here,
            )
    # External inputs are paths unless the step names them: the step reads the data itself.
    return tuple(
        sorted((a, per_arg.get(a, "path" if a in external else default)) for a in ref_args)
    )


def _handler(declared: str | None, step_def: StepDef[Any], where: str) -> str:
    if declared is not None:
        if declared not in io.names() and declared != io.AUTO:
            raise WorkflowError(
                f"{where}: unknown IO handler {declared!r}",
                hint=f"known handlers: {', '.join(io.names())}",
                file=step_def.file,
                line=step_def.line,
            )
        return declared
    return _annotated_handler(step_def)


@functools.lru_cache(maxsize=4096)
def _annotated_handler(step_def: StepDef[Any]) -> str:
    annotation = _signature(step_def)[0].return_annotation
    if annotation is inspect.Signature.empty:
        annotation = None
    return io.detect_annotation(annotation) or io.AUTO


def validate(ir: IRWorkflow) -> None:
    """Check an IR (traced or loaded from JSON): references resolve, handlers exist, no cycles.

    Raises:
        WorkflowError: The first problem found, naming the workflow and step.
    """
    known = set(io.names()) | {io.AUTO}
    for node in ir.nodes:
        here: Loc = {"file": node.call_file or None, "line": node.call_line or None}
        for out in node.outputs:
            if out.handler not in known:
                raise WorkflowError(
                    f"step {node.name!r} of workflow {ir.name!r}: unknown IO handler "
                    f"{out.handler!r}",
                    hint=f"known handlers: {', '.join(sorted(known))}",
                    **here,
                )
        for arg_name, mode in node.input_modes:
            if mode not in INPUT_MODES:
                raise WorkflowError(
                    f"step {node.name!r} of workflow {ir.name!r}: unknown input mode {mode!r} "
                    f"for argument {arg_name!r}",
                    hint=f"input modes are: {', '.join(INPUT_MODES)}",
                    **here,
                )
        for edge_src, edge_out in ((r.node, r.output) for r in _node_refs(node)):
            if not ir.has_node(edge_src):
                raise WorkflowError(
                    f"step {node.name!r} of workflow {ir.name!r} reads from unknown step "
                    f"{edge_src!r}",
                    **here,
                )
            if edge_out not in {o.name for o in ir.get_node(edge_src).outputs}:
                raise WorkflowError(
                    f"step {node.name!r} of workflow {ir.name!r} reads output {edge_out!r}, "
                    f"which step {edge_src!r} does not have",
                    **here,
                )
        if node.params is not None:
            json.loads(node.params)
    for ref in ir.results:
        if not ir.has_node(ref.node):
            raise WorkflowError(f"workflow {ir.name!r} returns unknown step {ref.node!r}")
    ir.topological_order()


def _node_refs(node: IRNode) -> list[Ref]:
    from axl.ir._model import iter_refs

    return [ref for _, arg in node.args for ref in iter_refs(arg)]
