"""Help is instant: ``nucleoforge --help`` and every ``nucleoforge <command> --help`` import no torch.

(Times are measured in bench/startup.py; this checks the behaviour behind them.)
"""

from __future__ import annotations

import subprocess
import sys

_CODE = """
import sys
from nucleoforge.cli import main
from nucleoforge.cli.app import app
import typer.main
group = typer.main.get_command(app)
paths = [[]]
for name, cmd in group.commands.items():
    paths.append([name])
    for sub in getattr(cmd, "commands", {}):
        paths.append([name, sub])
for path in paths:
    sys.argv = ["nucleoforge", *path, "--help"]
    try:
        main()
    except SystemExit as exc:
        assert exc.code in (0, None), (path, exc.code)
heavy = sorted(m for m in ("torch", "transformers", "numpy", "pysam") if m in sys.modules)
print(len(paths), heavy, file=sys.stderr)
assert not heavy, heavy
"""


def test_every_help_page_imports_no_torch():
    done = subprocess.run([sys.executable, "-c", _CODE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    count = int(done.stderr.strip().splitlines()[-1].split()[0])
    assert count > 20  # the app, every command and every sub-command
