"""The student's notebook as it ran in the sandbox, rendered as notebook.html beside report.html.

A file of its own, not embedded in the report, for three reasons: a notebook that printed
megabytes would make the verdicts slow to open and to scroll; the student's bytes and the
grader's verdicts never share a page, so nothing the student wrote can dress up as a verdict;
and each check links to one cell (`notebook.html#cell-12`), which a browser opens at that cell.

Every byte of the notebook is the student's (sources, outputs: HTML, Markdown, SVG,
JavaScript), so it crosses three walls:

1. before rendering, outputs keep only inert types (text, HTML, Markdown, LaTeX as text,
   PNG/JPEG/GIF); SVG becomes a `data:` image, which a browser never runs; JavaScript and
   widget outputs are replaced by a note; every output is capped;
2. nbconvert's HTML exporter (basic template: no scripts of its own) renders it, and each cell's
   HTML then passes an allowlist sanitizer (nh3, the ammonia library): unlisted tags and
   attributes are dropped, links may only be web links, images only base64 `data:` images, and
   no `id` survives (so no student element can take a cell's anchor);
3. the page's Content-Security-Policy allows no script at all, and images from `data:` only:
   should anything pass the sanitizer, the browser still runs and loads nothing.

The markers (cell number, contract names defined, the checks that read them) are the
grader's, written by our own autoescaped template, never by the student's HTML.
"""

from __future__ import annotations

import ast
import base64
import binascii
import copy
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jinja2
import nh3

from ..messages import language, text

TEMPLATES = Path(__file__).resolve().parent / "templates"
SPLIT = "\ue000"  # a private-use character: the template's cell separator, removed from student text first
TEXT_CAP = 50_000  # characters per text output, shown (the rest is cut and the cut is said)
SOURCE_CAP = 200_000  # characters of a cell's source
TOTAL_CAP = 12_000_000  # characters of outputs over the whole page (images included); then outputs are left out
INERT_IMAGES = ("image/png", "image/jpeg", "image/gif")
KEPT_TYPES = ("text/html", "text/markdown", "text/latex", *INERT_IMAGES, "text/plain")
ALLOWED_TAGS = {"a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details", "div",
                "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li",
                "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary", "sup", "table",
                "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul"}
ALLOWED_ATTRIBUTES = {"*": {"class", "title", "lang", "dir"}, "a": {"href"}, "img": {"src", "alt", "width", "height"},
                      "td": {"colspan", "rowspan", "align"}, "th": {"colspan", "rowspan", "align", "scope"},
                      "ol": {"start"}}
_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|svg\+xml);base64,[A-Za-z0-9+/=\s]*$")
_WEB_LINK = re.compile(r"^https?://", re.IGNORECASE)


# Every class the page's own template uses starts with this; a student's class that does is
# dropped, so a markdown cell cannot draw a grader badge or trust box (it stays plain text in the
# framed "the student's own content" region).
GRADER_CLASS_PREFIX = "g-"


def _attribute(tag: str, name: str, value: str) -> str | None:
    """nh3's last word on each URL: images only as base64 data, links only to the web (a click
    is the reader's choice; nothing loads by itself)."""
    if tag == "img" and name == "src":
        return value if _DATA_IMAGE.match(value) else None
    if tag == "a" and name == "href":
        return value if _WEB_LINK.match(value) else None
    if name == "class":  # the grader's own marks are g-*: student HTML cannot draw them
        kept = [token for token in value.split() if not token.lower().startswith(GRADER_CLASS_PREFIX)]
        return " ".join(kept) or None
    return value


_IMAGE_WITHOUT_SOURCE = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>")
NBCONVERT_ALT = 'alt="No description has been provided for this image"'


def sanitize(html: str, lang: str = "es") -> str:
    """Student HTML, reduced to inert markup (see the module's docstring); an image whose source
    was refused is dropped rather than shown broken, and nbconvert's English alt text for an
    image without one is said in the reader's language."""
    clean = nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, attribute_filter=_attribute,
                      url_schemes={"http", "https", "data"}, strip_comments=True, link_rel="noopener noreferrer nofollow")
    clean = _IMAGE_WITHOUT_SOURCE.sub("", clean)
    return clean.replace(NBCONVERT_ALT, f'alt="{text(lang, "ui.nb.image_alt")}"')


# --- which cell defined which contract name -----------------------------------------------------

def assigned_names(source: str) -> set[str]:
    """The module-level names a cell's source binds: assignments, for/with targets, def, class,
    import. Static, never run: the report needs to point at a cell, not to trust it. IPython
    lines (`%time`, `!pip`) are blanked first; source that still does not parse falls back to
    `name =` at the start of a line."""
    lines = [("" if line.lstrip().startswith(("%", "!")) else line) for line in source.splitlines()]
    try:
        tree = ast.parse("\n".join(lines))
    except (SyntaxError, ValueError):
        return set(re.findall(r"^([A-Za-z_]\w*)\s*(?::[^=]*)?=(?!=)", source, re.MULTILINE))
    found: set[str] = set()

    def visit(node) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found.add(child.name)
                continue  # names bound inside a function or class body are not the module's
            if isinstance(child, ast.Lambda):
                continue
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                found.add(child.id)
            elif isinstance(child, (ast.Import, ast.ImportFrom)):
                found.update((alias.asname or alias.name).split(".")[0] for alias in child.names)
            visit(child)

    visit(tree)
    return found


