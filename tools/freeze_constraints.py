"""Write constraints.txt: the exact versions of every package in the book's environment.

    .venv/bin/python tools/freeze_constraints.py

`make setup` installs with `-c constraints.txt`, so CI and a fresh machine get the versions the
tests passed with, while pyproject.toml keeps ranges for those who install by hand. PyTorch is
left out: pyproject.toml pins it, and its build (CPU or CUDA) differs by machine.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = """\
# The versions the book's tests passed with (`make setup` installs with these constraints).
# Written by tools/freeze_constraints.py from a working environment; pyproject.toml has the ranges.
"""


def main():
    frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    lines = sorted((line for line in frozen if "==" in line and not line.lower().startswith("torch==")),
                   key=str.lower)
    (ROOT / "constraints.txt").write_text(HEADER + "\n".join(lines) + "\n")
    print(f"wrote constraints.txt with {len(lines)} packages")


if __name__ == "__main__":
    main()
