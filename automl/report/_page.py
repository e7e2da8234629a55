"""HTML assembly: one self-contained page (inline CSS, PNG figures as data URIs, no script, no network)."""
from __future__ import annotations

import html
import logging
import math
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

import pandas as pd

from ._figures import png_base64

log = logging.getLogger("automl")

_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{background:#22313f;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;color:#c8d3dd;font-size:13px}
nav{padding:8px 32px;background:#eef1f4;font-size:13px} nav a{margin-right:14px;color:#22313f}
main{padding:8px 32px 40px;max-width:1100px}
section{background:#fff;border:1px solid #e2e5e9;border-radius:6px;padding:12px 20px;margin:16px 0}
h2{font-size:18px;margin:4px 0 10px} h3{font-size:14px;margin:14px 0 6px}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0}
th,td{border-bottom:1px solid #e6e6e6;padding:3px 9px;text-align:left;vertical-align:top}
th{background:#f3f5f7} td.num{text-align:right;font-variant-numeric:tabular-nums}
table.kv th{width:220px;background:none;font-weight:600}
img.fig{max-width:100%;height:auto;display:block;margin:6px 0}
.note{color:#555;font-size:13px;background:#f6f6f0;border-left:3px solid #c9b458;padding:6px 10px;margin:8px 0}
.section-error{color:#8a1c1c;background:#fff1f1;border-left:3px solid #c62828;padding:6px 10px}
.row{display:flex;gap:12px;flex-wrap:wrap} .row>div{flex:1 1 420px;min-width:0}
code{font-size:12px;background:#f0f0f0;padding:0 3px;border-radius:3px}
footer{color:#777;font-size:12px;padding:0 32px 24px}
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def fmt(value: Any, digits: int = 4) -> str:
    """Numbers to short text; NaN/None to a dash."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return f"{value:,}"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return "-"
    if v.is_integer() and abs(v) < 1e15 and not isinstance(value, float):
        return f"{int(v):,}"
    return f"{v:.{digits}g}"


def img(fig, alt: str) -> str:
    """The figure as an embedded PNG; the figure is closed afterwards."""
    data = png_base64(fig)
    fig.clf()
    return f'<img class="fig" alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def kv_table(pairs: Sequence[tuple[str, Any]]) -> str:
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{v if isinstance(v, _Raw) else esc(v)}</td></tr>" for k, v in pairs)
    return f'<table class="kv">{rows}</table>'


class _Raw(str):
    """Already-escaped HTML that tables insert as is."""


def raw(text: str) -> _Raw:
    return _Raw(text)


def table(frame: pd.DataFrame, columns: Sequence[str] | None = None, headers: dict[str, str] | None = None,
          formats: dict[str, Callable[[Any], str]] | None = None, index: str | None = None,
          titles: dict[str, str] | None = None) -> str:
    """An escaped HTML table; numbers right-aligned; ``titles`` maps a column to a column of hover text."""
    if frame is None or frame.empty:
        return note("(empty)")
    columns = [c for c in (columns or list(frame.columns)) if c in frame.columns]
    headers, formats, titles = headers or {}, formats or {}, titles or {}
    head = ("<th>" + esc(index) + "</th>" if index else "") + "".join(f"<th>{esc(headers.get(c, c))}</th>"
                                                                      for c in columns)
    body = []
    for idx, row in frame.iterrows():
        cells = [f"<td>{esc(idx)}</td>"] if index else []
        for c in columns:
            v = row[c]
            text = formats[c](v) if c in formats else (fmt(v) if _is_number(v) else ("-" if _missing(v) else str(v)))
            cls = ' class="num"' if _is_number(v) else ""
            tip = f' title="{esc(row[titles[c]])}"' if c in titles and titles[c] in row.index else ""
            cells.append(f"<td{cls}{tip}>{text if isinstance(text, _Raw) else esc(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) or hasattr(v, "dtype") and \
        getattr(v, "dtype").kind in "iuf"


def _missing(v: Any) -> bool:
    try:
        return v is None or bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


class Page:
    """Sections in order; each section's builder runs guarded, so one broken section never loses the page."""

    def __init__(self, title: str, subtitle: str = "") -> None:
        self.title = title
        self.subtitle = subtitle
        self.sections: list[tuple[str, str, str]] = []
        self.errors: list[str] = []

    def add(self, anchor: str, heading: str, build: Callable[[], str]) -> None:
        try:
            body = build()
        except Exception as exc:  # a report shows what it can; the failure is visible, never silent
            log.warning("report section %r failed: %s: %s", heading, type(exc).__name__, exc)
            self.errors.append(f"{heading}: {type(exc).__name__}: {exc}")
            body = (f'<p class="section-error">This section could not be drawn: '
                    f'{esc(type(exc).__name__)}: {esc(exc)}</p>')
        self.sections.append((anchor, heading, body))

    def render(self, footer: str = "") -> str:
        nav = "".join(f'<a href="#{esc(a)}">{esc(h)}</a>' for a, h, _ in self.sections)
        body = "".join(f'<section id="{esc(a)}"><h2>{esc(h)}</h2>{b}</section>' for a, h, b in self.sections)
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>{esc(self.title)}</title><style>{_CSS}</style></head><body>"
                f"<header><h1>{esc(self.title)}</h1><p>{esc(self.subtitle)}</p></header>"
                f"<nav>{nav}</nav><main>{body}</main>"
                f"<footer>Generated {esc(stamp)}. {esc(footer)}</footer></body></html>\n")
