"""The user-facing DSL: ``Workflow``, ``@workflow``, ``@step`` and ``OutputRef``.

A workflow is a class whose methods are steps. Inside ``graph()`` calling a step does not run it:
the call is recorded (traced) and returns an :class:`OutputRef`, a placeholder for the step's
output. :func:`axl.ir.build_ir` turns the trace into the IR. The DSL never executes user steps.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar, overload

from axl.errors import Loc, WorkflowError

R = TypeVar("R")
C = TypeVar("C", bound=type["Workflow"])

INPUT_MODES = ("object", "path")


@dataclass(frozen=True)
class StepOptions:
    """What ``@step(...)`` was given. Normalised in the constructor; frozen."""

    io_handler: str | None = None
    input_mode: str | tuple[tuple[str, str], ...] | None = None
    resources: tuple[tuple[str, str], ...] = ()
    retries: int = 0
    env: tuple[tuple[str, str], ...] = ()
    when: str | None = None
    cache: bool = True
    cache_version: str | None = None
    outputs: tuple[str, ...] | None = None
    params: bool = False
    strict_inputs: bool | None = None


class StepDef(Generic[R]):
    """A step: a workflow method decorated with ``@step``. A descriptor; bind it to an instance."""

    def __init__(self, fn: Callable[..., R], options: StepOptions) -> None:
        self.fn = fn
        self.options = options
        self.name = fn.__name__
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn
        code = getattr(fn, "__code__", None)
        self.file = code.co_filename if code else "<unknown>"
        self.line = code.co_firstlineno if code else 0

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> StepDef[R]: ...
    @overload
    def __get__(self, obj: object, objtype: type | None = None) -> BoundStep[R]: ...
    def __get__(self, obj: object | None, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return BoundStep(self, obj)

    def __repr__(self) -> str:
        return f"<step {self.name}>"


class BoundStep(Generic[R]):
    """A step bound to a workflow instance. Calling it inside ``graph()`` records a node."""

    def __init__(self, step_def: StepDef[R], instance: object) -> None:
        self.step_def = step_def
        self.instance = instance
        self._explicit_name: str | None = None

    def named(self, name: str) -> BoundStep[R]:
        """The same step, whose next call records a node called ``name``."""
        bound = BoundStep(self.step_def, self.instance)
        bound._explicit_name = name
        return bound

    def __call__(self, *args: Any, **kwargs: Any) -> OutputRef[R]:
        tracer = getattr(self.instance, "_axl_tracer", None)
        frame = sys._getframe(1)
        if tracer is None:
            raise WorkflowError(
                f"step {self.step_def.name!r} was called outside graph()",
                hint="steps are wired inside graph(); to run the function itself call "
                f"{type(self.instance).__name__}.{self.step_def.name}.fn(self, ...)",
                file=frame.f_code.co_filename,
                line=frame.f_lineno,
            )
        name = self._explicit_name
        if name is None and "name" in kwargs and not _accepts(self.step_def.fn, "name"):
            name = kwargs.pop("name")
        ref: OutputRef[R] = tracer.record(
            self.step_def, args, kwargs, name, frame.f_code.co_filename, frame.f_lineno
        )
        return ref


def _accepts(fn: Callable[..., Any], param: str) -> bool:
    try:
        return param in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


@overload
def step(fn: Callable[..., R], /) -> StepDef[R]: ...
@overload
def step(
    *,
    io_handler: str | None = None,
    input_mode: str | Mapping[str, str] | None = None,
    resources: Mapping[str, str | int | float] | None = None,
    retries: int = 0,
    env: Mapping[str, str] | None = None,
    when: str | None = None,
    cache: bool = True,
    cache_version: str | int | None = None,
    outputs: tuple[str, ...] | list[str] | None = None,
    params: bool = False,
    strict_inputs: bool | None = None,
) -> Callable[[Callable[..., R]], StepDef[R]]: ...
def step(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    io_handler: str | None = None,
    input_mode: str | Mapping[str, str] | None = None,
    resources: Mapping[str, str | int | float] | None = None,
    retries: int = 0,
    env: Mapping[str, str] | None = None,
    when: str | None = None,
    cache: bool = True,
    cache_version: str | int | None = None,
    outputs: tuple[str, ...] | list[str] | None = None,
    params: bool = False,
    strict_inputs: bool | None = None,
) -> Any:
    """Mark a workflow method as a step. Works bare (``@step``) and with options (``@step(...)``).

    Args:
        io_handler: Name of the IO handler for the outputs (default: the workflow's, or detected
            from the return annotation / value).
        input_mode: ``"object"`` (load inputs with their handler), ``"path"`` (pass the artifact's
            file path), or a per-argument dict of those.
        resources: Requests for a cluster (``{"cpu": "2", "memory": "4Gi"}``); not part of the key.
        retries: How often to retry a failing step; not part of the key.
        env: Environment variables set while the step runs; part of the key.
        when: A condition for cluster backends (Argo ``when``).
        cache: Whether results may be reused. ``False`` reruns the step on every build.
        cache_version: Bump to invalidate cached results by hand.
        outputs: Names of several outputs; the function returns a tuple (by position) or a dict
            (by name) and the call in ``graph()`` can be unpacked or indexed.
        params: Marks the params step (implied for a step named ``params``).
        strict_inputs: Fail the step when it reads a file or environment variable its key does
            not cover (default: the workflow's ``strict_inputs``); not part of the key.
    """
    frame = sys._getframe(1)
    here: Loc = {"file": frame.f_code.co_filename, "line": frame.f_lineno}
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise WorkflowError(f"retries must be a whole number >= 0, got {retries!r}", **here)
    if isinstance(input_mode, Mapping):
        mode: str | tuple[tuple[str, str], ...] | None = tuple(sorted(input_mode.items()))
    else:
        mode = input_mode
    if outputs is not None:
        if isinstance(outputs, str) or not outputs:  # type: ignore[unreachable] # user input
            raise WorkflowError(
                f"outputs must be a non-empty list of names, got {outputs!r}",
                hint='write outputs=("train", "test")',
                **here,
            )
        names = tuple(outputs)
        for out in names:
            if not isinstance(out, str) or not out.isidentifier():
                raise WorkflowError(f"output name {out!r} is not an identifier", **here)
        if len(set(names)) != len(names):
            raise WorkflowError(f"outputs {names!r} has a duplicate name", **here)
    options = StepOptions(
        io_handler=io_handler,
        input_mode=mode,
        resources=tuple(sorted((str(k), str(v)) for k, v in (resources or {}).items())),
        retries=retries,
        env=tuple(sorted((str(k), str(v)) for k, v in (env or {}).items())),
        when=when,
        cache=bool(cache),
        cache_version=None if cache_version is None else str(cache_version),
        outputs=tuple(outputs) if outputs is not None else None,
        params=params,
        strict_inputs=None if strict_inputs is None else bool(strict_inputs),
    )

    def decorate(f: Callable[..., Any]) -> StepDef[Any]:
        if not callable(f):
            raise WorkflowError(f"@step decorates a function, got {f!r}", **here)
        opts = options
        if f.__name__ == "params" and not opts.params:
            opts = dataclasses.replace(opts, params=True)
        return StepDef(f, opts)

    if fn is not None:
        return decorate(fn)
    return decorate


class OutputRef(Generic[R]):
    """A placeholder for a step's output inside ``graph()``.

    It stands for a value that does not exist yet, so it refuses everything that would need the
    value (truth, iteration, length, arithmetic) with a message naming the step. Index it to pick
    one output of a multi-output step or one key of the params step.
    """

    __slots__ = ("_axl_node", "_axl_output", "_axl_outputs")

    def __init__(self, node: str, output: str | None, outputs: tuple[str, ...]) -> None:
        self._axl_node = node
        self._axl_output = output
        self._axl_outputs = outputs

    @property
    def node(self) -> str:
        """The name of the node (step call) this output belongs to."""
        return self._axl_node

    @property
    def output(self) -> str:
        """The output's name."""
        if self._axl_output is None:
            raise WorkflowError(
                f"step {self._axl_node!r} has several outputs {list(self._axl_outputs)}; "
                "pass one of them",
                hint=f"unpack the call or index it, e.g. ref[{self._axl_outputs[0]!r}]",
            )
        return self._axl_output

    def __getitem__(self, key: str | int) -> OutputRef[Any]:
        if isinstance(key, int) and not isinstance(key, bool):
            if self._axl_output is not None or not -len(self._axl_outputs) <= key < len(
                self._axl_outputs
            ):
                raise self._refuse(f"index [{key}]", "it has no such output")
            return OutputRef(self._axl_node, self._axl_outputs[key], self._axl_outputs)
        if isinstance(key, str) and self._axl_output in (None, "out") and key in self._axl_outputs:
            return OutputRef(self._axl_node, key, self._axl_outputs)
        raise self._refuse(
            f"[{key!r}]",
            f"its outputs are {list(self._axl_outputs)}; to use part of a value, do it in a step",
        )

    def __iter__(self) -> Iterator[OutputRef[Any]]:
        if self._axl_output is None:
            return iter(
                [OutputRef(self._axl_node, o, self._axl_outputs) for o in self._axl_outputs]
            )
        raise self._refuse("iteration", "declare @step(outputs=(...)) to unpack several outputs")

    def _refuse(self, what: str, why: str = "") -> WorkflowError:
        reason = why or "its value does not exist while graph() runs"
        return WorkflowError(
            f"{what} on the output of step {self._axl_node!r} is not possible: {reason}",
            hint="inside graph() outputs are placeholders; compute with them inside a step",
        )

    def __bool__(self) -> bool:
        raise self._refuse("bool()", "its value does not exist while graph() runs")

    def __len__(self) -> int:
        raise self._refuse("len()")

    def __contains__(self, item: object) -> bool:
        raise self._refuse("'in'")

    def __hash__(self) -> int:
        return hash((self._axl_node, self._axl_output))

    def __eq__(self, other: object) -> bool:
        raise self._refuse("==")

    def __ne__(self, other: object) -> bool:
        raise self._refuse("!=")

    def __repr__(self) -> str:
        out = "" if self._axl_output in (None, "out") else f"[{self._axl_output!r}]"
        return f"OutputRef({self._axl_node}{out})"

    def _arith(self, *_: object) -> Any:
        raise self._refuse("arithmetic")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _arith
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _arith
    __pow__ = __rpow__ = __neg__ = __pos__ = __abs__ = __lt__ = __le__ = __gt__ = __ge__ = _arith
    __and__ = __rand__ = __or__ = __ror__ = __xor__ = __rxor__ = __invert__ = _arith
    __matmul__ = __rmatmul__ = _arith

    def __index__(self) -> int:
        raise self._refuse("use as an index")

    def __float__(self) -> float:
        raise self._refuse("float()")

    def __int__(self) -> int:
        raise self._refuse("int()")


@dataclass(frozen=True)
class Dependencies:
    """Where a workflow's third-party dependencies come from (the key's environment part)."""

    use_lockfile: bool = True
    requirements: tuple[str, ...] = ()
    requirements_file: str | None = None


class Workflow:
    """Base class of every workflow. Override the class attributes or use ``@workflow(...)``.

    Attributes:
        name: The workflow's name (default: the class name).
        image: The container image its steps run in on cluster backends.
        io_handler: The default IO handler of its steps' outputs.
        input_mode: The default input mode of its steps.
        use_lockfile: Key and bake the environment from the workspace's ``uv.lock``.
        requirements: Alternatively, a list of requirement strings.
        requirements_file: Alternatively, a requirements file beside the workflow.
        strict_inputs: Fail any step that reads a file or environment variable its key does not
            cover (a step's own ``strict_inputs=`` wins).
    """

    name: ClassVar[str | None] = None
    image: ClassVar[str] = "python:3.11-slim"
    io_handler: ClassVar[str] = "pickle"
    input_mode: ClassVar[str] = "object"
    use_lockfile: ClassVar[bool] = True
    requirements: ClassVar[tuple[str, ...] | list[str]] = ()
    requirements_file: ClassVar[str | None] = None
    strict_inputs: ClassVar[bool] = False

    _axl_tracer: Any = None

    def graph(self) -> Any:
        """Wire the steps: call them and return the final output(s).

        A workflow that does not override it gets a graph inferred from its steps' parameter
        names (:mod:`axl.ir._autowire`); this default body only runs when called by hand.
        """
        raise WorkflowError(
            f"workflow {type(self).__name__!r} does not define graph()",
            hint="define graph(self) that calls the steps and returns the final output",
        )

    @classmethod
    def workflow_name(cls) -> str:
        return cls.name or cls.__name__

    @classmethod
    def steps(cls) -> dict[str, StepDef[Any]]:
        """The class's steps by method name, in definition order (base classes first)."""
        found: dict[str, StepDef[Any]] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                if isinstance(value, StepDef):
                    found[attr] = value
        return found


_WORKFLOW_ATTRS = (
    "name",
    "image",
    "io_handler",
    "input_mode",
    "use_lockfile",
    "requirements",
    "requirements_file",
    "strict_inputs",
)


def workflow(**attrs: Any) -> Callable[[C], C]:
    """Override a workflow's attributes: ``@workflow(name="churn", image="repo/img:1")``."""
    frame = sys._getframe(1)
    for attr in attrs:
        if attr not in _WORKFLOW_ATTRS:
            raise WorkflowError(
                f"@workflow has no option {attr!r}",
                hint=f"options are: {', '.join(_WORKFLOW_ATTRS)}",
                file=frame.f_code.co_filename,
                line=frame.f_lineno,
            )

    def decorate(cls: C) -> C:
        if not (isinstance(cls, type) and issubclass(cls, Workflow)):
            raise WorkflowError(
                f"@workflow decorates a subclass of axl.Workflow, got {cls!r}",
                file=frame.f_code.co_filename,
                line=frame.f_lineno,
            )
        for attr, value in attrs.items():
            setattr(cls, attr, value)
        return cls

    return decorate


@dataclass
class TracedCall:
    """One recorded step call (the tracer's raw material for the IR)."""

    name: str
    step: StepDef[Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    file: str
    line: int
    outputs: tuple[str, ...] = field(default=("out",))