def definitions(notebook: dict, names) -> dict[str, int]:
    """Contract name → the index of the last code cell that binds it (in notebook order: the
    one whose value the harvest read, when the cells ran top to bottom)."""
    wanted, where = set(names), {}
    for index, cell in enumerate(notebook.get("cells") or []):
        if cell.get("cell_type") == "code":
            for name in assigned_names(_source(cell)) & wanted:
                where[name] = index
    return where


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


# --- the view: what each cell shows and says ----------------------------------------------------

@dataclass(frozen=True)
class CheckLink:
    """One verdict pointing back to a cell."""

    id: str
    title: str
    status: str
    status_name: str


@dataclass(frozen=True)
class CellMark:
    number: int  # 1-based position among all cells: "celda 12" in the report is this cell
    status: str = ""  # the run's record for a code cell (ok, error, timeout, not_run…); "" for Markdown
    defines: tuple = ()
    checks: tuple = ()  # CheckLink, the checks that read the names it defines
    cut: tuple = ()  # what was left out of its outputs, in words


@dataclass(frozen=True)
class NotebookPage:
    """Everything notebook.html shows: the cells' sanitized HTML and the grader's marks."""

    display_name: str
    kind: str  # "ipynb" or "py"
    cells: tuple = ()  # (CellMark, html)
    cut_total: bool = False
    notes: tuple = field(default_factory=tuple)


def _cap_text(value, cap: int, lang: str) -> tuple[str, int]:
    value = "".join(value) if isinstance(value, list) else str(value)
    value = value.replace(SPLIT, "\ufffd")
    if len(value) <= cap:
        return value, 0
    return value[:cap] + "\n" + text(lang, "ui.nb.cut_here", n=len(value) - cap), len(value) - cap


def _inert_output(output: dict, lang: str, budget: list[int]) -> tuple[dict | None, str | None]:
    """(the output as it may be rendered, or None; a note of what was cut or left out)."""
    output = copy.deepcopy(dict(output))
    kind = output.get("output_type")
    if budget[0] <= 0:
        return None, text(lang, "ui.nb.cut_total")
    if kind == "stream":
        output["text"], cut = _cap_text(output.get("text", ""), TEXT_CAP, lang)
        budget[0] -= len(output["text"])
        return output, text(lang, "ui.nb.cut_chars", n=cut) if cut else None
    if kind == "error":
        lines, size = [], 0
        for line in output.get("traceback") or []:
            line = str(line).replace(SPLIT, "\ufffd")
            size += len(line)
            if size > TEXT_CAP:
                lines.append(text(lang, "ui.nb.cut_here", n=size - TEXT_CAP))
                break
            lines.append(line)
        output["traceback"] = lines
        output["ename"] = str(output.get("ename", "")).replace(SPLIT, "")
        output["evalue"] = _cap_text(output.get("evalue", ""), 2000, lang)[0]
        budget[0] -= size
        return output, None
    if kind not in ("display_data", "execute_result"):
        return None, None
    data = dict(output.get("data") or {})
    kept, notes = {}, []
    if "image/svg+xml" in data and not any(t in data for t in INERT_IMAGES):
        svg = _cap_text(data["image/svg+xml"], TEXT_CAP * 20, lang)[0]
        encoded = base64.b64encode(svg.encode("utf-8", "replace")).decode()
        data["text/html"] = f'<img src="data:image/svg+xml;base64,{encoded}" alt="SVG">'  # as an image, SVG runs nothing
    for mime in KEPT_TYPES:
        if mime not in data:
            continue
        value = data[mime]
        if mime in INERT_IMAGES:
            value = "".join(value) if isinstance(value, list) else str(value)
            try:
                base64.b64decode(value.replace("\n", ""), validate=True)
            except (binascii.Error, ValueError):
                notes.append(text(lang, "ui.nb.bad_image", mime=mime))
                continue
            if len(value) > budget[0]:
                notes.append(text(lang, "ui.nb.cut_total"))
                continue
            kept[mime] = value
            budget[0] -= len(value)
        else:
            kept[mime], cut = _cap_text(value, TEXT_CAP, lang)
            budget[0] -= len(kept[mime])
            if cut:
                notes.append(text(lang, "ui.nb.cut_chars", n=cut))
        if mime != "text/plain":
            break  # nbconvert shows the richest type; keeping one is enough (and text/plain as the fallback)
    left_out = [mime for mime in data if mime not in KEPT_TYPES and mime != "image/svg+xml"]
    if left_out and not kept:
        notes.append(text(lang, "ui.nb.left_out", mimes=", ".join(sorted(left_out))[:200]))
    if not kept:
        return None, "; ".join(notes) or None
    output["data"] = kept
    output["metadata"] = {}
    return output, "; ".join(notes) or None


