"""Small accessibility fixes to the HTML that Sphinx writes.

docutils marks each bibliography entry ``role="doc-biblioentry"``, a DPUB-ARIA role that ARIA 1.1
deprecated, inside a ``role="list"``; screen readers expect list items there. This extension
rewrites the role of every entry to ``listitem`` as each page is written.
"""

import re

ROLE = re.compile(r'role="doc-biblioentry"')


def _fix(app, pagename, templatename, context, doctree):
    if "body" in context:
        context["body"] = ROLE.sub('role="listitem"', context["body"])


def setup(app):
    app.connect("html-page-context", _fix)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
