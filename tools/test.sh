#!/usr/bin/env bash
# `make test`: run every test, build the book, then test the built book, on both cores.
#
# 1. pytest runs the package's tests and executes every notebook with nbval, in two workers
#    (one thread each), longest files first (conftest.py). Each notebook that runs through is
#    saved with its outputs. The grading tests, which mostly wait (for nbgrader, for kernels
#    in their sandboxes, for time limits to run out), run beside them in a pytest of their own;
#    their report follows.
# 2. Those executed notebooks go into the book's execution cache, so the build renders them
#    instead of running them a second time (tools/book_cache.py).
# 3. The book is built (`make book`, warnings are errors), then tested in a browser: pages, links,
#    accessibility, the student edition; in three workers, as a browser test often waits for
#    the page.
# Fails if any test or the build fails.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
PYTEST=("$BIN/python" -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=300 --timeout=900
        --durations=12)
BOOK_TESTS=(tests/test_book.py tests/test_book_explorer.py tests/test_student_edition.py)
EXECUTED=_build/executed

start=$(date +%s)
rm -rf "$EXECUTED"
mkdir -p _build
GRADING=tests/test_grading_e2e.py
"${PYTEST[@]}" "$GRADING" > _build/grading_tests.log 2>&1 &
grading=$!
trap 'kill "$grading" 2>/dev/null' INT TERM
ATTNBOOK_EXECUTED="$EXECUTED" "${PYTEST[@]}" -n 2 --dist loadfile --no-loadscope-reorder \
  tests chapters solutions exercises --ignore="$GRADING" "${BOOK_TESTS[@]/#/--ignore=}"
tests_status=$?
wait "$grading"
grading_status=$?
echo "make test: the grading tests ($GRADING), run beside the others:"
cat _build/grading_tests.log
[ "$grading_status" -eq 0 ] || tests_status=$grading_status
echo "make test: tests and notebooks done ($(( $(date +%s) - start )) s after the start)"

"$BIN/python" tools/book_cache.py fill "$EXECUTED"
make --no-print-directory book > _build/book.log 2>&1
book_status=$?
if [ "$book_status" -ne 0 ]; then
  cat _build/book.log
  echo "make book failed (exit $book_status); the built-book tests did not run"
  exit "$book_status"
fi
echo "make book: built in _build/html ($(( $(date +%s) - start )) s after the start)"

"${PYTEST[@]}" -n 3 --dist loadgroup "${BOOK_TESTS[@]}"
book_tests_status=$?
echo "make test: $(( $(date +%s) - start )) s in all"
[ "$tests_status" -eq 0 ] && [ "$book_tests_status" -eq 0 ]
