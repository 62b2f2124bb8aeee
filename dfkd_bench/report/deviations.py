"""Each method card's deviations from the paper and the reference code, once per card, for the report's last section.

Cards inherit (`extends:`; `extra_deviations` appends, `deviations` replaces), so several cards often carry the same
list, or a parent's list and a few lines more. The section follows what the cards resolve to: cards with the same
list share one entry, and a card whose list is another's plus extra lines links to that entry and lists only its
extras. Comparing resolved lists rather than `extends:` keys needs no special case for an abstract parent
(`_fast.yaml`) or a card that replaces what it inherits (ssdkd over fast2).
"""

from __future__ import annotations

from collections.abc import Iterable

from dfkd_bench.config import all_cards
from dfkd_bench.report.document import Block, Bullets, Paragraph

Deviations = tuple[str, ...]


def deviation_anchor(method: str) -> str:
    """The id a table row links to for its card's deviations."""
    return f"dev-{method}"


def _lists() -> dict[str, Deviations]:
    return {name: tuple(" ".join(d.split()) for d in card.deviations) for name, card in all_cards().items()}


def _parent(own: Deviations, lists: dict[str, Deviations]) -> Deviations | None:
    """The longest other list that `own` starts with (the list it inherited before its extra lines)."""
    shorter = [d for d in set(lists.values()) if 0 < len(d) < len(own) and own[: len(d)] == d]
    return max(shorter, key=len, default=None)


def deviation_blocks(methods: Iterable[str]) -> list[Block]:
    """One entry per distinct deviation list of the cards of `methods` (cards they inherit from added), in the
    order given and named after its first card (give a parent before its variants); methods without a card are
    left out."""
    lists = _lists()
    entries: dict[Deviations, list[str]] = {}

    def add(name: str) -> None:
        parent = _parent(lists[name], lists)
        if parent is not None and parent not in entries:
            add(min((n for n, d in lists.items() if d == parent), key=lambda n: (len(n), n)))
        entries.setdefault(lists[name], [])
        if name not in entries[lists[name]]:
            entries[lists[name]].append(name)

    for method in methods:
        if method in lists:
            add(method)
    cards = all_cards()
    blocks: list[Block] = []
    for deviations, names in entries.items():
        head = f"**{names[0]}** ({cards[names[0]].display_name}"
        head += f"; the same list for {', '.join(f'`{n}`' for n in names[1:])})" if names[1:] else ")"
        parent = _parent(deviations, lists)
        items = deviations
        if parent is not None:
            owner = entries[parent][0]
            head += f": the deviations of [{owner}](#{deviation_anchor(owner)}), and"
            items = deviations[len(parent) :]
        blocks.append(Paragraph(head, anchors=tuple(deviation_anchor(n) for n in names)))
        blocks.append(Bullets(items) if items else Paragraph("(none listed)"))
    return blocks
