"""The first program inside the grading sandbox: limits, then the kernel.

    python -I enter.py --memory N --processes N --file-size N --cpu N
        [--uid N --gid N] -- KERNEL_COMMAND...

Run by :mod:`attnbook.grading.sandbox` as the sandbox's command, as a
script (standard library only, nothing imported from the course or the
student). It sets the resource limits, gives up root's identity when
the sandbox was started by root (``--uid``/``--gid``), marks itself the
first process the kernel's out-of-memory killer takes, and replaces
itself with the kernel. Everything the kernel starts (the hidden
check's fresh process too) inherits all of it.
"""

import argparse
import os
import resource
import sys


def set_limits(memory, processes, file_size, cpu):
    """Hard limits, so that the student's code cannot raise them.

    ``RLIMIT_NPROC`` counts processes and threads per user (inside a user
    namespace, per namespace); the kernel never applies it to root, which
    is why a sandbox started by root runs its kernel as another user.
    """
    # CPU: SIGXCPU at the limit (it ends Python), SIGKILL 5 s later
    limits = [(resource.RLIMIT_AS, memory, memory),
              (resource.RLIMIT_NPROC, processes, processes),
              (resource.RLIMIT_FSIZE, file_size, file_size),
              (resource.RLIMIT_CPU, cpu, cpu + 5),
              (resource.RLIMIT_CORE, 0, 0)]
    for which, soft, hard in limits:
        resource.setrlimit(which, (soft, hard))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="enter.py")
    for name in ("--memory", "--processes", "--file-size", "--cpu"):
        parser.add_argument(name, type=int, required=True)
    parser.add_argument("--uid", type=int)
    parser.add_argument("--gid", type=int)
    args = parser.parse_args(argv[:split])
    command = argv[split + 1:]
    try:  # the kernel's OOM killer takes the student's processes first
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass
    if args.uid is not None:
        os.setgroups([])
        os.setresgid(args.gid, args.gid, args.gid)
        os.setresuid(args.uid, args.uid, args.uid)
    set_limits(args.memory, args.processes, args.file_size, args.cpu)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
