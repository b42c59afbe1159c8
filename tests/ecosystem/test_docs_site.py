"""The documentation site: antsibull-docs renders every module from the collection, Sphinx adds the guides.

The build runs with warnings as errors, so a broken RST fragment, a bad cross-reference or a guide missing from
the site fails here.
"""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SITE = REPO / "build" / "docs" / "html"


def test_site_builds_with_every_module_and_guide(run_tool, tool_env):
    run_tool(["bash", str(REPO / "scripts" / "build_docs.sh")], cwd=REPO, env=tool_env(), timeout=600)
    modules = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
    assert modules, "no modules found"
    for module in modules:
        page = SITE / "collections" / "ksef" / "credentials" / f"{module}_module.html"
        assert page.is_file(), f"no page for ksef.credentials.{module}"
        html = page.read_text()
        # every documented option and the examples reach the page
        assert "Parameters" in html and "Examples" in html and "Return Values" in html, module
    for guide in sorted((REPO / "docs").glob("*.md")):
        page = SITE / "guides" / f"{guide.stem}.html"
        assert page.is_file(), f"guide {guide.name} is not in the site"
    index = (SITE / "index.html").read_text()
    assert re.search(r'href="guides/getting-started\.html"', index)
    assert re.search(r'href="collections/ksef/credentials/index\.html"', index)
