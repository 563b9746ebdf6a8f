"""IR + IO manifest -> the source text of a Dagster module. Pure: no files, no Dagster import.

The module reads like hand-written Dagster: one ``@dg.op`` per step (its upstream outputs are
its inputs, each an :class:`~axl.emit.dagster.runtime.Artifact` reference), a ``Config`` class
per params step (its values become run config), one ``@dg.job`` wiring the ops as the workflow's
``graph()`` did, and a ``Definitions`` object. Each op body is one call into the runtime, which
runs the step through the axl runner from the embedded manifest. The manifest sits at the end of
the module, so the ops and the job come first for a reader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from axl.emit._bundle import WorkflowBundle
from axl.emit.dagster._names import (
    NameTable,
    identifier,
    input_slots,
    is_config_field,
)
from axl.emit.dagster._pysrc import (
    Atom,
    Display,
    Expr,
    call,
    lines,
    literal,
    signature,
    string,
)
from axl.ir import IRNode

#: What the generated module imports from axl.
RUNTIME = "axl.emit.dagster.runtime"
#: Module-level names the generated code uses itself; steps never take them.
_RESERVED = frozenset({"dg", "Any", "Artifact", "AxlRunner", "Manifest", "MANIFEST", "defs"})
#: Delay (seconds) before the first retry; Dagster doubles it for each further one, like the
#: local engine's backoff.
RETRY_DELAY = 0.1


@dataclass
class _Names:
    """Every identifier of the module, unique across functions, classes and the job's
    variables (a variable named like an op would hide the op inside the job function)."""

    ops: dict[str, str] = field(default_factory=dict)
    configs: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    outputs: dict[tuple[str, str], str] = field(default_factory=dict)
    job: str = ""


@dataclass(frozen=True)
class DagsterModule:
    """The emitted module and what the user should know about it."""

    text: str
    job: str
    warnings: tuple[str, ...]


def emit_module(bundle: WorkflowBundle) -> DagsterModule:
    """The Dagster module of ``bundle``'s workflow. Same bundle, same text."""
    from axl.runtime._manifest import emit_manifest

    ir = bundle.ir
    # The environment names only the lockfile, so no key is computed here: the op completes
    # the environment with the Python and platform of the process running the step.
    manifest = emit_manifest(
        ir, code=bundle.code_of, environment=bundle.environment, sources=bundle.sources
    )
    names = _names(ir.nodes, ir.name)
    warnings: list[str] = []
    out: list[str] = _header(ir.name, ir.module, ir.qualname)
    configs: list[list[str]] = []
    uses_any = False
    for node in ir.nodes:
        if node.kind == "params":
            block, any_field = _config_class(node, names, warnings)
            configs.append(block)
            uses_any = uses_any or any_field
    out += ["", *(["from typing import Any", ""] if uses_any else [])]
    out += ["import dagster as dg", "", f"from {RUNTIME} import Artifact, AxlRunner, Manifest"]
    for block in configs:
        out += ["", "", *block]
    for node in ir.nodes:
        out += ["", "", *_op(node, manifest["steps"][node.name], names, warnings)]
    out += ["", "", *_job(ir.name, ir.nodes, manifest["steps"], names)]
    out += ["", "", f"defs = dg.Definitions(jobs=[{names.job}])", ""]
    out += _manifest_block(manifest)
    return DagsterModule("\n".join(out) + "\n", names.job, tuple(warnings))


def _names(nodes: tuple[IRNode, ...], workflow: str) -> _Names:
    table = NameTable(_RESERVED)
    names = _Names()
    for node in nodes:
        names.ops[node.name] = table.take(identifier(node.name))
    for node in nodes:
        if node.kind == "params":
            camel = "".join(p.capitalize() for p in names.ops[node.name].split("_") if p)
            names.configs[node.name] = table.take(f"{camel or 'Params'}Config")
        if len(node.outputs) > 1:
            outputs = NameTable()
            for out in node.outputs:
                names.outputs[(node.name, out.name)] = outputs.take(identifier(out.name, "output"))
    job = identifier(workflow, "workflow")
    names.job = table.take(f"{job.rstrip('_')}_job" if job in table.taken else job)
    downstream = {up for node in nodes for up in node.upstream}
    for node in nodes:
        if node.name in downstream:
            names.variables[node.name] = table.take(f"{names.ops[node.name].rstrip('_')}_out")
    return names


def _doc(text: str) -> str:
    """``text`` safe inside a docstring (no quotes or backslashes to end or escape it)."""
    return "".join(c if c.isprintable() and c not in '"\\' else "'" for c in text)


def _header(name: str, module: str, qualname: str) -> list[str]:
    return [
        f'"""Dagster job of the axl workflow `{_doc(name)}` ({_doc(module)}.{_doc(qualname)}).',
        "",
        "Generated by `axl compile --target dagster`. Do not edit it: compile again when the",
        "workflow changes (an op refuses to run code other than the code compiled here).",
        "",
        "Each op runs one step through the axl runner, so IO handlers, the axl cache (local and",
        "remote) and the logs behave as in `axl run local`; ops hand each other references to",
        "artifacts (content digests), never the data itself.",
        "",
        "    dagster dev -f <this file>",
        "    dagster job execute -f <this file>",
        "",
        "Run config: `ops: {<params op>: {config: {...}}}` overrides params, and",
        "`resources: {axl: {config: {runner: subprocess}}}` runs each step in its own",
        "`python -m axl.runtime` process (default: in the op's process).",
        '"""',
    ]


