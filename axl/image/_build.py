"""``axl build-image``: bake a workflow into an image, keyed, built only when its inputs changed.

1. Plan: the workflow's dependency settings and modules (:mod:`axl.image._plan`, cached).
2. Spec: what the image holds (dependency files, code files, options) -> a Dockerfile and the
   context's layout (:mod:`axl.emit.image`, pure).
3. Key: the Dockerfile, the base image's ID, every context file's digest, the build args
   (:mod:`axl.image._key`). The image is tagged ``REPO:<key[:32]>`` and labelled with the key.
4. If the engine has that tag with that label, nothing is built. Else the context goes to the
   engine as a deterministic tar (:mod:`axl.image._context`) and the engine builds it; its layer
   cache reuses the dependency layer when only code changed.
5. ``--push``: if the registry already has the key tag nothing is pushed; else it is pushed. The
   registry's digest (``REPO@sha256:...``) is then the image's reference.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from axl.emit.image import DEFAULT_BASE, ImageSpec, Rendered, render
from axl.errors import UsageError
from axl.hashing import bytes_digest
from axl.hashing import file_digest as _plain_digest
from axl.image._dockerbuild import run_build
from axl.image._engine import Engine
from axl.image._key import KEY_LABEL, PROXY_ARGS, image_key, key_tag
from axl.image._plan import PlanCache, WorkflowPlan, workflow_plan
from axl.image._result import BuildLog, ImageResult

#: The DSL's default ``image``: a workflow that kept it gets ``axl/<name>`` as its repository.
_DSL_DEFAULT_IMAGE = "python:3.11-slim"
_REPOSITORY = re.compile(r"^[a-z0-9]+([._:/-][a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")

LineHook = Callable[[str], None]


@dataclass(frozen=True)
class ImageOptions:
    """How to bake an image (``axl build-image`` options, ``axl_image`` attributes).

    Attributes:
        tag: ``REPO[:TAG]``; default: the workflow's ``image`` repository, else ``axl/<name>``.
        base: The base image.
        system_packages: Debian packages to install (at build time only).
        extras: The project's optional-dependency groups to install.
        groups: Dependency groups to install (default groups are not installed).
        include: More workspace files or folders for the code layer (data, templates).
        build_args: ``NAME -> value``: declared in the builder stage (index URLs, ...).
        ca_bundle: A CA bundle the build trusts (a TLS-intercepting proxy); never in the image.
        network: The build's network mode (``host`` on engines without a bridge).
        push: Push the image and report the registry's digest.
    """

    tag: str | None = None
    base: str = DEFAULT_BASE
    system_packages: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    build_args: Mapping[str, str] = field(default_factory=dict)
    ca_bundle: str | None = None
    network: str | None = None
    push: bool = False


def parse_build_args(values: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["K=V", ...]`` -> ``{"K": "V"}``.

    Raises:
        UsageError: A value without ``=``.
    """
    found: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise UsageError(f"--build-arg {value!r} is not NAME=VALUE")
        found[name] = text
    return found


def split_reference(text: str) -> tuple[str, str | None]:
    """``REPO[:TAG]`` -> ``(REPO, TAG or None)``.

    Raises:
        UsageError: A digest reference, or a malformed repository or tag.
    """
    if "@" in text:
        raise UsageError(
            f"--tag {text!r} holds a digest; give REPO[:TAG]",
            hint="the digest is what the build reports, not an input",
        )
    slash = text.rfind("/")
    repo, sep, tag = text.rpartition(":")
    if not sep or repo.rfind("/") < slash or "/" in tag:
        repo, tag = text, ""
    if not _REPOSITORY.match(repo):
        raise UsageError(
            f"{repo!r} is not a valid image repository",
            hint="lowercase letters, digits and . _ - / (e.g. registry.example.com/team/churn)",
        )
    if tag and not _TAG.match(tag):
        raise UsageError(f"{tag!r} is not a valid image tag")
    return repo, tag or None


