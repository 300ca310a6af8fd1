"""Print the verdict of every answer in the check tests, as JSON (run in a fresh process).

    python tests/verdicts.py [--grader] [--stir N]

Each correct and wrong answer of tests/test_checks_chNN.py is checked the way a learner's notebook
does (``check``), or with ``--grader`` the way nbgrader's hidden test does (pickled by value with
cloudpickle and judged by ``attnbook.grading.child``). ``--stir N`` first draws N numbers from
every global random generator, as a notebook that used them would. The verdict of an answer is
"pass", "not-attempted", the name of the mistake, or the plain message.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def answers():
    """(exercise id, label, answer) for every answer in the chapters' check tests."""
    from attnbook.checks import EXERCISES

    chapters = sorted({ex.chapter for ex in EXERCISES.values()})
    for chapter in chapters:
        module = importlib.import_module(f"test_checks_ch{chapter:02d}")
        for ex_id, listed in module.CORRECT.items():
            for i, answer in enumerate(listed):
                yield ex_id, f"correct-{i}", answer
        for ex_id, by_key in module.WRONG.items():
            for key, listed in by_key.items():
                listed = listed if isinstance(listed, (list, tuple)) else [listed]
                for i, answer in enumerate(listed):
                    yield ex_id, f"{key}-{i}", answer


def verdict_of_check(ex_id, answer):
    from attnbook.checks import CheckFailure, NotAttempted, get_exercise

    try:
        get_exercise(ex_id).run(answer, quiet=True)
        return "pass"
    except NotAttempted:
        return "not-attempted"
    except CheckFailure as exc:
        return exc.mistake or exc.message


def verdict_of_grader(ex_id, answer, tmp):
    import cloudpickle

    from attnbook.grading import child

    answer_path, result_path = os.path.join(tmp, "answer.pkl"), os.path.join(tmp, "result.json")
    with open(answer_path, "wb") as f:
        f.write(cloudpickle.dumps(answer))
    stdout, stderr = sys.stdout, sys.stderr
    try:
        child.main(ex_id, answer_path, result_path)
    finally:
        sys.stdout, sys.stderr = stdout, stderr
    with open(result_path, encoding="utf-8") as f:
        result = json.load(f)
    if result["status"] in ("pass", "not-attempted"):
        return result["status"]
    return result.get("mistake") or result["message"]


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--grader", action="store_true")
    parser.add_argument("--stir", type=int, default=0)
    args = parser.parse_args(argv)
    import numpy as np
    import torch

    for _ in range(args.stir):
        random.random(), np.random.rand(), torch.rand(1)
    verdicts = {}
    with tempfile.TemporaryDirectory() as tmp:
        listed = list(answers())
        if args.grader:  # send the answers by value, as grade() sends a notebook's functions
            import cloudpickle

            for name in [m for m in sys.modules if m.startswith("test_checks_ch")]:
                cloudpickle.register_pickle_by_value(sys.modules[name])
        for ex_id, label, answer in listed:
            if args.grader:
                verdict = verdict_of_grader(ex_id, answer, tmp)
            else:
                verdict = verdict_of_check(ex_id, answer)
            verdicts[f"{ex_id}/{label}"] = verdict
    json.dump(verdicts, sys.stdout, indent=0, sort_keys=True)


if __name__ == "__main__":
    main()