def _config_type(value: Any) -> str:
    """The Config field type of a params value: the plain type when there is one that keeps the
    value as it is (so its canonical JSON, and the step keys, do not change), else ``Any``."""
    for kind, text in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str")):
        if type(value) is kind:
            return text
    if isinstance(value, list) and value:
        kinds = {type(v) for v in value}
        if len(kinds) == 1 and (kind := kinds.pop()) in (int, float, str, bool):
            return f"list[{kind.__name__}]"
    return "Any"


def _config_class(node: IRNode, names: _Names, warnings: list[str]) -> tuple[list[str], bool]:
    """The Config class of a params step, and whether a field is typed ``Any``."""
    op = names.ops[node.name]
    block = [
        f"class {names.configs[node.name]}(dg.Config):",
        f'    """Values of the params step `{_doc(node.name)}`: run config '
        f'`ops: {{{op}: {{config: {{...}}}}}}`."""',
        "",
    ]
    fields, uses_any = 0, False
    for key, value in node.param_values.items():
        if not is_config_field(key):
            warnings.append(
                f"params key {key!r} of step {node.name!r} is not a Dagster config field name; "
                "its compiled value is used"
            )
            continue
        kind = _config_type(value)
        block += lines(literal(value), 1, f"{key}: {kind} = ")
        fields += 1
        uses_any = uses_any or kind == "Any"
    if not fields:
        block.pop()  # the docstring is the whole body
    return block, uses_any


def _op(node: IRNode, entry: Mapping[str, Any], names: _Names, warnings: list[str]) -> list[str]:
    op = names.ops[node.name]
    options: dict[str, Expr] = {}
    if len(node.outputs) > 1:
        options["out"] = Display(
            "dict",
            tuple(
                (Atom(string(names.outputs[(node.name, o.name)])), call("dg.Out", Atom("Artifact")))
                for o in node.outputs
            ),
        )
    if node.retries:
        options["retry_policy"] = call(
            "dg.RetryPolicy",
            max_retries=Atom(str(node.retries)),
            delay=Atom(str(RETRY_DELAY)),
            backoff=Atom("dg.Backoff.EXPONENTIAL"),
        )
    options["tags"] = literal(_tags(node))
    if node.when:
        warnings.append(
            f"step {node.name!r} has when={node.when!r}: Dagster runs it unconditionally, as "
            "`axl run local` does"
        )
    slots = [name for name, _ in input_slots(entry["inputs"])]
    params = ["context: dg.OpExecutionContext", "axl: AxlRunner"]
    params += [f"{slot}: Artifact" for slot in slots]
    run_args: list[Expr] = [Atom("context"), Atom("MANIFEST"), Atom(string(node.name))]
    if node.name in names.configs:
        params.append(f"config: {names.configs[node.name]}")
        run_args.append(Atom("config"))
    # Dagster matches a tuple annotation's entries with the outputs, so it spells each one.
    returns = f"tuple[{', '.join('Artifact' for _ in node.outputs)}]"
    if len(node.outputs) == 1:
        returns = "Artifact"
    body = call("axl.run", *run_args, **{slot: Atom(slot) for slot in slots})
    return [
        *lines(call("dg.op", **options), 0, "@"),
        *signature(op, params, returns),
        *lines(body, 1, "return "),
    ]


def _tags(node: IRNode) -> dict[str, Any]:
    """Op tags: the step, and its resources (also as dagster-k8s requests, which Dagster's
    Kubernetes executors read)."""
    tags: dict[str, Any] = {"axl/step": node.name}
    if node.resources:
        resources = dict(node.resources)
        tags["axl/resources"] = resources
        tags["dagster-k8s/config"] = {"container_config": {"resources": {"requests": resources}}}
    if node.when:
        tags["axl/when"] = node.when
    return tags


def _job(
    workflow: str, nodes: tuple[IRNode, ...], entries: Mapping[str, Any], names: _Names
) -> list[str]:
    decorator = call(
        "dg.job",
        resource_defs=Display("dict", ((Atom('"axl"'), call("AxlRunner")),)),
        tags=literal({"axl/workflow": workflow}),
    )
    out = [
        *lines(decorator, 0, "@"),
        f"def {names.job}() -> None:",
        f'    """The axl workflow `{_doc(workflow)}`, one op per step."""',
    ]
    for node in nodes:
        wiring: dict[str, Expr] = {}
        for slot, leaf in input_slots(entries[node.name]["inputs"]):
            source = leaf["from"]
            variable = names.variables[source["step"]]
            output = names.outputs.get((source["step"], source["output"]))
            wiring[slot] = Atom(variable if output is None else f"{variable}.{output}")
        own = names.variables.get(node.name)
        prefix = f"{own} = " if own else ""
        out += lines(call(names.ops[node.name], **wiring), 1, prefix)
    return out


def _manifest_block(manifest: dict[str, Any]) -> list[str]:
    from axl.runtime._manifest_shared import share

    # Compact (runner/SPEC.md, "Compact manifests"): calls of a step function cost the lines
    # where they differ, so a module of thousands of calls stays small.
    return [
        "# What the axl runner runs for each op: the workflow's IO manifest (runner/SPEC.md),",
        "# pinned to the sources, code and uv.lock compiled.",
        "# ruff: noqa: E501 (digests and paths make some of its lines long)",
        *lines(call("Manifest", Atom("__file__"), literal(share(manifest))), 0, "MANIFEST = "),
    ]
