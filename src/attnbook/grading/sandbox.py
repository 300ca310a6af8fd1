"""Student kernels in a sandbox: bubblewrap, with limits.

    python -m attnbook.grading.sandbox check
        says whether this machine can run a student's kernel in a sandbox
    python -m attnbook.grading.sandbox kernel --course DIR [limits] \\
            -- PYTHON -m ipykernel_launcher -f CONNECTION_FILE
        the command of the course's kernel spec (written by ``course init``)

What a sandboxed kernel sees: the system's software and the Python
environment, read-only; the folder of the notebook being graded (that
student's own), read-only; a private, empty ``/tmp`` of limited size,
the only place it can write; nothing else. The course folder (the
gradebook, source/, the other students' folders), home folders and the
rest of the file system are not there at all. It runs in its own PID,
IPC and host-name namespaces, with no capabilities, and with limits on
memory, processes, file size and CPU time. When root starts it, the
kernel runs as a user id of its own (:func:`sandbox_user`), one no
account or other sandbox has: Linux ignores a process limit for root,
and counts it per user, so kernels graded at the same time must not
share a user.

Each kernel's start and end is appended to ``DIR/sandbox-log.jsonl``,
which ``course report`` reads to explain a kernel that died.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ENTER = Path(__file__).with_name("enter.py")
LOG_NAME = "sandbox-log.jsonl"
KERNEL_NAME = "attnbook-sandbox"
#: Where the kernel finds its connection file inside the sandbox.
CONNECTION = "/run/kernel/connection.json"
#: Read-only in every sandbox (those that exist): the system's software.
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
          "/etc")
#: Passed on to the kernel; every other variable is dropped.
KEEP_ENV = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "OMP_NUM_THREADS",
            "OMP_WAIT_POLICY", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
            "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "PYTHONHASHSEED",
            "PYDEVD_DISABLE_FILE_VALIDATION", "MPLBACKEND")
MiB = 1 << 20
GiB = 1 << 30


@dataclass
class Limits:
    """What one student's kernel (and everything it starts) may use."""

    memory: int = 2 * GiB       # address space of each process
    processes: int = 256        # processes and threads, all together
    file_size: int = 256 * MiB  # the largest file it may write
    tmp_size: int = 512 * MiB   # its private /tmp, all files together
    cpu: int = 600              # CPU seconds of each process

    def words(self) -> dict:
        """The limits as a student reads them in a reason."""
        return {"memory": size_words(self.memory),
                "processes": f"{self.processes} processes and threads",
                "file_size": size_words(self.file_size),
                "tmp_size": size_words(self.tmp_size),
                "cpu": f"{self.cpu} s of CPU time"}


def size_words(n: int) -> str:
    if n % GiB == 0:
        return f"{n // GiB} GB"
    return f"{n // MiB} MB"


def size_arg(n: int) -> str:
    """``2G`` for 2 GiB, ``256M`` for 256 MiB: what ``parse_size`` reads."""
    for unit, size in (("G", GiB), ("M", MiB)):
        if n % size == 0:
            return f"{n // size}{unit}"
    return str(n)


def parse_size(text: str) -> int:
    """``2G``, ``512M``, ``100K`` or a number of bytes."""
    text = text.strip().upper().removesuffix("B")
    units = {"K": 1 << 10, "M": MiB, "G": GiB}
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


# ----------------------------------------------------------------- probing

def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def bwrap_version() -> str:
    out = subprocess.run([bwrap_path(), "--version"], capture_output=True,
                         text=True, timeout=10)
    return out.stdout.strip() or "bubblewrap"


