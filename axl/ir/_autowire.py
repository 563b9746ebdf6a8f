"""The graph of a workflow that defines no ``graph()``, inferred from parameter names.

Each step is called once, in an order where every step comes after the steps it reads, through
the same :class:`~axl.ir._trace.Tracer` an explicit ``graph()`` uses: the IR, the keys and every
backend cannot tell the two apart. A parameter of a step takes

- the output of the step it is named after (``def train(self, features)`` reads ``features``);
- one output of a step with several outputs, when it is named after that output
  (``def fit(self, train)`` reads output ``train`` of ``@step(outputs=("train", "test"))``);
- one value of the params step, when it is named after one of its keys (``def fit(self, lr)``
  reads ``params["lr"]``, so it reruns only when ``lr`` changes).

A name with two such meanings is ambiguous, a parameter without a default that matches nothing
is unmatched: both are errors naming the step, the parameter and the fix. A parameter with a
default that matches nothing keeps its default. The workflow returns every output no step reads.
"""

from __future__ import annotations

import inspect
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any

from axl.dsl import OutputRef, StepDef, Workflow
from axl.errors import Loc, WorkflowError

if TYPE_CHECKING:
    from axl.ir._trace import Tracer

_HINT = "rename the parameter, or define graph(self) to wire the steps by hand"


def defines_graph(cls: type[Workflow]) -> bool:
    """Whether ``cls`` (or a base class of its own) defines ``graph()``; if not, it is inferred."""
    return any("graph" in vars(klass) for klass in cls.__mro__ if klass is not Workflow)


def autowire(tracer: Tracer) -> tuple[OutputRef[Any], ...]:
    """Record every step of ``tracer.workflow`` wired by parameter names; return the sinks.

    Raises:
        WorkflowError: No steps, an unmatched or ambiguous parameter, or a cycle.
    """
    cls = type(tracer.workflow)
    wf_name = cls.workflow_name()
    steps = cls.steps()
    if not steps:
        raise WorkflowError(
            f"workflow {wf_name!r} defines neither graph() nor any step",
            hint="mark methods with @step; the graph is then inferred from their parameter names",
        )
    refs: dict[str, OutputRef[Any]] = {}
    # The params steps take no arguments: record them first, their keys are names to match.
    for name, step_def in steps.items():
        if step_def.options.params:
            refs[name] = _record(tracer, step_def, {})
    sources = _sources(tracer, steps)
    wiring = {name: _wire(name, d, sources, wf_name) for name, d in steps.items()}
    read: set[str] = set()
    for name in _order(wiring, steps, wf_name):
        if name in refs:
            continue
        kwargs: dict[str, Any] = {}
        for param, (src, output) in wiring[name].items():
            ref = refs[src]
            kwargs[param] = ref if output is None else ref[output]
            read.add(src if output is None else f"{src}[{output}]")
        refs[name] = _record(tracer, steps[name], kwargs)
    return tuple(_sinks(refs, steps, read))


def _record(tracer: Tracer, step_def: StepDef[Any], kwargs: dict[str, Any]) -> OutputRef[Any]:
    # The step's own definition is the "call site": that is where a wrong name is fixed.
    return tracer.record(step_def, (), kwargs, None, step_def.file, step_def.line)


def _sources(
    tracer: Tracer, steps: dict[str, StepDef[Any]]
) -> dict[str, list[tuple[str, str | None]]]:
    """Each name a parameter may carry -> the (step, output) pairs it would read."""
    sources: dict[str, list[tuple[str, str | None]]] = {}
    for name, step_def in steps.items():
        outputs = step_def.options.outputs
        if outputs is None:
            sources.setdefault(name, []).append((name, None))
        else:
            for output in outputs:
                sources.setdefault(output, []).append((name, output))
    for node, values in tracer.params_values.items():
        for key in sorted(values):
            sources.setdefault(key, []).append((node, key))
    return sources


def _wire(
    name: str,
    step_def: StepDef[Any],
    sources: dict[str, list[tuple[str, str | None]]],
    wf_name: str,
) -> dict[str, tuple[str, str | None]]:
    """The (step, output) each parameter of ``step_def`` reads; defaults left out."""
    if step_def.options.params:
        return {}
    where = f"step {name!r} of workflow {wf_name!r} (graph inferred: no graph() defined)"
    here: Loc = {"file": step_def.file, "line": step_def.line}
    wired: dict[str, tuple[str, str | None]] = {}
    for param in list(inspect.signature(step_def.fn).parameters.values())[1:]:
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            stars = "*" if param.kind is inspect.Parameter.VAR_POSITIONAL else "**"
            raise WorkflowError(
                f"{where}: parameter '{stars}{param.name}' cannot be wired by name",
                hint="name every parameter, or define graph(self) to wire the steps by hand",
                **here,
            )
        found = [s for s in sources.get(param.name, []) if s[0] != name]
        if len(found) > 1:
            meanings = ", ".join(_describe(s) for s in found)
            raise WorkflowError(
                f"{where}: parameter {param.name!r} is ambiguous: it names {meanings}",
                hint=_HINT,
                **here,
            )
        if found:
            wired[param.name] = found[0]
        elif param.default is inspect.Parameter.empty:
            names = sorted(n for n, srcs in sources.items() if any(s[0] != name for s in srcs))
            near = get_close_matches(param.name, names, n=1)
            raise WorkflowError(
                f"{where}: parameter {param.name!r} matches no step, step output or param",
                hint=(f"did you mean {near[0]!r}? " if near else "")
                + f"names it can take: {', '.join(names) or '(none)'}; or give it a default, "
                "or define graph(self)",
                **here,
            )
    return wired


def _describe(source: tuple[str, str | None]) -> str:
    step, output = source
    return f"step {step!r}" if output is None else f"output {output!r} of step {step!r}"


def _order(
    wiring: dict[str, dict[str, tuple[str, str | None]]],
    steps: dict[str, StepDef[Any]],
    wf_name: str,
) -> list[str]:
    """Steps so that each comes after those it reads; definition order breaks ties."""
    done: dict[str, None] = {}
    remaining = list(steps)
    while remaining:
        ready = [n for n in remaining if all(src in done for src, _ in wiring[n].values())]
        if not ready:
            step_def = steps[remaining[0]]
            raise WorkflowError(
                f"the inferred graph of workflow {wf_name!r} has a cycle through steps "
                f"{', '.join(remaining[:10])}",
                hint="a step cannot read its own output, directly or indirectly; "
                "rename a parameter or define graph(self)",
                file=step_def.file,
                line=step_def.line,
            )
        done.update(dict.fromkeys(ready))
        remaining = [n for n in remaining if n not in done]
    return list(done)


def _sinks(
    refs: dict[str, OutputRef[Any]], steps: dict[str, StepDef[Any]], read: set[str]
) -> list[OutputRef[Any]]:
    """The outputs no step reads, in definition order (what an explicit graph() returns)."""
    sinks: list[OutputRef[Any]] = []
    for name, ref in refs.items():
        if name in read:
            continue
        outputs = steps[name].options.outputs
        if steps[name].options.params:
            # A params key read alone still leaves the whole dict unread; it is no result.
            if not any(r.startswith(f"{name}[") for r in read):
                sinks.append(ref)
        elif outputs is None:
            sinks.append(ref)
        else:
            sinks.extend(ref[o] for o in outputs if f"{name}[{o}]" not in read)
    return sinks
