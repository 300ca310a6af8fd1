# IPython start-up file for the book's builds and tests (tools/test.sh and `make book` copy it
# into the profile they use): every PNG of a Matplotlib figure records its smallest font size and
# dpi, so the tests of the built book can measure how big its text looks on the page.
try:
    from attnbook.legibility import annotate_pngs

    annotate_pngs()
except ImportError:  # the package is not installed in this kernel: nothing to record
    pass
