"""Bazel rules for axl workflows: every workflow step is its own Bazel action.

    load("@axl//rules:axl.bzl", "axl_workflow")

    axl_workflow(
        name = "churn",
        workflow = "churn_workflow.py:ChurnWorkflow",
        params = "churn.yaml",
    )

`axl bazel //pkg:churn` writes the per-step targets into the package `pkg/churn.bazel`
(`axl_manifests` + one `axl_step` per step); `axl_workflow` makes `//pkg:churn` an alias of all
their outputs. Actions run the project venv's Python through `@axl_python` (python.bzl; `axl
bazel init` declares it): see README.md here for the hermeticity trade-off.
"""

AxlManifestsInfo = provider(
    doc = "The per-step IO manifests of a workflow, and the sources its steps import.",
    fields = {
        "manifests": "dict: step name -> File (that step's manifest)",
        "srcs": "depset of the project's source Files the workflow's import reads",
    },
)

AxlStepInfo = provider(
    doc = "What one step wrote.",
    fields = {"files": "dict: path under the step's folder -> File (outputs and result record)"},
)

# The runner's result record, beside each step's outputs.
_RECORD = "axl-result.json"

# The interpreter every action runs: the project's venv (python.bzl; `axl bazel init`).
_PYTHON = attr.label(
    default = "@axl_python//:python3",
    executable = True,
    allow_single_file = True,
    cfg = "exec",
    doc = "The interpreter (rules/python.bzl).",
)


def _regenerate_command(ctx):
    # The generated package is <pkg>/<name>.bazel, generated for the workflow //<pkg>:<name>.
    package = ctx.label.package
    if package.endswith(".bazel"):
        parent, _, name = package[:-len(".bazel")].rpartition("/")
        return "axl bazel //%s:%s" % (parent, name)
    return "axl bazel"

def _manifests_impl(ctx):
    manifests = {
        step: ctx.actions.declare_file("%s/%s.json" % (ctx.label.name, step))
        for step in ctx.attr.steps
    }
    args = ctx.actions.args()
    args.add_all(["-m", "axl.emit._bazel_actions", "manifests"])
    args.add("--workflow", ctx.attr.workflow)
    args.add("--shape", ctx.attr.shape)
    args.add("--regenerate", _regenerate_command(ctx))
    args.add("--out", "%s/%s/%s" % (ctx.bin_dir.path, ctx.label.package, ctx.label.name))
    inputs = list(ctx.files.srcs)
    if ctx.file.params:
        args.add("--params", ctx.file.params)
        inputs.append(ctx.file.params)
    if ctx.file.lockfile:
        args.add("--lockfile", ctx.file.lockfile)
        inputs.append(ctx.file.lockfile)
    args.add_all(ctx.attr.steps, before_each = "--step")
    args.add_all(ctx.files.srcs, before_each = "--src")
    ctx.actions.run(
        executable = ctx.executable._python,
        arguments = [args],
        inputs = inputs,
        outputs = manifests.values(),
        use_default_shell_env = True,
        mnemonic = "AxlManifests",
        progress_message = "axl: writing the step manifests of %s" % ctx.label.package,
    )
    return [
        DefaultInfo(files = depset(manifests.values())),
        AxlManifestsInfo(manifests = manifests, srcs = depset(ctx.files.srcs)),
    ]

axl_manifests = rule(
    implementation = _manifests_impl,
    doc = "Writes each step's IO manifest (code, options and environment key parts) from the " +
          "workflow's sources; refuses to when the workflow's shape no longer matches `shape`.",
    attrs = {
        "workflow": attr.string(mandatory = True, doc = "module:Class, from the workspace root."),
        "params": attr.label(allow_single_file = True, doc = "The params YAML file."),
        "srcs": attr.label_list(allow_files = True, doc = "The project sources the import reads."),
        "lockfile": attr.label(allow_single_file = True, doc = "uv.lock (or requirements)."),
        "steps": attr.string_list(mandatory = True, doc = "The workflow's node names."),
        "shape": attr.string(mandatory = True, doc = "Digest of the generated step targets."),
        "_python": _PYTHON,
    },
)

