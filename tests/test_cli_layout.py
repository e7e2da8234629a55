"""The command line's layout: ``cli.py`` registers the commands of ``automl.commands``; loading it loads no model
library (``fit`` starts the trial workers' fork server before it imports them, so the two imports overlap), and
no library module imports the commands."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_loading_the_command_line_loads_no_model_library():
    code = ("import sys, cli; "
            "print(sorted(m for m in ('sklearn', 'lightgbm', 'pandas', 'scipy', 'duckdb') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def test_every_command_is_registered():
    from cli import main
    assert sorted(main.commands) == ["drift", "evaluate", "fit", "kb", "predict", "report", "retune"]
    assert sorted(main.commands["kb"].commands) == ["check", "compact", "export", "import", "info", "refresh",
                                                    "report", "similar"]


def test_no_library_module_imports_the_commands():
    for path in (REPO / "automl").rglob("*.py"):
        if "commands" in path.relative_to(REPO / "automl").parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n == "automl.commands" or n.startswith("automl.commands.") or n == "commands"
                           for n in names), path
