"""Terminal tables that stay whole at 80 columns: facts shared by every row move into the title, numbers and names
are never cut, and when the terminal is too narrow whole low-priority columns are left out (and named in the
caption) instead of every column being shortened to three characters."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table

from dfkd_bench.engine.spec import RunSpec

# A rich Table with the default box and padding (0, 1) spends 3 characters per column plus 1 on borders.
_PER_COLUMN, _BORDER = 3, 1


@dataclass
class Column:
    """One column: `keep` 0 is never left out; higher values are left out first when the terminal is narrow.
    A `context` column whose value is the same on every row is said once in the title instead."""

    name: str
    keep: int = 0
    context: bool = False
    justify: str = "left"
    wrap: bool = False  # free text (a description, a list of names): may wrap between words, never cut

    def width(self, values: Sequence[str]) -> int:
        """The room the column needs: its longest value, or for wrapping text its longest word (at least 24)."""
        if self.wrap:
            words = [len(word) for value in values for word in value.split()]
            return max([len(self.name), *words, min(24, max(map(len, values), default=0))])
        return max([len(self.name), *map(len, values)])


@dataclass
class FitTable:
    """A table laid out for the width it is printed at (rich calls `__rich_console__` with that width)."""

    title: str
    columns: Sequence[Column]
    rows: list[Sequence[str]] = field(default_factory=list)
    caption: str | None = None

    def add_row(self, *values: str) -> None:
        self.rows.append(values)

    def records(self) -> list[dict[str, str]]:
        """The rows keyed by column name: what `--json` prints, every column included."""
        return [{c.name: value for c, value in zip(self.columns, row, strict=True)} for row in self.rows]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.table(options.max_width)

    def layout(self, width: int) -> tuple[list[int], list[str], list[str]]:
        """Which columns to show at `width`, the `name value` facts moved into the title, and the columns left
        out for lack of room."""
        shown = list(range(len(self.columns)))
        facts: list[str] = []
        for i, column in enumerate(self.columns):
            values = {row[i] for row in self.rows}
            if column.context and len(values) == 1:
                facts.append(f"{column.name} {values.pop()}")
                shown.remove(i)
        widths = {i: self.columns[i].width([row[i] for row in self.rows]) for i in shown}
        dropped: list[str] = []
        while sum(widths[i] + _PER_COLUMN for i in shown) + _BORDER > width:
            candidates = [i for i in shown if self.columns[i].keep > 0]
            if not candidates:
                break
            worst = max(candidates, key=lambda i: (self.columns[i].keep, i))
            shown.remove(worst)
            dropped.append(self.columns[worst].name)
        return shown, facts, dropped

    def table(self, width: int) -> Table:
        shown, facts, dropped = self.layout(width)
        title = self.title + (": " + ", ".join(facts) if facts else "")
        notes = [self.caption] if self.caption else []
        if dropped:
            notes.append(f"left out at {width} columns: {', '.join(dropped)} (a wider terminal or --json shows them)")
        table = Table(title=title, caption="\n".join(notes) or None, caption_justify="left")
        for i in shown:
            column = self.columns[i]
            needed = column.width([row[i] for row in self.rows])
            table.add_column(column.name, justify=column.justify, min_width=needed, overflow="fold")
        for row in self.rows:
            table.add_row(*(row[i] for i in shown))
        return table


def constant_facts(specs: Iterable[RunSpec]) -> tuple[list[str], list[str]]:
    """Of a grid's cells: the facts every cell shares (dataset, pair, budget), said once in a title, and the names
    of the fields that vary, which each cell's short label shows."""
    specs = list(specs)
    fields = {
        "dataset": {s.dataset for s in specs},
        "pair": {s.pair for s in specs},
        "budget": {s.budget or "default" for s in specs},
    }
    facts = [f"{name} {next(iter(values))}" for name, values in fields.items() if len(values) == 1]
    varying = [name for name, values in fields.items() if len(values) > 1]
    return facts, varying


def scale_of(spec: RunSpec) -> str:
    """The data scale a cell asks for ('auto' when its card decides)."""
    return str(dict(spec.overrides).get("train.data_scale", "auto"))


def short_label(spec: RunSpec, varying: Sequence[str]) -> str:
    """A cell's label without the facts its grid title already says: method, scale and seed always shown."""
    parts = [getattr(spec, name) or "default" for name in varying]
    return " ".join([*parts, spec.method, scale_of(spec), f"s{spec.seed}"])
