"""The report's content model: headings, paragraphs, tables, bullet lists and figures, written out as Markdown here
and as one self-contained HTML page by `html_page.py`, so the two versions of a report cannot say different things.

Text inside a block uses a small inline markup, the only Markdown the HTML writer has to understand: `code`,
**bold**, *italic*, [label](#anchor) and <br>. A block's `anchors` are ids that links elsewhere in the report point at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Paragraph:
    """Running text; a `note` (a caption, a legend) is set in italics."""

    text: str
    note: bool = False
    anchors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    anchors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Figure:
    """A PNG written next to the report, and what it shows."""

    path: Path
    caption: str


Block = Heading | Paragraph | Table | Bullets | Figure


def frame_table(frame: pd.DataFrame) -> Table:
    """A DataFrame as a Table, every value as text."""
    return Table(tuple(map(str, frame.columns)), tuple(tuple(map(str, row)) for row in frame.itertuples(index=False)))


def _anchor_tags(anchors: tuple[str, ...]) -> str:
    return "".join(f'<a id="{a}"></a>' for a in anchors)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _markdown(block: Block) -> str:
    if isinstance(block, Heading):
        return f"{'#' * block.level} {block.text}" + (f" {_anchor_tags(block.anchors)}" if block.anchors else "")
    if isinstance(block, Paragraph):
        return _anchor_tags(block.anchors) + (f"*{block.text}*" if block.note else block.text)
    if isinstance(block, Table):
        lines = [_anchor_tags(block.anchors), ""] if block.anchors else []
        lines += ["| " + " | ".join(map(_cell, block.header)) + " |", "|" + "|".join(["---"] * len(block.header)) + "|"]
        lines += ["| " + " | ".join(map(_cell, row)) + " |" for row in block.rows]
        return "\n".join(lines)
    if isinstance(block, Bullets):
        return "\n".join(f"- {item}" for item in block.items)
    return f"![{block.path.stem}]({block.path.name})\n\n{block.caption}"


def to_markdown(blocks: Sequence[Block]) -> str:
    """GitHub Markdown, one blank line between blocks; anchors as empty `<a id>` tags (after a heading's text, so
    the raw file still reads `## Table 1: ...`; before any other block)."""
    return "\n\n".join(_markdown(block) for block in blocks) + "\n"
