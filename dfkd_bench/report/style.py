"""How the report's figures look: one colour and one marker per method, the same in every figure, and paper sizes.

`method_styles` gives every method card a `Style`. The cards shipped with the harness have a fixed one (`FIXED`:
SSD-KD red, its ablations in warm colours, Fast-Datafree in blues, NAYER in teals, KD on real data, the student
and the teacher in greys), so a figure in one report looks like the same figure in another. A card added later, or
a method name in a summary that no card has any more, takes the next combination of `SPARE` that no fixed card
uses, in name order over every card and the names asked about: deterministic, distinct from every other method,
and no edit here needed.

`rc` is the matplotlib settings the figures are drawn and saved under: 7-8 pt text at print size on a 7 in wide
(two-column) figure, TrueType fonts in the PDF.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import matplotlib as mpl

from dfkd_bench.config import all_cards
from dfkd_bench.errors import BadInput

DPI = 300
WIDTH_IN = 7.0  # a figure across both columns of a two-column paper (one column: about 3.4 in)
FORMATS = ("png", "pdf")


@dataclass(frozen=True)
class Style:
    colour: str
    marker: str


# The shipped cards, each a colour of its own; markers repeat only between clearly different colours.
FIXED: dict[str, Style] = {
    "ssdkd": Style("#d62728", "o"),  # red: the paper's method
    "ssdkd_fixed": Style("#7f0000", "H"),  # dark red
    "ssdkd_baseline": Style("#ff9896", "s"),  # salmon
    "ssdkd_ps": Style("#e6550d", "D"),  # burnt orange
    "ssdkd_difficulty": Style("#fdae6b", "^"),  # light orange
    "ssdkd_diversity": Style("#c51b8a", "v"),  # magenta
    "ssdkd_difficulty_diversity": Style("#6a3d9a", "p"),  # violet
    "fast2": Style("#9ecae1", "<"),  # light blue
    "fast5": Style("#4292c6", ">"),  # blue
    "fast10": Style("#08306b", "d"),  # navy
    "deepinv": Style("#2ca02c", "s"),  # green
    "cmi": Style("#17becf", "D"),  # cyan
    "dfq": Style("#9467bd", "<"),  # purple
    "dfad": Style("#bcbd22", "P"),  # olive
    "dafl": Style("#8c564b", "h"),  # brown
    "zskt": Style("#e377c2", "X"),  # pink
    "nayer": Style("#00695c", "*"),  # dark teal: NAYER and its embedding variants in teals
    "nayer_minilm": Style("#26a69a", "P"),  # teal
    "nayer_onehot": Style("#4dd0e1", "X"),  # light cyan-teal
    "nayer_random": Style("#80cbc4", "h"),  # pale teal
    "kd": Style("#525252", "^"),  # dark grey: KD on real data
    "student": Style("#a3a3a3", "8"),  # light grey
    "teacher": Style("#000000", "*"),  # black
}
SPARE_COLOURS = ("#1b9e77", "#b8860b", "#00008b", "#66a61e", "#f781bf", "#a6cee3", "#b15928", "#808000")
MARKERS = ("o", "s", "D", "^", "v", "<", ">", "p", "h", "H", "d", "P", "X", "8", "*")


def _spare() -> list[Style]:
    """Combinations no fixed card uses: first each spare colour with its own marker, then every colour with every
    marker (shifted, so neighbours differ in both)."""
    taken = set(FIXED.values())
    colours = list(SPARE_COLOURS) + list(dict.fromkeys(s.colour for s in FIXED.values()))
    order = []
    for shift in range(len(MARKERS)):
        order += [Style(c, MARKERS[(i + shift) % len(MARKERS)]) for i, c in enumerate(colours)]
    return [s for s in dict.fromkeys(order) if s not in taken]


SPARE = _spare()


def _card_names() -> set[str]:
    try:
        return set(all_cards())
    except BadInput:  # no cards directory: the names asked about still get styles
        return set()


def method_styles(methods: Iterable[str] = ()) -> dict[str, Style]:
    """A style for every card and every name in `methods`, no two alike.

    Pass every method of the frame a report draws (not only those of one figure): the names beyond the fixed cards
    are numbered together, so each keeps its style in every figure of the report.
    """
    styles = dict(FIXED)
    extras = sorted((_card_names() | set(methods)) - set(FIXED))
    for i, name in enumerate(extras):
        styles[name] = SPARE[i % len(SPARE)]  # more than len(SPARE) extra methods: styles repeat
    return styles


RC = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "figure.titlesize": 9,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.5,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "lines.linewidth": 1.2,
    "lines.markersize": 5,
    "errorbar.capsize": 2,
    "legend.framealpha": 0.9,
    "legend.edgecolor": "0.8",
    "savefig.dpi": DPI,
    "pdf.fonttype": 42,  # TrueType in the PDF: editable text, accepted by publishers that refuse Type 3
    "ps.fonttype": 42,
}


@contextmanager
def rc() -> Iterator[None]:
    """The figures' matplotlib settings, for drawing and for saving."""
    with mpl.rc_context(RC):
        yield
