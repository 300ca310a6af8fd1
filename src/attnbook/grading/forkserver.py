"""A warm start for :func:`attnbook.grading.grade`'s fresh processes.

    python -I -m attnbook.grading.forkserver

A new Python process that imports PyTorch takes about 1.5 s to start, and
a notebook grades five questions or so. This server starts once per
kernel (at its first ``grade``), imports what the checks need and nothing
of the student's, then forks one child per question. Each child is a
fresh copy of that clean server: nothing the notebook changed at run time
reaches it, and nothing one question's check does reaches the next.

The server detaches from the kernel (the kernel's own children are the
student's business: ``os.wait()`` in a notebook, or the kernel ending its
children at shutdown, never meets it) and ends when the kernel's end of
its pipe closes. The protocol is one JSON line each way. The server says
``{"ready": pid}`` once; for each request ``{"id", "answer", "result",
"cwd"}`` it answers ``{"pid": N}`` when the child started (``{"error":
text}`` when it could not fork) and ``{"status": N}`` when the child
ended. The child runs :func:`attnbook.grading.child.main`; its result is
the file ``result``, never a line on the pipe.
"""

import json
import os
import select
import signal

PR_SET_PDEATHSIG = 1
#: Seconds between looks at a running child.
POLL = 0.01


def _die_with_parent():
    """Linux: end this process with SIGKILL when its parent ends."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the server kills it
        pass


class Pipe:
    """Lines from a file descriptor, read without blocking on a child."""

    def __init__(self, fd):
        self.fd, self.buffer, self.closed = fd, b"", False

    def ready(self, seconds):
        """Read what arrived within ``seconds``; False once it closed."""
        if select.select([self.fd], [], [], seconds)[0]:
            chunk = os.read(self.fd, 65536)
            self.buffer += chunk
            self.closed = not chunk
        return not self.closed

    def line(self):
        """The next whole line, waiting for it; None once the pipe closed."""
        while b"\n" not in self.buffer:
            if not self.ready(None):
                return None
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line


def _child(request):
    """In the forked child: no pipe to the kernel, then the check."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    status = 1
    try:
        from attnbook.grading import child

        os.chdir(request["cwd"])
        child.main(request["id"], request["answer"], request["result"])
        status = 0
    finally:
        os._exit(status)


def _wait(pid, requests):
    """The child's exit status; kill it if the kernel went away."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if not requests.ready(POLL):
            os.kill(pid, signal.SIGKILL)
            return os.waitpid(pid, 0)[1]


def main():
    if os.fork():  # detach: the kernel's own child ends here
        os._exit(0)
    # a cell interrupted by SIGINT (nbgrader's time limit) ends its own
    # question; the server stays for the next one
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # the pipes to the kernel, away from fds 0 and 1 that children reuse
    requests = Pipe(os.dup(0))
    out = os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(null, fd)

    def say(**message):
        os.write(out, (json.dumps(message) + "\n").encode())

    import cloudpickle  # noqa: F401  (each child unpickles an answer)

    from attnbook.checks import get_exercise

    say(ready=os.getpid())
    while (line := requests.line()) is not None:
        try:
            request = json.loads(line)
            # the chapter's checks (and PyTorch) load once, in the server
            get_exercise(request["id"])
        except Exception:  # noqa: BLE001  (the child reports a bad id)
            request = request if isinstance(request, dict) else {}
        try:
            pid = os.fork()
        except OSError as exc:
            say(error=exc.strerror or str(exc))
            continue
        if pid == 0:
            os.close(requests.fd)
            os.close(out)
            _child(request)
        say(pid=pid)
        say(status=_wait(pid, requests))


if __name__ == "__main__":
    main()