def _step_impl(ctx):
    name = ctx.label.name
    info = ctx.attr.manifests[AxlManifestsInfo]
    if name not in info.manifests:
        fail("%s is not a step of %s" % (name, ctx.attr.manifests.label))
    manifest = info.manifests[name]
    outputs = {path: ctx.actions.declare_file("%s/%s" % (name, path)) for path in ctx.attr.outputs}
    record = ctx.actions.declare_file("%s/%s" % (name, _RECORD))
    inputs = [manifest]
    for upstream, wanted in ctx.attr.inputs.items():
        files = upstream[AxlStepInfo].files
        for path in wanted.split(" "):
            if path not in files:
                fail("%s reads %s from %s, which does not write it" % (name, path, upstream.label))
            inputs.append(files[path])
    srcs = info.srcs.to_list()

    # The sources are in the sandbox so the step can import the workflow, but they are not what
    # the step depends on: its manifest carries the digest of the code it runs (checked by the
    # runner), so an edit elsewhere in the same file does not rerun it.
    unused = ctx.actions.declare_file("%s.unused-inputs" % name)
    ctx.actions.write(unused, "".join([f.path + "\n" for f in srcs]))
    args = ctx.actions.args()
    args.add_all(["-m", "axl.emit._bazel_actions", "step"])
    args.add("--manifest", manifest)
    args.add("--step", name)
    args.add("--inputs", "%s/%s" % (ctx.bin_dir.path, ctx.label.package))
    args.add("--outputs", record.dirname)
    args.add_all(srcs, before_each = "--src")

    # Data files (axl.File) are real inputs: Bazel reruns the step when one changes.
    args.add_all(ctx.files.data, before_each = "--data")
    ctx.actions.run(
        executable = ctx.executable._python,
        arguments = [args],
        inputs = inputs + srcs + ctx.files.data + [unused],
        outputs = outputs.values() + [record],
        unused_inputs_list = unused,
        use_default_shell_env = True,
        mnemonic = "AxlStep",
        progress_message = "axl: running step %s" % ctx.label,
    )
    files = dict(outputs)
    files[_RECORD] = record
    return [
        DefaultInfo(files = depset(outputs.values() + [record])),
        AxlStepInfo(files = files),
    ]

axl_step = rule(
    implementation = _step_impl,
    doc = "One workflow step, run by `python -m axl.runtime` on its manifest.",
    attrs = {
        "manifests": attr.label(
            mandatory = True,
            providers = [AxlManifestsInfo],
            doc = "The workflow's axl_manifests target.",
        ),
        "inputs": attr.label_keyed_string_dict(
            providers = [AxlStepInfo],
            doc = "Upstream step -> the files of its folder this step reads, space-separated.",
        ),
        "outputs": attr.string_list(doc = "The files the step writes, under a folder named after it."),
        "data": attr.label_list(
            allow_files = True,
            doc = "Workspace files the step reads (axl.File): inputs of its action.",
        ),
        "_python": _PYTHON,
    },
)

def axl_workflow(name, workflow, params = None, deps = None, visibility = None, tags = None):
    """An axl workflow target, read by both axl and Bazel.

    For axl it is the workflow (`axl build //pkg:name`). For Bazel it is an alias of every step
    output in the package `axl bazel //pkg:name` generates, and it exports the package's Python
    files and the params file so the generated steps may read them.

    Args:
      name: The target's name.
      workflow: "file.py:Class" (relative to this package) or "module:Class".
      params: A params YAML file in this package.
      deps: Targets axl builds first (ignored by Bazel).
      visibility: The alias's visibility.
      tags: The alias's tags.
    """
    # `workflow` and `deps` are axl's: Bazel learns the steps from the generated package.
    files = native.glob(["**/*.py"])
    if params:
        files.append(params)
    native.exports_files(files, visibility = ["//visibility:public"])
    package = native.package_name()
    generated = "%s/%s.bazel" % (package, name) if package else "%s.bazel" % name
    native.alias(
        name = name,
        actual = "//%s:axl.all" % generated,
        visibility = visibility,
        tags = tags,
    )

# Targets built by `axl build` only. Declared here so that a BUILD file holding them still loads
# in Bazel (axl reads the same file); they declare nothing.

def axl_image(name, **kwargs):
    """An axl container image target (built by axl, not Bazel)."""
    _unused = (name, kwargs)

def argo_workflow(name, **kwargs):
    """An axl Argo Workflows target (built by axl, not Bazel)."""
    _unused = (name, kwargs)

def dagster_job(name, **kwargs):
    """An axl Dagster job target (built by axl, not Bazel)."""
    _unused = (name, kwargs)
