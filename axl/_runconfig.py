"""Run configs: one checked-in file per environment (``--config configs/prod.yaml``).

A run config says *where and how* a workflow runs, never *what* it computes: the remote cache,
workflow-wide defaults of options that are no part of any key (resources, retries), the options
of ``compile --target argo`` and ``build-image``, and params. Params are the one field that
reaches keys, as inputs, exactly as a ``--params`` file's do. Anything else that would change a
key is refused with the reason: ``env`` (a step reads its environment, so env is part of its
key: a config per environment would build different results under one workflow's name),
IO handlers and input modes (how outputs are stored and passed), ``cache_version``, code and
dependencies. The format is ``axl/runconfig.schema.json`` (JSON Schema), checked field by field.

The config is applied to the IR after loading (:func:`apply_config`), so the load cache and the
traced graph are those of the workflow itself, and two configs of one workflow give IRs that
differ only in the configured fields.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from axl.errors import UsageError

if TYPE_CHECKING:
    from axl.emit._bundle import WorkflowBundle
    from axl.ir import IRWorkflow

SCHEMA = Path(__file__).with_name("runconfig.schema.json")

#: Fields that would change what a workflow computes, and why each is refused.
_REFUSED = {
    "env": "env is part of every step's key (a step reads its environment), so a config per "
    "environment would build different results under one workflow; declare it in the workflow "
    "with @step(env=...), or pass the value as a param",
    "io_handler": "the IO handler decides the bytes a step's outputs are stored as, so it is "
    "part of the key; set it with @step(io_handler=...) or on the workflow",
    "input_mode": "the input mode decides what a step receives, so it is part of the key; set "
    "it with @step(input_mode=...)",
    "cache_version": "cache_version is part of the key; bump it in @step(cache_version=...)",
    "cache": "whether a step is cached is the workflow's decision (@step(cache=False)); "
    "per build, use --no-cache or --rerun",
    "when": "a condition decides which steps run, so it belongs to the workflow",
    "requirements": "dependencies are the environment part of every key; declare them on "
    "the workflow",
    "requirements_file": "dependencies are the environment part of every key; declare them on "
    "the workflow",
    "use_lockfile": "dependencies are the environment part of every key; declare them on "
    "the workflow",
    "workflow": "the workflow (its code) is what is computed; name it with -m or a BUILD rule",
    "module": "the workflow (its code) is what is computed; name it with -m or a BUILD rule",
}


class ConfigError(UsageError):
    """A run config is missing, malformed, or asks for what would change a key."""


@dataclass(frozen=True)
class RunConfig:
    """A checked run config. ``data`` is the file's mapping as validated."""

    path: Path
    data: Mapping[str, Any]

    @property
    def params(self) -> dict[str, Any] | None:
        value = self.data.get("params")
        return dict(value) if isinstance(value, dict) else None

    def remote(self, remote_cache: str | None, remote_upload: bool | None) -> tuple[Any, Any]:
        """``--remote-cache``/``--[no-]remote-upload``, each from the config unless given."""
        if remote_cache is None:
            remote_cache = self.data.get("remote_cache")
            if remote_cache and "://" not in remote_cache and not Path(remote_cache).is_absolute():
                # A folder in a config is relative to the config, as a rule's files to BUILD.
                remote_cache = str(self.path.parent / remote_cache)
        if remote_upload is None:
            remote_upload = self.data.get("remote_upload")
        return remote_cache, remote_upload

    def image(self, tag: str | None, push: bool) -> tuple[str | None, bool]:
        """``build-image``'s ``--tag``/``--push``, from the ``build_image`` section unless given."""
        section = self.section("build_image")
        return (tag if tag is not None else section.get("tag")), push or bool(section.get("push"))

    def apply(self, ir: IRWorkflow) -> IRWorkflow:
        """``ir`` with this config applied (see :func:`apply_config`)."""
        return apply_config(ir, self)

    def section(self, name: str) -> dict[str, Any]:
        """The ``argo`` or ``build_image`` options (empty when absent)."""
        return dict(self.data.get(name) or {})


def load_config(path: str | Path) -> RunConfig:
    """Read and check the run config at ``path``.

    Raises:
        ConfigError: Missing, not YAML, a refused field (saying why), or a field the schema
            rejects (naming it, with its line).
    """
    from axl._params import read_mapping

    file = Path(path)
    data = read_mapping(file, what="run config", error=ConfigError)
    text = file.read_text(encoding="utf-8")
    for where, key in _fields(data):
        if key in _REFUSED:
            raise ConfigError(
                f"{_dotted(where, key)}: a run config cannot set {key!r}: {_REFUSED[key]}",
                hint="a run config sets where and how a workflow runs, never what it computes "
                "(see axl/runconfig.schema.json)",
                file=str(path),
                line=_line_of(text, [*where, key]),
            )
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    found = [_problem(e) for e in jsonschema.Draft202012Validator(schema).iter_errors(data)]
    if found:
        # The first in the file's order: what a reader fixing top to bottom meets first.
        found.sort(key=lambda f: (_line_of(text, f[0]) or 0, f[0]))
        place, message, error = found[0]
        more = f" ({len(found) - 1} more problem(s) after this one)" if len(found) > 1 else ""
        raise ConfigError(
            f"{'.'.join(place) or '(the file)'}: {message}{more}",
            hint=_hint(error, schema),
            file=str(path),
            line=_line_of(text, place),
        )
    return RunConfig(file.resolve(), data)


