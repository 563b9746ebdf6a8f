"""The GitHub Actions workflows, linted the way ``make lint`` lints them (#23).

They can only be linted here, not run, so these tests drive the real target, ``make
lint-workflows`` (zizmor offline + GitHub's workflow schema), on the real workflows and on
temporary copies broken on purpose; the lint must pass on the first and fail on each of the others.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REPO

WORKFLOWS = REPO / ".github" / "workflows"
CHECKOUT_PIN = "actions/checkout@34e114876b0b11c390a56381ad16ebd13914f8d5  # v4.3.1"
# `uses: owner/repo@<40 hex>  # vX.Y.Z`: a full commit SHA, and the tag it was taken from.
PINNED = re.compile(r"uses: [\w.-]+/[\w./-]+@[0-9a-f]{40}  # v\d+\.\d+\.\d+$")


def _lint(workflows: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-s", "lint-workflows", f"WORKFLOWS={workflows}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


def test_lint_passes_on_the_real_workflows() -> None:
    proc = _lint(WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout
    assert "ok -- validation done" in proc.stdout


@pytest.mark.parametrize(
    ("real", "broken", "finding"),
    [
        pytest.param(CHECKOUT_PIN, "actions/checkout@v4", "unpinned-uses", id="unpinned-action"),
        pytest.param(
            "enable-cache: false", "enable-cache: true", "cache-poisoning", id="release-cache"
        ),
        # A misspelt key zizmor does not look at is caught by the workflow schema.
        pytest.param(
            "    needs: build\n", "    need: build\n", "'need' was unexpected", id="schema"
        ),
    ],
)
def test_lint_fails_on_a_broken_copy_of_the_release_workflow(
    tmp_path: Path, real: str, broken: str, finding: str
) -> None:
    copy = tmp_path / ".github" / "workflows"  # where zizmor collects workflows
    shutil.copytree(WORKFLOWS, copy)
    release = copy / "release.yml"
    text = release.read_text()
    assert real in text
    release.write_text(text.replace(real, broken, 1))
    proc = _lint(copy)
    assert proc.returncode != 0, proc.stdout
    assert finding in proc.stdout
    assert "release.yml" in proc.stdout


def test_every_action_is_pinned_to_a_sha_with_its_tag_in_a_comment() -> None:
    """The comment is how the README's bump procedure finds the version; zizmor checks only the
    SHA offline."""
    uses = [
        line.strip().removeprefix("- ")
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for line in path.read_text().splitlines()
        if line.strip().removeprefix("- ").startswith("uses: ")
    ]
    assert len(uses) >= 6, uses
    assert [u for u in uses if not PINNED.fullmatch(u)] == []


def test_only_the_publish_job_holds_the_publishing_identity() -> None:
    """`id-token: write` on the job that runs no project code, and nowhere else."""
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow = yaml.safe_load(path.read_text())
        assert workflow["permissions"] == {}, path.name
        for name, job in workflow["jobs"].items():
            token = job["permissions"].get("id-token")
            if (path.name, name) == ("release.yml", "publish"):
                assert job["permissions"] == {"id-token": "write"}
                assert all("run" not in step for step in job["steps"])
            else:
                assert token is None, (path.name, name)
                assert job["permissions"] == {"contents": "read"}, (path.name, name)