def default_repository(plan: WorkflowPlan) -> str:
    """The workflow's ``image`` repository, unless it kept the DSL default."""
    if plan.image and plan.image != _DSL_DEFAULT_IMAGE:
        ref = plan.image.split("@", 1)[0]
        repo, _ = split_reference(ref)
        return repo
    return f"axl/{plan.name.lower()}"


def image_spec(plan: WorkflowPlan, options: ImageOptions, root: Path) -> ImageSpec:
    """The emitter's input for ``plan`` baked with ``options``.

    Raises:
        UsageError: Unknown extras or groups, missing include paths, an unreadable project.
    """
    from axl.graph._deps import LOCKFILE
    from axl.image._project import (
        check_extras_and_groups,
        expand,
        is_installable,
        project_files,
        read_pyproject,
    )

    install = False
    code = set(plan.sources)
    if plan.deps_kind == LOCKFILE:
        pyproject = read_pyproject(root)
        check_extras_and_groups(pyproject, options.extras, options.groups)
        install = is_installable(pyproject)
        if install:
            code.update(project_files(root, pyproject))
    elif plan.deps_kind == "file":
        _check_requirements_file(root / plan.deps_files[0])
    code.update(expand(root, list(options.include), what="include"))
    declared = [n for n in options.build_args if n not in PROXY_ARGS and n != "SOURCE_DATE_EPOCH"]
    return ImageSpec(
        workflow=plan.name,
        entry=plan.entry,
        base=options.base,
        deps_kind=plan.deps_kind,
        deps_files=plan.deps_files,
        requirements=plan.requirements,
        extras=options.extras,
        groups=options.groups,
        install_project=install,
        code_files=tuple(code),
        system_packages=options.system_packages,
        build_args=tuple(declared),
        ca_bundle=options.ca_bundle is not None,
    )


def _check_requirements_file(path: Path) -> None:
    """Refuse a requirements file that names other files: the image gets this file alone.

    Raises:
        UsageError: A ``-r``/``-c``/``-e`` line.
    """
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        word = line.strip().split(maxsplit=1)[0] if line.strip() else ""
        if word.startswith(("-r", "--requirement", "-c", "--constraint", "-e", "--editable")):
            raise UsageError(
                f"{path.name} line {number} refers to another file or folder ({word})",
                hint="an image bakes the requirements file alone: list the requirements in it",
                file=path,
                line=number,
            )


def build_image(
    spec: str,
    options: ImageOptions,
    *,
    workspace: str | Path | None = None,
    cache_dir: str | Path | None = None,
    on_line: LineHook | None = None,
) -> ImageResult:
    """Bake workflow ``spec`` (``module:Class`` or ``file.py:Class``) into an image.

    Args:
        spec: The workflow.
        options: How to bake it.
        workspace: The workspace root (default: nearest folder up with pyproject.toml).
        cache_dir: The cache folder (default: ``$AXL_CACHE_DIR`` or ``<root>/.axl``).
        on_line: Called with each line of the build's output.

    Raises:
        AxlError: Bad options or workflow, an engine that does not answer, a failed build or
            push (:class:`ImageError`, with the failing step's output).
    """
    from axl._loader import find_workspace
    from axl.exec._session import cache_dir_for

    started = time.perf_counter()
    root = find_workspace(explicit=workspace)
    cache = PlanCache(cache_dir_for(root, cache_dir) / "image")
    prepared = prepare(spec, options, root, cache)
    plan, rendered, digests = prepared.plan, prepared.rendered, prepared.digests
    repo, user_tag = prepared.repository, prepared.user_tag
    engine = Engine()
    try:
        base = engine.inspect(options.base)
        if base is None:
            engine.pull(options.base)
            base = engine.inspect(options.base) or {}
        key = prepared.key(base.get("Id"))
        tags = [f"{repo}:{key_tag(key)}"]
        if user_tag and user_tag != key_tag(key):
            tags.append(f"{repo}:{user_tag}")
        info = engine.inspect(tags[0])
        if info is None or _labels(info).get(KEY_LABEL) != key:
            # The same image under another repository (or only under a user tag) will do.
            info = engine.find_labelled(KEY_LABEL, key)
        log: BuildLog | None = None
        if info is None:
            log = run_build(engine, rendered, root, digests, options, plan, key, tags[0], on_line)
            info = engine.inspect(tags[0]) or {}
        for ref in tags:
            if ref not in (info.get("RepoTags") or []):
                engine.tag(info["Id"], repo, ref.rpartition(":")[2])
        repo_digest = _known_digest(info, repo)
        pushed = False
        if options.push:
            from axl.image._push import push

            repo_digest, pushed = push(engine, repo, [t.rpartition(":")[2] for t in tags])
    finally:
        engine.close()
        cache.save()
    return ImageResult(
        workflow=plan.name,
        key=key,
        repository=repo,
        tags=tuple(tags),
        image_id=str(info.get("Id", "")),
        built=log is not None,
        repo_digest=repo_digest,
        pushed=pushed,
        steps=tuple(log.steps) if log else (),
        seconds=time.perf_counter() - started,
    )