def _prepared(notebook: dict, lang: str) -> tuple[dict, dict[int, list[str]], bool]:
    """A copy of the notebook that is safe to hand to nbconvert, and per cell what was cut."""
    import nbformat

    cells, cuts, budget = [], {}, [TOTAL_CAP]
    for index, cell in enumerate(notebook.get("cells") or []):
        kind = cell.get("cell_type")
        source, cut = _cap_text(_source(cell), SOURCE_CAP, lang)
        notes = [text(lang, "ui.nb.cut_source", n=cut)] if cut else []
        if kind == "code":
            outputs = []
            for output in cell.get("outputs") or []:
                kept, note = _inert_output(output, lang, budget)
                if kept is not None:
                    outputs.append(nbformat.from_dict(kept))
                if note and note not in notes:
                    notes.append(note)
            new = nbformat.v4.new_code_cell(source, outputs=outputs, execution_count=cell.get("execution_count"))
        elif kind == "markdown":
            new = nbformat.v4.new_markdown_cell(source)
        else:  # raw cells: shown as text, never as the HTML they may claim to be
            new = nbformat.v4.new_markdown_cell("```\n" + source.replace("```", "ˋˋˋ") + "\n```")
        new.metadata = {"grader_n": index + 1}
        cells.append(new)
        if notes:
            cuts[index] = notes
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"language_info": {"name": "python"}})
    return nb, cuts, budget[0] <= 0


@lru_cache(maxsize=1)
def _exporter():
    """nbconvert's HTML exporter with our template. nbconvert's own templates (basic, classic)
    live in its installation's share/jupyter folder, which Jupyter looks for under sys.prefix;
    when the packages come from another prefix (a venv reading a shared site-packages) that
    folder is named explicitly."""
    import nbconvert
    from nbconvert import HTMLExporter

    folders = [str(TEMPLATES / "nbconvert")]
    shared = Path(nbconvert.__file__).resolve().parents[4] / "share" / "jupyter" / "nbconvert" / "templates"
    if shared.is_dir():
        folders.append(str(shared))
    return HTMLExporter(template_name="grader", extra_template_basedirs=folders, exclude_anchor_links=True)


def notebook_page(notebook: dict, cell_records: list[dict], checks, names, display_name: str, kind: str,
                  lang: str) -> NotebookPage:
    """Render `notebook` (as it ran, outputs included) into the page's cells, each marked with the
    contract names it defined and the checks that read them."""
    lang = language(lang)
    nb, cuts, cut_total = _prepared(notebook, lang)
    where = definitions(notebook, names)
    status_names = {"pass": text(lang, "ui.check_status.pass"), "fail": text(lang, "ui.check_status.fail"),
                    "warn": text(lang, "ui.check_status.warn"), "error": text(lang, "ui.check_status.error"),
                    "skipped": text(lang, "ui.check_status.skipped"), "partial": text(lang, "ui.check_status.partial")}
    readers: dict[int, list[CheckLink]] = {}
    for check in checks:
        for name in check["reads"]:
            if name in where:
                links = readers.setdefault(where[name], [])
                if all(link.id != check["id"] for link in links):
                    status = check["shown_status"]
                    links.append(CheckLink(check["id"], check["title"], status, status_names.get(status, status)))
    records = {int(r["index"]): str(r["status"]) for r in cell_records}
    body, _ = _exporter().from_notebook_node(nb)
    pieces = body.split(SPLIT)
    cells = []
    for position in range(1, len(pieces) - 1, 2):
        number = int(pieces[position])
        index = number - 1
        mark = CellMark(number, records.get(index, "") if nb.cells[index].cell_type == "code" else "",
                        tuple(sorted(n for n, i in where.items() if i == index)), tuple(readers.get(index, ())),
                        tuple(cuts.get(index, ())))
        cells.append((mark, sanitize(pieces[position + 1], lang)))
    return NotebookPage(display_name, kind, tuple(cells), cut_total)


def render_notebook_page(page: NotebookPage, lang: str) -> str:
    """notebook.html: our own autoescaped page around the sanitized cells."""
    from pygments.formatters import HtmlFormatter

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    ui = {key[len("ui.nb."):]: value for key, value in _catalog_ui(lang).items()}
    return env.get_template("notebook.html.j2").render(
        page=page, ui=ui, lang=language(lang), title=text(lang, "ui.nb.title", name=page.display_name),
        code_css=HtmlFormatter(style="default").get_style_defs(".highlight"), markup=jinja2.utils.markupsafe.Markup)


def _catalog_ui(lang: str) -> dict:
    from ..messages import catalog

    return {k: v for k, v in catalog(lang).items() if k.startswith("ui.nb.") and "{" not in v}


__all__ = ["notebook_page", "render_notebook_page", "NotebookPage", "CellMark", "CheckLink", "definitions",
           "assigned_names", "sanitize"]
