# nbgrader configuration for a course that uses "Attention, Step by Step".
# Written by `python -m attnbook.grading.course init`; edit freely.
import os
import warnings

c = get_config()  # noqa: F821  (nbgrader provides get_config)

c.CourseDirectory.course_id = "attention-step-by-step"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__",
                            "feedback", ".DS_Store"]

# Every student's notebook runs in a sandbox: the kernel spec in
# kernels/attnbook-sandbox/kernel.json (beside this file) starts it in
# bubblewrap, with limits on memory, processes, file size and CPU time,
# and sees only that student's own folder and a private /tmp. Its argv
# holds the limits. A student cannot choose another kernel: this name
# wins over the one in the notebook. Where no sandbox works, the kernel
# refuses to run student code unless the course was set up with
# `course init --without-sandbox` (see the instructors' page).
_course = os.path.dirname(os.path.abspath(__file__))
os.environ["JUPYTER_PATH"] = os.pathsep.join(
    p for p in [_course, os.environ.get("JUPYTER_PATH")] if p)
c.Execute.kernel_name = "attnbook-sandbox"

# The stubs students see, exactly as in the book's exercises/ notebooks.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# A student cell may run at most this long (seconds); then it is
# interrupted and grading goes on. (The checks stop a slow function after
# a few seconds on their own.)
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True

# A student who deleted a test cell gets it back (and its points are
# graded), instead of losing it silently.
c.OverwriteCells.add_missing_cells = True

# Harmless output on stderr (warnings, kernel notices) must not cost a
# passing cell its points.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(?s).*(Warning|Kernel is running over TCP).*"

# nbgrader's own database code makes SQLAlchemy warn about objects "not in
# session" on every autograde; they change nothing, so they are not shown.
warnings.filterwarnings("ignore", message=".*not in session",
                        module="nbgrader.*")

# The feedback students get shows their check cells without the hidden
# test that graded them (nbgrader shows it by default).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "attnbook.grading.feedback.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# `nbgrader export` writes one column per question (graded cell), not
# just totals.
c.ExportApp.plugin_class = (
    "attnbook.grading.exporter.PerQuestionCsvExporter")
