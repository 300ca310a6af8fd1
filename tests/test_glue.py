"""attnbook.glue: numbers from the run go into the text as plain Python numbers."""

import sys

import numpy as np
import torch

from attnbook.glue import glue, plain


def test_scalars_become_python_numbers():
    assert type(plain(np.float64(0.5))) is float and type(plain(np.int64(3))) is int
    assert type(plain(torch.tensor(2.5))) is float and type(plain(np.array(7))) is int
    assert plain(np.arange(3)).shape == (3,) and plain("text") == "text"
    assert f"{plain(np.float64(0.25)):.1f}" == "0.2"


def test_glue_hands_plain_numbers_to_myst_nb(monkeypatch):
    seen = {}

    class FakeMystNb:
        @staticmethod
        def glue(name, value, display=True):
            seen[name] = (value, display)

    monkeypatch.setitem(sys.modules, "myst_nb", FakeMystNb)
    glue("share", np.float32(0.5), display=False)
    assert seen == {"share": (0.5, False)} and type(seen["share"][0]) is float


def test_without_myst_nb_glue_only_shows_the_value(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # import fails, as on Colab
    glue("share", np.float64(0.5), display=False)
    glue("share", np.float64(0.5))
    assert capsys.readouterr().out.strip() == "0.5"