def _fields(data: Mapping[str, Any]) -> list[tuple[list[str], str]]:
    """Top-level keys and keys of ``defaults`` (where step options would be set)."""
    found: list[tuple[list[str], str]] = [([], str(k)) for k in data]
    defaults = data.get("defaults")
    if isinstance(defaults, dict):
        found += [(["defaults"], str(k)) for k in defaults]
    return found


def _dotted(where: list[str], key: str) -> str:
    return ".".join([*where, key])


def _problem(error: Any) -> tuple[list[str], str, Any]:
    """Where a schema error is (the field's path), what is wrong, and the error itself."""
    place = [str(p) for p in error.absolute_path]
    if error.validator == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(str(k) for k in error.instance if k not in allowed)
        return [*place, extra[0]], "unknown field", error
    if error.validator == "required":
        missing = [r for r in error.validator_value if r not in error.instance]
        return place, f"missing field {missing[0]!r}", error
    return place, str(error.message), error


def _hint(error: Any, schema: dict[str, Any]) -> str:
    """What the schema allows there: the field's description, or the fields of the object."""
    node: Any = schema
    for part in error.absolute_path:
        props = node.get("properties", {})
        node = props.get(str(part), node.get("additionalProperties") or {})
        if not isinstance(node, dict):
            node = {}  # additionalProperties: false
    if error.validator in {"additionalProperties", "required"}:
        fields = sorted(node.get("properties", {}))
        return f"fields here: {', '.join(fields)} (axl/runconfig.schema.json)"
    return "expected: " + str(node.get("description") or "see axl/runconfig.schema.json")


def _line_of(text: str, place: list[str]) -> int | None:
    """The 1-based line of the field at ``place`` in the YAML ``text`` (``None``: unknown)."""
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = None
    for part in place:
        if not isinstance(node, yaml.MappingNode):
            break
        for key, value in node.value:
            if str(key.value) == part:
                line, node = key.start_mark.line + 1, value
                break
        else:
            break
    return line


def apply_config(ir: IRWorkflow, config: RunConfig | None) -> IRWorkflow:
    """``ir`` with the config's step defaults and params applied (``ir`` itself when none).

    Raises:
        ParamsError: The config's params name a parameter the workflow does not define.
    """
    if config is None:
        return ir
    defaults = dict(config.data.get("defaults") or {})
    resources = {str(k): str(v) for k, v in dict(defaults.get("resources") or {}).items()}
    retries = defaults.get("retries")
    params = config.params
    if not (resources or retries or params):
        return ir
    from axl._params import check_overrides
    from axl.hashing import canonical_json

    if params:
        defined = [n.param_values for n in ir.nodes if n.kind == "params"]
        check_overrides(ir.name, defined, params, str(config.path))
    nodes = []
    for node in ir.nodes:
        changes: dict[str, Any] = {}
        if node.kind == "params" and params:
            values = node.param_values
            values.update({k: v for k, v in params.items() if k in values})
            changes["params"] = canonical_json(values)
        if resources and node.kind != "params":
            changes["resources"] = tuple(sorted({**resources, **dict(node.resources)}.items()))
        if retries and node.retries == 0 and node.kind != "params":
            changes["retries"] = int(retries)
        nodes.append(dataclasses.replace(node, **changes) if changes else node)
    return dataclasses.replace(ir, nodes=tuple(nodes))


def refuse_both_params(params_file: str | Path | None, config: RunConfig | None) -> None:
    """A ``--params`` file (or a rule's) and a config's params do not mix.

    Raises:
        ConfigError: Both are given.
    """
    if params_file is not None and config is not None and config.params:
        raise ConfigError(
            f"both the params file {params_file} and the run config's params would set params",
            hint="put the values in one of them (the config's params are per environment)",
            file=str(config.path),
        )


def configured(
    bundle: WorkflowBundle, target: str, options: dict[str, Any], config: RunConfig | None
) -> tuple[WorkflowBundle, dict[str, Any]]:
    """A bundle and emitter options with ``config`` applied: its defaults and params to the
    workflow; for ``argo``, its ``argo`` options and ``remote_cache`` where ``options`` has
    ``None`` (a flag or rule attribute wins); for ``kfp``, its ``remote_cache``. Other targets
    take no options from a config."""
    if config is None:
        return bundle, options
    bundle = dataclasses.replace(bundle, ir=apply_config(bundle.ir, config))
    if target not in ("argo", "kfp"):
        return bundle, options
    merged = dict(options)
    remote = config.data.get("remote_cache")
    # KFP takes no section of its own: its tasks consult the config's remote cache, as pods do.
    section = config.section("argo") if target == "argo" else {}
    for name, value in {**section, "remote_cache": remote}.items():
        if merged.get(name) is None and value not in (None, ""):
            merged[name] = value
    return bundle, merged