def probe() -> tuple[bool, str]:
    """Can a kernel be sandboxed here? ``(True, what)`` or ``(False, why)``.

    Starts a real sandbox, built as a kernel's is, that runs this Python
    and tries to write outside its /tmp.
    """
    if sys.platform != "linux":
        return False, (f"bubblewrap needs Linux; this is {sys.platform}. "
                       "Grade on Linux, or in one container per student")
    if bwrap_path() is None:
        return False, ("bubblewrap is not installed (Debian and Ubuntu: "
                       "apt-get install bubblewrap; Fedora: dnf install "
                       "bubblewrap)")
    code = ("import os\n"
            "try:\n"
            "    open(os.path.join(os.getcwd(), '.probe'), 'w')\n"
            "except OSError:\n"
            "    open('/tmp/ok', 'w').write('ok')\n"
            "    print('sealed')\n")
    with tempfile.TemporaryDirectory(prefix="attnbook-probe-") as tmp:
        here = Path(tmp)
        argv, fds = bwrap_command(here, here, None, Limits(),
                                  [sys.executable, "-c", code])
        try:
            out = subprocess.run(argv, pass_fds=fds, capture_output=True,
                                 text=True, timeout=60, cwd=here)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"bubblewrap could not start: {exc}"
    if out.stdout.strip() != "sealed":
        why = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return False, (f"bubblewrap is installed but cannot make a sandbox "
                       f"here ({why}); user namespaces may be disabled")
    who = "as a user of its own, " if os.geteuid() == 0 else ""
    return True, f"{bwrap_version()}, {who}works on this machine"


# ------------------------------------------------------- the bwrap command

def software_paths() -> list[str]:
    """Folders this Python needs: its prefixes, its sys.path, attnbook."""
    import attnbook

    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix,
             sys.base_exec_prefix, os.path.dirname(sys.executable),
             str(Path(attnbook.__file__).resolve().parents[1])}
    cwd = os.getcwd()
    paths |= {p for p in sys.path if p and p != cwd and os.path.isdir(p)}
    paths |= {os.path.realpath(p) for p in list(paths)}
    paths.add(os.path.dirname(os.path.realpath(sys.executable)))
    paths = {p for p in paths if os.path.isdir(p)}
    return sorted(p for p in paths
                  if not any(inside(p, q) and p != q for q in paths))


def inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _dirs_for(path: str, made: set[str]) -> list[str]:
    """``--dir`` arguments for the missing parents of ``path``, mode 755."""
    args = []
    parts = Path(path).parts
    for i in range(2, len(parts)):
        parent = str(Path(*parts[:i]))
        if parent not in made:
            made.add(parent)
            args += ["--perms", "0755", "--dir", parent]
    return args


def bwrap_command(course: Path, notebook_dir: Path, connection: str | None,
                  limits: Limits, command: list[str],
                  extra_read_only: list[str] = ()) -> tuple[list, list]:
    """The argv that runs ``command`` in a sandbox, and the fds it needs.

    ``connection`` (the kernel's connection file) is copied in at
    :data:`CONNECTION`; ``notebook_dir`` is the only course folder shown.
    """
    root = os.geteuid() == 0
    argv = [bwrap_path(), "--die-with-parent", "--unshare-pid",
            "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--hostname", "grading"]
    if not root:
        argv += ["--unshare-user", "--disable-userns"]
    made: set[str] = set()
    for path in SYSTEM:
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv += ["--ro-bind", path, path]
        made.add(path)
    argv += ["--dev", "/dev", "--proc", "/proc",
             "--perms", "1777", "--size", str(limits.tmp_size),
             "--tmpfs", "/tmp",
             "--perms", "1777", "--size", str(64 * MiB),
             "--tmpfs", "/dev/shm"]
    made |= {"/dev", "/proc", "/tmp"}
    for path in [*software_paths(), *extra_read_only]:
        path = os.path.abspath(path)
        if any(inside(path, p) for p in SYSTEM if p in made):
            continue
        argv += _dirs_for(path, made) + ["--ro-bind", path, path]
        made.add(path)
    course_path, nb_path = str(course.resolve()), str(notebook_dir.resolve())
    if any(inside(course_path, p) for p in made):
        argv += ["--tmpfs", course_path]  # the course under the software
    argv += _dirs_for(nb_path, made) + ["--ro-bind", nb_path, nb_path]
    fds = []
    if connection is not None:
        fd = os.open(connection, os.O_RDONLY)
        fds.append(fd)
        argv += ["--perms", "0755", "--dir", os.path.dirname(CONNECTION),
                 "--perms", "0444", "--ro-bind-data", str(fd), CONNECTION]
    argv += ["--remount-ro", "/", "--chdir", nb_path, "--clearenv"]
    path = os.pathsep.join([os.path.dirname(sys.executable),
                            "/usr/local/bin", "/usr/bin", "/bin"])
    # USER: the kernel's user has no account that would name it
    env = {"PATH": path, "HOME": "/tmp", "TMPDIR": "/tmp",
           "USER": "student", "LOGNAME": "student",
           "MPLCONFIGDIR": "/tmp/matplotlib",
           "ATTNBOOK_SANDBOX": "bubblewrap",
           # the kernel's parent is the sandbox's first process, pid 1
           "JPY_PARENT_PID": "1"}
    env.update({k: os.environ[k] for k in KEEP_ENV if k in os.environ})
    for key, value in env.items():
        argv += ["--setenv", key, value]
    enter = [sys.executable, "-I", str(ENTER),
             "--memory", str(limits.memory),
             "--processes", str(limits.processes),
             "--file-size", str(limits.file_size), "--cpu", str(limits.cpu)]
    if root:  # keep only what enter.py needs to give up root
        user = str(sandbox_user())
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        enter += ["--uid", user, "--gid", user]
    return argv + ["--", *enter, "--", *command], fds


#: The first of the user ids that sandboxes started by root run as: a
#: range that systemd's table of user ids leaves unused on every system
#: (1879048192 to 2147483646), above the ranges of accounts and
#: containers.
USER_BASE = 1_879_048_192


def sandbox_user(pid: int | None = None) -> int:
    """The user id of the sandbox that process ``pid`` starts.

    The id of a sandbox is the base plus the pid of the process that
    starts it (by default, this one). Two processes that live at the
    same time never share a pid, so sandboxes graded at the same time
    never share a user, nor the process limit Linux counts per user.
    Linux's pids stay below 2**22, so the ids stay in the unused range.
    """
    return USER_BASE + (os.getpid() if pid is None else pid)


# ----------------------------------------------------------------- the log

def where(course: Path, folder: Path) -> tuple[str, str]:
    """(student, assignment) of a notebook folder inside the course."""
    try:
        parts = folder.resolve().relative_to(course.resolve()).parts
    except ValueError:
        return "?", "?"
    if len(parts) >= 3 and parts[0] in ("autograded", "submitted"):
        return parts[1], parts[2]
    return "?", "?"


def log_event(course: Path, record: dict) -> None:
    record = {"time": round(time.time(), 3), **record}
    with open(course / LOG_NAME, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def read_log(course: Path) -> list[dict]:
    try:
        text = (course / LOG_NAME).read_text(encoding="utf-8")
    except OSError:
        return []
    records = []
    for line in text.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def ending_words(code: int, limits: Limits) -> str:
    """What a kernel's exit status means, for a student."""
    words = limits.words()
    if code == 0:
        return "ended normally"
    sig = code - 128 if code > 128 else (-code if code < 0 else 0)
    if sig == signal.SIGXCPU:
        return f"was stopped: it used more than {words['cpu']}"
    if sig == signal.SIGKILL:
        return ("was killed (out of memory, or stopped by nbgrader after "
                "it stopped answering)")
    if sig == signal.SIGSEGV:
        return "crashed (segmentation fault)"
    if sig == signal.SIGABRT:
        return (f"crashed (aborted; out of memory? The limit is "
                f"{words['memory']})")
    if sig:
        return f"was ended by signal {signal.Signals(sig).name}"
    return f"exited with code {code} (the notebook's code ended Python)"


# -------------------------------------------------------------- the kernel

def run_kernel(course: Path, limits: Limits, command: list[str],
               without_sandbox: bool = False,
               extra_read_only: list[str] = ()) -> int:
    """Start the kernel ``command`` (in the sandbox) and wait for it."""
    folder = Path.cwd()
    student, assignment = where(course, folder)
    base = {"student": student, "assignment": assignment,
            "folder": str(folder), "pid": os.getpid(),
            "limits": asdict(limits)}
    connection = None
    if "-f" in command:
        i = command.index("-f")
        connection, command = command[i + 1], list(command)
        command[i + 1] = CONNECTION
    ok = bwrap_path() is not None and sys.platform == "linux"
    if ok and without_sandbox:  # a bubblewrap that cannot work here
        ok = probe()[0]
    if ok:
        argv, fds = bwrap_command(course, folder, connection, limits,
                                  command, extra_read_only)
        base["sandbox"] = "bubblewrap"
    elif without_sandbox:
        if connection is not None:
            command[command.index(CONNECTION)] = connection
        argv, fds = [sys.executable, "-I", str(ENTER),
                     "--memory", str(limits.memory),
                     "--processes", str(limits.processes),
                     "--file-size", str(limits.file_size),
                     "--cpu", str(limits.cpu), "--", *command], []
        base["sandbox"] = "none"
    else:
        _, why = probe()
        message = (f"attnbook: no sandbox for student code: {why}. "
                   "Nothing was run. To grade without one (the student's "
                   "code then runs as you, with your files), run `course "
                   "init --without-sandbox` on the course folder.")
        print(message, file=sys.stderr)
        log_event(course, {**base, "event": "refused", "sandbox": "none",
                           "reason": message})
        return 3
    status_r, status_w = os.pipe()
    if base["sandbox"] == "bubblewrap":
        argv.insert(1, "--json-status-fd")
        argv.insert(2, str(status_w))
        fds.append(status_w)
    log_event(course, {**base, "event": "start"})
    stopping = []
    # nbgrader interrupts a cell with SIGINT to the kernel's whole process
    # group: this process and bubblewrap ignore it (bubblewrap would die),
    # the kernel sets its own handler while it runs a cell.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    proc = subprocess.Popen(argv, pass_fds=fds)
    for fd in {*fds, status_w}:
        os.close(fd)
    with os.fdopen(status_r, encoding="utf-8") as f:
        status = f.read()
    code = proc.wait()
    if base["sandbox"] == "bubblewrap" and "child-pid" not in status:
        ending = "could not start: bubblewrap failed to make the sandbox"
    elif stopping:
        ending = "was shut down by nbgrader"
    else:
        ending = ending_words(code, limits)
    log_event(course, {**base, "event": "end", "exit": code,
                       "ending": ending})
    return code if code >= 0 else 128 - code


# --------------------------------------------------------------------- CLI

def kernel_spec(course: Path, limits: Limits,
                without_sandbox: bool = False) -> dict:
    """The kernel spec that ``course init`` writes into the course."""
    argv = [sys.executable, "-m", "attnbook.grading.sandbox", "kernel",
            "--course", str(course.resolve()),
            "--memory", size_arg(limits.memory),
            "--processes", str(limits.processes),
            "--file-size", size_arg(limits.file_size),
            "--tmp-size", size_arg(limits.tmp_size),
            "--cpu", str(limits.cpu)]
    if without_sandbox:
        argv.append("--without-sandbox")
    argv += ["--", sys.executable, "-m", "ipykernel_launcher",
             "-f", "{connection_file}"]
    name = "no sandbox" if without_sandbox else "sandbox"
    return {"argv": argv, "language": "python",
            "display_name": f"Python 3 (attnbook grading, {name})",
            "metadata": {"debugger": False}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m attnbook.grading.sandbox",
        description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="can this machine sandbox a kernel?")
    p = sub.add_parser("kernel", help="start a kernel in the sandbox")
    p.add_argument("--course", type=Path, required=True)
    p.add_argument("--memory", type=parse_size, default=Limits.memory)
    p.add_argument("--processes", type=int, default=Limits.processes)
    p.add_argument("--file-size", type=parse_size,
                   default=Limits.file_size)
    p.add_argument("--tmp-size", type=parse_size, default=Limits.tmp_size)
    p.add_argument("--cpu", type=int, default=Limits.cpu)
    p.add_argument("--read-only", action="append", default=[],
                   help="another folder the kernel may read")
    p.add_argument("--without-sandbox", action="store_true",
                   help="if no sandbox works here, run the kernel as you")
    p.add_argument("kernel_command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "check":
        ok, what = probe()
        print(("sandbox: " if ok else "NO SANDBOX: ") + what)
        return 0 if ok else 1
    command = args.kernel_command
    if command and command[0] == "--":
        command = command[1:]
    limits = Limits(args.memory, args.processes, args.file_size,
                    args.tmp_size, args.cpu)
    return run_kernel(args.course, limits, command, args.without_sandbox,
                      args.read_only)


if __name__ == "__main__":
    sys.exit(main())
