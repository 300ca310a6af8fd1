#!/usr/bin/env bash
# `make test`: build the book and run every test, on both cores.
#
# Building the book executes every notebook, and so do the notebook tests (nbval): the two run side
# by side, one thread each. The tests of the built book (browser, links, accessibility, student
# edition) run once the book is built. Fails if the build or any test fails.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
PYTEST=("$BIN/python" -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=300 --timeout=900)
BOOK_TESTS=(tests/test_book.py tests/test_student_edition.py)

mkdir -p _build
start=$(date +%s)
( make --no-print-directory book > _build/book.log 2>&1; echo $? > _build/book.status ) &
book=$!

"${PYTEST[@]}" tests chapters solutions exercises "${BOOK_TESTS[@]/#/--ignore=}"
tests_status=$?

wait "$book"
book_status=$(cat _build/book.status)
if [ "$book_status" -ne 0 ]; then
  cat _build/book.log
  echo "make book failed (exit $book_status); the built-book tests did not run"
  exit "$book_status"
fi
echo "make book: built in _build/html ($(( $(date +%s) - start )) s after the start, beside the tests)"

"${PYTEST[@]}" "${BOOK_TESTS[@]}"
book_tests_status=$?
echo "make test: $(( $(date +%s) - start )) s in all"
[ "$tests_status" -eq 0 ] && [ "$book_tests_status" -eq 0 ]
