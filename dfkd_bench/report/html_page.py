"""The report as one self-contained HTML page: the same blocks as report.md, figures embedded as base64 PNG data
URIs and a few lines of inline CSS, so the file can be mailed or archived alone and loads nothing from elsewhere.

Only the blocks' small inline markup is translated (`code`, **bold**, *italic*, [label](#anchor), <br>); everything
else is escaped, so a value in a table can never become markup.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence

from dfkd_bench.report.document import Block, Bullets, Heading, Paragraph, Table

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; color: #1a1a1a; max-width: 1200px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.1em; } h4 { font-size: 1em; }
.scroll { overflow-x: auto; margin: 0.6em 0; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 6px; vertical-align: top; text-align: left; }
th { background: #f3f3f3; }
tr:nth-child(even) td { background: #fafafa; }
p.note { font-style: italic; color: #444; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-style: italic; color: #444; }
code { background: #f3f3f3; padding: 0 3px; border-radius: 3px; }
:target { outline: 2px solid #f0c000; }
"""

_LINK = re.compile(r"\[([^\]]+)\]\(#([\w.-]+)\)")
_BOLD = re.compile(r"\*\*(\S(?:.*?\S)?)\*\*")
_ITALIC = re.compile(r"(?<![\w*])\*(\S(?:.*?\S)?)\*(?![\w*])")
_ESCAPED = re.compile(r"\\([|*_`\[\]])")


def _span(text: str) -> str:
    """Markup outside code spans: escaped, then links, bold, italics, <br> and Markdown escapes."""
    out = html.escape(text, quote=False)
    out = _LINK.sub(lambda m: f'<a href="#{m.group(2)}">{m.group(1)}</a>', out)
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    out = _ITALIC.sub(r"<em>\1</em>", out)
    return _ESCAPED.sub(r"\1", out.replace("&lt;br&gt;", "<br>"))


def inline(text: str) -> str:
    """The blocks' inline markup as HTML: `code` spans first (their content stays literal), then `_span`."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick is a literal one
        parts[-2:] = ["`".join(parts[-2:])]
    return "".join(f"<code>{html.escape(p, quote=False)}</code>" if i % 2 else _span(p) for i, p in enumerate(parts))


def _ids(anchors: tuple[str, ...]) -> tuple[str, str]:
    """The first anchor as the element's id, the others as empty spans before it."""
    if not anchors:
        return "", ""
    extra = "".join(f'<span id="{html.escape(a)}"></span>' for a in anchors[1:])
    return f' id="{html.escape(anchors[0])}"', extra


def _html(block: Block) -> str:
    if isinstance(block, Heading):
        own, extra = _ids(block.anchors)
        return f"{extra}<h{block.level}{own}>{inline(block.text)}</h{block.level}>"
    if isinstance(block, Paragraph):
        own, extra = _ids(block.anchors)
        kind = ' class="note"' if block.note else ""
        return f"{extra}<p{own}{kind}>{inline(block.text)}</p>"
    if isinstance(block, Table):
        own, extra = _ids(block.anchors)
        head = "".join(f"<th>{inline(c)}</th>" for c in block.header)
        body = "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>" for row in block.rows)
        return (
            f'{extra}<div class="scroll"><table{own}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
        )
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{inline(item)}</li>" for item in block.items) + "</ul>"
    data = base64.b64encode(block.path.read_bytes()).decode("ascii")
    alt = html.escape(block.path.stem)
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">'
        f"<figcaption>{inline(block.caption)}</figcaption></figure>"
    )


def to_html(blocks: Sequence[Block], title: str) -> str:
    """One HTML5 page holding every block, its figures read from their PNG files and embedded."""
    body = "\n".join(_html(block) for block in blocks)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
