"""The grading sandbox itself, without nbgrader: what a student's code can and cannot do.

Each test runs real Python in the very sandbox a student's kernel gets (the same bubblewrap
command, the same limits, smaller where a test must stay fast), and a fork loop for real,
bounded by the test's own numbers so that it cannot take the machine down.
"""

import json
import os
import pwd
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from attnbook.grading import sandbox
from attnbook.grading.course import limit_reason

HAVE_BWRAP = sandbox.bwrap_path() is not None
if not HAVE_BWRAP and not os.environ.get("CI"):
    pytest.skip("bubblewrap is not installed (apt-get install bubblewrap)", allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def course(tmp_path):
    """A course folder with a gradebook, a classmate's submission and the notebook folder being graded."""
    (tmp_path / "gradebook.db").write_text("grades")
    classmate = tmp_path / "submitted" / "bob" / "ch01"
    classmate.mkdir(parents=True)
    (classmate / "nb.ipynb").write_text("bob's answers")
    mine = tmp_path / "autograded" / "alice" / "ch01"
    mine.mkdir(parents=True)
    (mine / "nb.ipynb").write_text("alice's answers")
    return tmp_path


def run(course, code, limits=sandbox.Limits(), timeout=60, env=None):
    """Run ``code`` with this Python in the sandbox of alice's notebook folder; return (code, out, err)."""
    folder = course / "autograded" / "alice" / "ch01"
    argv, fds = sandbox.bwrap_command(course, folder, None, limits,
                                      [sys.executable, "-c", textwrap.dedent(code)])
    out = subprocess.run(argv, pass_fds=fds, capture_output=True, text=True, timeout=timeout,
                         cwd=folder, env=env)
    return out.returncode, out.stdout, out.stderr


def test_the_probe_finds_a_working_sandbox():
    ok, what = sandbox.probe()
    assert ok, what
    assert "bubblewrap" in what


HOME_FILE = Path.home() / ".attnbook-sandbox-test"


def test_the_kernel_sees_only_its_own_folder_read_only_and_a_private_tmp(course):
    HOME_FILE.write_text("the instructor's")
    code, out, err = run(course, f"""
        import json, os
        seen = {{}}
        def attempt(name, action):
            try:
                action()
                seen[name] = "done"
            except OSError as exc:
                seen[name] = type(exc).__name__
        attempt("read own", lambda: open("nb.ipynb").read())
        attempt("write own", lambda: open("nb.ipynb", "w"))
        attempt("gradebook", lambda: open({str(course / "gradebook.db")!r}))
        attempt("classmate", lambda: open({str(course / "submitted/bob/ch01/nb.ipynb")!r}))
        attempt("home", lambda: open({str(HOME_FILE)!r}))
        attempt("book", lambda: os.listdir({str(ROOT / "solutions")!r}))
        attempt("etc", lambda: open("/etc/passwd", "a"))
        attempt("tmp", lambda: open("/tmp/scratch", "w").write("ok"))
        seen["processes"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        print(json.dumps(seen))
    """)
    HOME_FILE.unlink()
    assert code == 0, err
    seen = json.loads(out)
    assert seen["read own"] == "done" and seen["tmp"] == "done"
    assert seen["write own"] == "OSError"  # read-only file system
    for hidden in ("gradebook", "classmate", "home", "book"):
        assert seen[hidden] == "FileNotFoundError", (hidden, seen)
    assert seen["etc"] in ("OSError", "PermissionError")
    assert seen["processes"] == [1, 2]  # its own PID namespace: the sandbox and this process


def test_the_instructors_environment_does_not_reach_the_kernel(course):
    code, out, _ = run(course, "import os; print(os.environ.get('SECRET_TOKEN'), os.environ['HOME'])",
                       env=dict(os.environ, SECRET_TOKEN="s3cr3t"))
    assert out.split() == ["None", "/tmp"]


def test_a_kernel_started_by_root_runs_as_a_user_of_its_own_without_capabilities(course):
    code, out, err = run(course, """
        import getpass, os
        status = open("/proc/self/status").read()
        caps = [l.split()[1] for l in status.splitlines() if l.startswith(("CapEff", "CapPrm"))]
        print(os.getuid(), os.getgid(), getpass.getuser(), *caps)
    """)
    uid, gid, name, *caps = out.split()
    assert caps == ["0000000000000000"] * 2, err
    if os.geteuid() == 0:
        assert int(uid) == int(gid) == sandbox.sandbox_user() == sandbox.USER_BASE + os.getpid()
        with pytest.raises(KeyError):
            pwd.getpwuid(int(uid))  # no account has it
        assert name == "student"


def test_sandboxes_started_at_the_same_time_have_users_and_process_limits_of_their_own(course):
    """One sandbox holds 150 processes; another, started beside it, still forks up to its own limit."""
    if os.geteuid() != 0:
        pytest.skip("for an ordinary user each sandbox has a user namespace of its own")
    folder = course / "autograded" / "alice" / "ch01"
    code = (f"import subprocess, sys\nsys.path.insert(0, {str(Path(sandbox.__file__).parents[2])!r})\n"
            "from pathlib import Path\nfrom attnbook.grading import sandbox\n"
            f"here = Path({str(folder)!r})\n"
            "argv, fds = sandbox.bwrap_command(Path({course!r}), here, None, sandbox.Limits(processes=200), "
            "[sys.executable, '-c', {hold!r}])\n"
            "print(sandbox.sandbox_user(), flush=True)\n"
            "subprocess.run(argv, pass_fds=fds, timeout=60)\n").format(course=str(course), hold=HOLD)
    other = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    try:
        other_user = int(other.stdout.readline())
        assert other.stdout.readline().strip() == "holding 150", "the other sandbox did not start"
        code, out, err = run(course, FORKS.format(n=1000, sleep=20), limits=sandbox.Limits(processes=200))
    finally:
        other.stdin.close()
        other.wait(timeout=60)
    assert other_user != sandbox.sandbox_user()
    assert 190 < json.loads(out)["forked"] < 200, (out, err)


def test_sandbox_users_follow_the_starting_process():
    assert sandbox.sandbox_user(1234) == sandbox.USER_BASE + 1234
    assert sandbox.sandbox_user(1234) != sandbox.sandbox_user(1235)
    with open("/proc/sys/kernel/pid_max") as f:
        assert sandbox.sandbox_user(int(f.read())) <= 2_147_483_646  # in the range no system uses


def test_rlimit_nproc_alone_does_not_hold_for_root():
    """Why the sandbox gives up root: the kernel never applies RLIMIT_NPROC to root."""
    if os.geteuid() != 0:
        pytest.skip("this shows what happens as root")
    code = FORKS.format(n=300, sleep=10)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NPROC, (100, 100)))
    assert json.loads(out.stdout)["forked"] == 300, out.stderr  # a limit of 100, and 300 forks


# Forks 150 children that sleep, says so, and holds them until its stdin closes.
HOLD = """
import os, sys, time
children = []
for _ in range(150):
    pid = os.fork()
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    children.append(pid)
print("holding", len(children), flush=True)
sys.stdin.read()
for pid in children:
    os.kill(pid, 9)
"""

# Forks n children that sleep, then kills them; prints how many forks succeeded.
FORKS = """
import json, os, time
children = []
error = None
for _ in range({n}):
    try:
        pid = os.fork()
    except OSError as exc:
        error = f"{{type(exc).__name__}}: {{exc}}"
        break
    if pid == 0:
        time.sleep({sleep})
        os._exit(0)
    children.append(pid)
for pid in children:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
print(json.dumps({{"forked": len(children), "error": error}}))
"""


def test_a_fork_loop_stops_at_the_process_limit(course):
    limits = sandbox.Limits(processes=200)
    started = time.perf_counter()
    code, out, err = run(course, FORKS.format(n=1000, sleep=20), limits=limits)
    result = json.loads(out)
    # The limit counts this process and its threads too; every sandbox has a user of its own
    assert 190 < result["forked"] < 200, result
    assert "Resource temporarily unavailable" in result["error"]
    assert "more than 200 processes" in limit_reason(*result["error"].split(": ", 1), limits)
    assert time.perf_counter() - started < 30


def test_memory_beyond_the_limit_is_refused(course):
    code, out, err = run(course, """
        small = bytearray(500 * 2**20)
        try:
            big = bytearray(3 * 2**30)
        except MemoryError:
            print("refused")
    """)
    assert out.strip() == "refused", err
    assert "more than 2 GB of memory" in limit_reason("MemoryError", "", sandbox.Limits())


def test_a_huge_file_is_cut_at_the_file_size_limit_and_tmp_is_bounded(course):
    code, out, err = run(course, """
        import errno
        try:
            with open("/tmp/big", "wb") as f:
                for _ in range(100):
                    f.write(bytes(1 << 20))
        except OSError as exc:
            print(errno.errorcode[exc.errno], end=" ")
        try:
            for i in range(10):
                with open(f"/tmp/part{i}", "wb") as f:
                    f.write(bytes(30 << 20))
        except OSError as exc:
            print(errno.errorcode[exc.errno])
    """, limits=sandbox.Limits(file_size=50 << 20, tmp_size=128 << 20))
    assert out.split() == ["EFBIG", "ENOSPC"], err


def test_cpu_time_beyond_the_limit_ends_the_process(course):
    code, out, err = run(course, "while True: pass", limits=sandbox.Limits(cpu=1), timeout=30)
    assert sandbox.ending_words(code, sandbox.Limits(cpu=1)) == "was stopped: it used more than 1 s of CPU time"


def test_kill_minus_one_reaches_only_the_sandbox(course):
    # as root the kernel runs as a user of its own: the outside process is that user's too
    me = sandbox.sandbox_user()
    user = {"user": me, "group": me, "extra_groups": []} if os.geteuid() == 0 else {}
    outside = subprocess.Popen(["sleep", "30"], **user)
    try:
        code, out, err = run(course, """
            import os, signal
            try:
                os.kill(-1, signal.SIGKILL)  # every process it may signal, but its own
            except ProcessLookupError:
                print("no other process")
        """)
        assert out.strip() == "no other process", err
        assert outside.poll() is None, "a process outside the sandbox was killed"
    finally:
        outside.kill()
        outside.wait()


def launcher(course, *extra, path=None):
    """The kernel spec's command, run on a tiny 'kernel' (a Python line) in alice's folder."""
    folder = course / "autograded" / "alice" / "ch01"
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, "-m", "attnbook.grading.sandbox", "kernel", "--course", str(course),
                           *extra, "--", sys.executable, "-c", "import os; print(os.environ.get('ATTNBOOK_SANDBOX'))"],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=60)


def test_the_kernel_command_logs_each_kernel(course):
    out = launcher(course)
    assert out.returncode == 0 and out.stdout.strip() == "bubblewrap", out.stderr
    log = sandbox.read_log(course)
    assert [r["event"] for r in log] == ["start", "end"]
    assert log[0]["student"] == "alice" and log[0]["assignment"] == "ch01"
    assert log[1]["ending"] == "ended normally"


def test_without_a_sandbox_student_code_is_not_run_unless_asked(course):
    no_bwrap = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                               if not os.path.exists(os.path.join(p, "bwrap")))
    refused = launcher(course, path=no_bwrap)
    assert refused.returncode == 3 and refused.stdout == ""
    assert "no sandbox for student code: bubblewrap is not installed" in refused.stderr
    assert "--without-sandbox" in refused.stderr
    allowed = launcher(course, "--without-sandbox", path=no_bwrap)
    assert allowed.returncode == 0 and allowed.stdout.strip() == "None"
    assert [r["sandbox"] for r in sandbox.read_log(course) if r["event"] != "end"] == ["none", "none"]
    summary = subprocess.run([sys.executable, "-c", "from attnbook.grading.course import sandbox_summary as s; "
                              f"print(s(__import__('pathlib').Path({str(course)!r}), 'ch01'))"],
                             capture_output=True, text=True, check=True).stdout
    assert summary.startswith("NO SANDBOX: 1 of 1 kernels ran without a sandbox")  # the latest run


def test_course_init_says_plainly_whether_the_sandbox_works(tmp_path):
    no_bwrap = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                               if not os.path.exists(os.path.join(p, "bwrap")))
    def args(name):
        return [sys.executable, "-m", "attnbook.grading.course", "init", str(tmp_path / name), "--chapters", "1"]

    ok = subprocess.run(args("a"), capture_output=True, text=True, check=True)
    assert "sandbox: bubblewrap" in ok.stdout and "every student's kernel runs in it" in ok.stdout
    spec = json.loads((tmp_path / "a" / "kernels" / "attnbook-sandbox" / "kernel.json").read_text())
    assert spec["argv"][1:4] == ["-m", "attnbook.grading.sandbox", "kernel"] and "--memory" in spec["argv"]
    assert 'c.Execute.kernel_name = "attnbook-sandbox"' in (tmp_path / "a" / "nbgrader_config.py").read_text()
    bare = subprocess.run(args("b"), capture_output=True, text=True, check=True,
                          env=dict(os.environ, PATH=no_bwrap))
    assert "NO SANDBOX: bubblewrap is not installed" in bare.stdout
    assert "Autograding will refuse to run students' code" in bare.stdout
    opted = subprocess.run([*args("c"), "--without-sandbox"], capture_output=True, text=True,
                           check=True, env=dict(os.environ, PATH=no_bwrap))
    assert "students' code will run as you" in opted.stdout
    spec = json.loads((tmp_path / "c" / "kernels" / "attnbook-sandbox" / "kernel.json").read_text())
    assert "--without-sandbox" in spec["argv"]


def test_for_an_ordinary_user_the_process_limit_counts_only_the_sandbox():
    """Run as nobody (an ordinary user): 60 of its processes outside, a limit of 100 inside."""
    if os.geteuid() != 0:
        pytest.skip("needs root to become nobody for the test")
    system_python = Path("/usr/bin/python3")
    src = Path(sandbox.__file__).resolve().parents[2]
    if not system_python.exists() or not os.access(src, os.R_OK | os.X_OK):
        pytest.skip("needs /usr/bin/python3 and a world-readable book")
    tmp_path = Path(tempfile.mkdtemp(prefix="attnbook-nobody-"))  # a folder nobody can reach
    tmp_path.chmod(0o777)
    code = (f"import sys; sys.path.insert(0, {str(src)!r})\n"
            "import subprocess\nfrom pathlib import Path\nfrom attnbook.grading import sandbox\n"
            f"here = Path({str(tmp_path)!r})\n"
            f"argv, fds = sandbox.bwrap_command(here, here, None, sandbox.Limits(processes=100), "
            f"[sys.executable, '-c', {FORKS.format(n=400, sleep=20)!r}])\n"
            "print(subprocess.run(argv, pass_fds=fds, capture_output=True, text=True, timeout=60).stdout)\n")
    nobody = {"user": 65534, "group": 65534, "extra_groups": []}
    outside = [subprocess.Popen(["sleep", "30"], **nobody) for _ in range(60)]
    try:
        out = subprocess.run([str(system_python), "-c", code], capture_output=True, text=True, timeout=60,
                             cwd=tmp_path, **nobody)
    finally:
        for p in outside:
            p.kill()
            p.wait()
        shutil.rmtree(tmp_path)
    result = json.loads(out.stdout)
    assert 90 < result["forked"] < 100, (result, out.stderr)
