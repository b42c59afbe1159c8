"""Changelog fragments pass antsibull-changelog's lint, and the next release's CHANGELOG.rst carries each of them."""
from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_fragments_lint_and_render_into_the_next_changelog(run_tool, tool_env):
    run_tool(["bash", str(REPO / "scripts" / "changelog_preview.sh")], cwd=REPO, env=tool_env(), timeout=300)
    changelog = (REPO / "build" / "changelog" / "CHANGELOG.rst").read_text()
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    assert f"v{version}" in changelog
    fragments = sorted((REPO / "changelogs" / "fragments").glob("*.yml"))
    assert fragments
    for fragment in fragments:
        for section, entries in yaml.safe_load(fragment.read_text()).items():
            if section == "trivial":  # trivial entries are deliberately left out of the changelog
                continue
            for entry in entries:
                # antsibull-changelog may rewrap lines; compare the words
                assert " ".join(entry.split()[:8]) in " ".join(changelog.split()), (fragment.name, entry)
