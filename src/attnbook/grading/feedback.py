"""What students see in their feedback: their check cells without the hidden
tests that graded them.

nbgrader's feedback shows every cell's source as the grader ran it, hidden
tests included; the course's nbgrader_config.py adds this preprocessor to
``GenerateFeedback.preprocessors``.
"""

import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

HIDDEN = re.compile(r"[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS"
                    r"[ \t]*\n?", re.S)


class HideHiddenTests(Preprocessor):
    """Remove every ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS``
    region from the cells' source (the outputs stay)."""

    # nbgrader registers its preprocessors without enabling them
    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and "HIDDEN TESTS" in cell.source:
            cell.source = HIDDEN.sub("", cell.source).rstrip("\n")
        return cell, resources