@dataclass(frozen=True)
class Prepared:
    """Everything about an image that is known before asking the engine.

    Attributes:
        plan: The workflow's plan.
        rendered: The Dockerfile and context layout to build.
        keyed: The Dockerfile the key is computed from: ``rendered``'s without the CA lines
            (a proxy's CA changes the route to PyPI, not the image).
        digests: Context path -> content digest of every keyed context file.
        repository: The image's repository.
        user_tag: The tag the user asked for, if any.
        build_args: The build args.
    """

    plan: WorkflowPlan
    rendered: Rendered
    keyed: str
    digests: dict[str, str]
    repository: str
    user_tag: str | None
    build_args: Mapping[str, str]

    def key(self, base_id: str | None) -> str:
        """The image key, given the base image's ID on the engine."""
        return image_key(self.keyed, self.digests, base_id, self.build_args)


def prepare(spec: str, options: ImageOptions, root: Path, cache: PlanCache | None) -> Prepared:
    """Plan, render and digest: the image up to its key (no engine involved).

    Raises:
        AxlError: The workflow, its dependency settings or the options are wrong.
    """
    plan = workflow_plan(spec, root, cache)
    repo, user_tag = split_reference(options.tag or default_repository(plan))
    if options.ca_bundle is not None and not Path(options.ca_bundle).is_file():
        raise UsageError(f"--ca-bundle {options.ca_bundle} is not a file")
    image = image_spec(plan, options, root)
    rendered = render(image)
    keyed = render(replace(image, ca_bundle=False)).dockerfile if image.ca_bundle else None
    return Prepared(
        plan=plan,
        rendered=rendered,
        keyed=keyed or rendered.dockerfile,
        digests=_digests(rendered, root, cache),
        repository=repo,
        user_tag=user_tag,
        build_args=dict(options.build_args),
    )


def _digests(rendered: Rendered, root: Path, cache: PlanCache | None) -> dict[str, str]:
    digests: dict[str, str] = {}
    for arcname, rel in rendered.files.items():
        path = root / rel
        digest = cache.stats.digest(str(path)) if cache else _file_digest(path)
        if digest is None:
            raise UsageError(f"{root / rel} vanished while the image was being planned")
        digests[arcname] = digest
    for arcname, data in rendered.generated.items():
        digests[arcname] = bytes_digest(data)
    return digests


def _file_digest(path: Path) -> str | None:
    try:
        return _plain_digest(path)
    except OSError:
        return None


def _labels(info: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = (info.get("Config") or {}).get("Labels") or {}
    return labels


def _known_digest(info: dict[str, Any], repo: str) -> str | None:
    for ref in info.get("RepoDigests") or []:
        if str(ref).rpartition("@")[0] == repo:
            return str(ref)
    return None
