"""The fresh process behind :func:`attnbook.grading.grade`.

    python -I -m attnbook.grading.child EXERCISE_ID ANSWER_PICKLE RESULT_JSON

Loads the pickled answer, runs the exercise's check, writes
``{"status", "message", "mistake"}`` as JSON. Whatever the answer prints
is discarded.
"""

import json
import os
import sys


def main(exercise_id: str, answer_path: str, result_path: str) -> None:
    # the answer's own prints do not matter here
    sys.stdout = sys.stderr = open(os.devnull, "w")
    from attnbook.checks import CheckFailure, NotAttempted, get_exercise

    try:
        exercise = get_exercise(exercise_id)
        import cloudpickle

        with open(answer_path, "rb") as f:
            answer = cloudpickle.load(f)
        exercise.run(answer, quiet=True)
        result = {"status": "pass"}
    except NotAttempted as exc:
        result = {"status": "not-attempted", "message": exc.message}
    except CheckFailure as exc:
        result = {"status": "fail", "message": exc.message,
                  "mistake": exc.mistake}
    except BaseException as exc:  # noqa: BLE001  (it may raise anything)
        result = {"status": "fail", "mistake": "unloadable",
                  "message": f"the grader could not load your answer "
                             f"({type(exc).__name__}: {str(exc)[:200]})."}
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(*sys.argv[1:4])
