"""The repository's promises: the README's commands are the ones CI runs; the engine has no UI."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```(?:bash|sh)\n(.+?)\n```", text)[:2]


def test_readme_opens_with_an_app_command_and_a_test_command():
    app, tests = readme_commands()
    assert "streamlit run app.py" in app and "setup.sh" in app
    assert "pytest" in tests and "setup.sh --dev" in tests


def test_ci_runs_the_readme_test_command():
    _, tests = readme_commands()
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests.strip() in ci


def test_engine_never_imports_streamlit():
    offenders = [
        p.name
        for p in (ROOT / "vae").glob("*.py")
        if re.search(r"^\s*(import|from)\s+streamlit", p.read_text(), re.M)
    ]
    assert offenders == []


def test_readme_module_table_lists_every_engine_module():
    text = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"^\| `(vae/\w+\.py)` \|", text, re.M))
    modules = {
        f"vae/{p.name}"
        for p in (ROOT / "vae").glob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    }
    assert listed == modules
