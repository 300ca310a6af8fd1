"""Pictures of attention: highlighted sentences, bar charts and heatmaps of
weights.

``highlight`` renders a sentence as HTML, each word on a background whose
strength follows its weight; it shows in Jupyter and in the built book alike.
"""

import html

import numpy as np

from attnbook.explorer import (  # noqa: F401 (the interactive views)
    cross_attention, highlighter, matrix, temperature_explorer)

#: The highlighter's colour (a yellow marker pen), as an RGB triple.
HIGHLIGHT_RGB = (255, 196, 0)


class HighlightedText:
    """A sentence whose words are shaded by their attention weights."""

    def __init__(self, words, weights, caption=None, show_weights=False):
        weights = np.asarray(weights, dtype=float)
        if weights.ndim != 1 or len(words) != len(weights):
            raise ValueError(
                f"highlight() needs one weight per word: got {len(words)} "
                f"words and weights of shape {weights.shape}"
            )
        self.words = list(words)
        self.weights = weights
        self.caption = caption
        self.show_weights = show_weights

    def _repr_html_(self):
        top = (
            self.weights.max()
            if self.weights.size and self.weights.max() > 0
            else 1.0
        )
        r, g, b = HIGHLIGHT_RGB
        spans = []
        for word, w in zip(self.words, self.weights):
            # the strongest word gets a full marker stroke
            alpha = 0.05 + 0.95 * float(w) / top
            label = f"<sub>{w:.2f}</sub>" if self.show_weights else ""
            spans.append(
                f'<span class="attnbook-word" title="weight {w:.3f}" '
                f'style="background-color: rgba({r}, {g}, {b}, '
                f"{alpha:.3f}); padding: 0.1em 0.2em; margin: 0 0.05em; "
                f'border-radius: 0.25em;">'
                f"{html.escape(word)}{label}</span>"
            )
        caption = (
            '<div class="attnbook-caption" '
            'style="font-size: 0.85em; opacity: 0.75;">'
            f"{html.escape(self.caption)}</div>"
            if self.caption
            else ""
        )
        return (
            '<div class="attnbook-highlight" style="font-size: 1.15em; '
            'line-height: 2; color: #111; background: #fff; '
            'padding: 0.3em 0.5em;">'
            + " ".join(spans)
            + caption
            + "</div>"
        )

    def __repr__(self):
        return " ".join(
            f"{word}[{w:.2f}]" for word, w in zip(self.words, self.weights)
        )


def highlight(words, weights, caption=None, show_weights=False):
    """Render ``words`` with backgrounds as strong as their ``weights``."""
    return HighlightedText(
        words, weights, caption=caption, show_weights=show_weights
    )


def plot_weights(words, weights, ax=None, title=None, color="#e0a800"):
    """A bar chart of one weight per word; returns the matplotlib axes."""
    import matplotlib.pyplot as plt

    weights = np.asarray(weights, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(words)), 2.6))
    positions = np.arange(len(words))
    ax.bar(positions, weights, color=color)
    ax.set_xticks(positions, labels=list(words), rotation=45, ha="right")
    ax.set_ylabel("weight")
    ax.set_ylim(0, max(1e-9, weights.max()) * 1.15)
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title)
    return ax


def plot_heatmap(
    weights,
    x_labels=None,
    y_labels=None,
    ax=None,
    title=None,
    xlabel="key",
    ylabel="query",
    cmap="YlOrBr",
    annotate=None,
):
    """A heatmap of a weight matrix ``(L_q, L_k)``: one row per query, one
    column per key."""
    import matplotlib.pyplot as plt

    weights = np.asarray(weights, dtype=float)
    n_rows, n_cols = weights.shape
    if ax is None:
        _, ax = plt.subplots(
            figsize=(max(3.0, 0.5 * n_cols + 1.5), max(2.5, 0.45 * n_rows + 1))
        )
    image = ax.imshow(weights, cmap=cmap, vmin=0, aspect="auto")
    if x_labels is not None:
        ax.set_xticks(
            np.arange(n_cols), labels=list(x_labels), rotation=45, ha="right"
        )
    if y_labels is not None:
        ax.set_yticks(np.arange(n_rows), labels=list(y_labels))
    if annotate is None:
        annotate = n_rows * n_cols <= 64
    if annotate:
        top = weights.max() if weights.size else 1.0
        for i in range(n_rows):
            for j in range(n_cols):
                ax.text(
                    j,
                    i,
                    f"{weights[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=9,
                    color="white" if weights[i, j] > 0.6 * top else "black",
                )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax
