"""An nbgrader export plugin: one CSV row per student and assignment.

    nbgrader export \\
        --exporter=attnbook.grading.exporter.PerQuestionCsvExporter \\
        --to grades.csv

(The course's ``nbgrader_config.py`` sets it as the default, so
``nbgrader export`` is enough.) Columns: assignment, student_id,
last_name, first_name, score, max_score, then one column per graded cell
(its ``grade_id``, e.g. ``ex-01-1``), in notebook order. A student with
no submission gets an empty row of scores.
"""

import csv

from nbgrader.api import MissingEntry
from nbgrader.plugins import ExportPlugin


class PerQuestionCsvExporter(ExportPlugin):
    """Export per-question scores from the nbgrader gradebook to CSV."""

    def export(self, gradebook):
        path = self.to or "grades.csv"
        assignments = [a for a in gradebook.assignments
                       if not self.assignment or a.name in self.assignment]
        students = [s for s in gradebook.students
                    if not self.student or s.id in self.student]
        questions = []
        for assignment in assignments:
            for notebook in assignment.notebooks:
                questions += [cell.name for cell in notebook.grade_cells
                              if cell.name not in questions]
        header = ["assignment", "student_id", "last_name", "first_name",
                  "score", "max_score", *questions]
        self.log.info("Exporting %d questions for %d students to %s",
                      len(questions), len(students), path)
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            for assignment in assignments:
                for student in students:
                    row = {"assignment": assignment.name,
                           "student_id": student.id,
                           "last_name": student.last_name or "",
                           "first_name": student.first_name or "",
                           "max_score": assignment.max_score}
                    try:
                        submission = gradebook.find_submission(
                            assignment.name, student.id)
                    except MissingEntry:
                        row["score"] = ""
                    else:
                        row["score"] = submission.score
                        for notebook in submission.notebooks:
                            for grade in notebook.grades:
                                row[grade.name] = grade.score
                    writer.writerow([row.get(column, "")
                                     for column in header])
