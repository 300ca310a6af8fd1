# nbgrader configuration for a course that uses "Attention, Step by Step".
# Written by `python -m attnbook.grading.course init`; edit freely.
c = get_config()  # noqa: F821  (nbgrader provides get_config)

c.CourseDirectory.course_id = "attention-step-by-step"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".DS_Store"]

# The stubs students see, exactly as in the book's exercises/ notebooks.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# A student cell may run at most this long (seconds); then it is interrupted and grading goes on.
# (The checks stop a slow function after a few seconds on their own.)
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True

# A student who deleted a test cell gets it back (and its points are graded), instead of losing it silently.
c.OverwriteCells.add_missing_cells = True

# Harmless output on stderr (warnings, kernel notices) must not cost a passing cell its points.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(?s).*(Warning|Kernel is running over TCP).*"

# `nbgrader export` writes one column per question (graded cell), not just totals.
c.ExportApp.plugin_class = "attnbook.grading.exporter.PerQuestionCsvExporter"
