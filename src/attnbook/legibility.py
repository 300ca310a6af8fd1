"""How big a figure's text looks on the book's page.

A figure is shown at its natural size, or shrunk to the page's content
width when it is wider. Its smallest text, in screen pixels, is then::

    font size (pt) * dpi / 72 * min(1, shown width / natural width)

``text_px`` computes it for a Matplotlib figure. When the book is built,
``annotate_pngs`` writes the smallest font size and the dpi into every
figure's PNG, so that the tests of the built book can measure it from the
width each image is really shown at.
"""

from __future__ import annotations

#: The width (CSS pixels) of a figure shown across the whole content column
#: of a page in a 1280-pixel window.
CONTENT_WIDTH_PX = 688
#: The smallest text a reader should have to read, in CSS pixels.
MIN_TEXT_PX = 9.0
#: The PNG text key that holds "smallest-font-pt dpi".
PNG_KEY = "attnbook-text"


def smallest_font_pt(fig) -> float | None:
    """The smallest font size (points) of the visible text in ``fig``."""
    from matplotlib.text import Text

    fig.draw_without_rendering()  # tick labels get their text when drawn
    sizes = [t.get_fontsize() for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip()
             and _shown(t)]
    return min(sizes) if sizes else None


def _shown(artist) -> bool:
    """False for text inside an invisible axes (its tick labels)."""
    axes = getattr(artist, "axes", None)
    return axes is None or axes.get_visible() and axes.axison


def natural_width_px(fig, dpi: float | None = None) -> float:
    """The width of the figure's PNG as the notebook shows it (cropped
    to its content, as Jupyter's inline backend does)."""
    dpi = dpi or fig.dpi
    renderer = fig.canvas.get_renderer()
    return fig.get_tightbbox(renderer).width * dpi


def text_px(fig, shown_width: float = CONTENT_WIDTH_PX,
            dpi: float | None = None) -> float | None:
    """The smallest text of ``fig`` in pixels, on a page whose content is
    ``shown_width`` pixels wide."""
    size = smallest_font_pt(fig)
    if size is None:
        return None
    dpi = dpi or fig.dpi
    natural = natural_width_px(fig, dpi)
    return size * dpi / 72 * min(1.0, shown_width / natural)


def annotate_pngs() -> None:
    """Make Jupyter's PNGs of Matplotlib figures carry their smallest font
    size and dpi (a PNG text chunk); call it before Matplotlib is set up,
    e.g. from an IPython start-up file."""
    from IPython.core import pylabtools

    if getattr(pylabtools.print_figure, "annotates", False):
        return
    original = pylabtools.print_figure

    def print_figure(fig, fmt="png", *args, **kwargs):
        if fmt == "png":
            size = smallest_font_pt(fig)
            dpi = kwargs.get("dpi") or fig.dpi
            if size is not None:
                kwargs.setdefault("metadata", {})[PNG_KEY] = f"{size} {dpi}"
        return original(fig, fmt, *args, **kwargs)

    print_figure.annotates = True
    pylabtools.print_figure = print_figure


def read_png_text(data: bytes) -> tuple[float, float] | None:
    """(smallest font size in points, dpi) from a PNG written by a figure
    with ``annotate_pngs`` in place, or None."""
    import struct

    position = 8
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"tEXt" and body.startswith(PNG_KEY.encode() + b"\0"):
            size, dpi = body.split(b"\0", 1)[1].decode().split()
            return float(size), float(dpi)
        position += 12 + length
    return None
