"""Print the pip option that installs PyTorch's CPU build, where PyPI would give the CUDA one.

On Linux, PyPI's torch wheel is the CUDA build (several GB with its NVIDIA libraries). On a Linux
machine with no NVIDIA GPU (no `nvidia-smi`), this prints
``--extra-index-url https://download.pytorch.org/whl/cpu`` when that index answers, so pip takes
the CPU build (about 200 MB). Elsewhere (macOS and Windows, whose PyPI wheels are CPU builds; a
machine with a GPU; no network, where pip uses what it already has) it prints nothing.
"""

import shutil
import sys
import urllib.request

CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def option() -> str:
    if not sys.platform.startswith("linux") or shutil.which("nvidia-smi"):
        return ""
    try:
        urllib.request.urlopen(CPU_INDEX + "/torch/", timeout=5).close()
    except Exception:  # noqa: BLE001  no network, or the index is blocked: use what pip has
        return ""
    return f"--extra-index-url {CPU_INDEX}"


if __name__ == "__main__":
    print(option())
