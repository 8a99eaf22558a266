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

The markers (cell number, contract names defined, the checks that read them, the lines a
verdict points at, the environment's notices) are the grader's, written by our own autoescaped
template, never by the student's HTML. Markdown cells are rendered as Markdown (headings, lists,
code, tables; math stays as its `$…$` text, since no script runs to typeset it) and pass the same
sanitizer as every output.

Two things the student did not write are told apart from what they did: the notices the
grader's environment prints on stderr (TensorFlow, absl, Fontconfig: `noise.py`) are folded into a
note of the grader's instead of showing in the colour of an error, and a verdict's line
(`pointers.py`) is highlighted in the cell's source, with the note that says why beside the cell.
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
from .noise import split_noise
from .pointers import pointed_lines

TEMPLATES = Path(__file__).resolve().parent / "templates"
SPLIT = "\ue000"  # a private-use character: the template's cell separator, removed from student text first
LINE_OPEN, LINE_NUMBER_END, LINE_CLOSE = "\ue001", "\ue002", "\ue003"  # a pointed line, as text until sanitized
GRADER_CHARS = (SPLIT, LINE_OPEN, LINE_NUMBER_END, LINE_CLOSE)  # none survives in the student's text
TEXT_CAP = 50_000  # characters per text output, shown (the rest is cut and the cut is said)
SOURCE_CAP = 200_000  # characters of a cell's source
TOTAL_CAP = 12_000_000  # characters of outputs over the whole page (images included); then outputs are left out
NOISE_CAP = (40, 300)  # the environment's lines shown per cell, and characters per line (all are counted)
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


def _code_lines(source: str) -> str:
    """A source with its line ends as Pygments counts them (\r\n and a lone \r are each one
    line end), so a line number means the same line to a pointer and to the highlighted code."""
    return source.replace("\r\n", "\n").replace("\r", "\n")


# --- the view: what each cell shows and says ----------------------------------------------------

@dataclass(frozen=True)
class CheckLink:
    """One verdict pointing back to a cell."""

    id: str
    title: str
    status: str
    status_name: str


@dataclass(frozen=True)
class LineNote:
    """A verdict pointing at lines of a cell's source (`pointers.py`)."""

    spans: tuple  # ((first, last), …): 1-based lines within the cell
    code: str  # the first span's first line, as the student wrote it (shortened)
    what: str  # the mistake's symptom, or the check's title
    checks: tuple = ()  # CheckLink


@dataclass(frozen=True)
class CellMark:
    """The grader's marks on one cell.

    A cell is named by one number only: its position among all the notebook's cells (Markdown
    included), 1-based. That is the number the report, result.json, the terminal and the run's
    records already use ("celda 4"), and the anchor each check links to (`#cell-4`). Jupyter's
    execution count ("In [3]") is not shown: it skips Markdown cells, is blank for a cell that
    never ran, and counts the sandbox's run, not the one the student saw in their own Jupyter,
    so a second number would only disagree with the first."""

    number: int  # 1-based position among all cells: "celda 12" in the report is this cell
    status: str = ""  # the run's record for a code cell (ok, error, timeout, not_run…); "" for Markdown
    defines: tuple = ()
    checks: tuple = ()  # CheckLink, the checks that read the names it defines
    cut: tuple = ()  # what was left out of its outputs, in words
    lines: tuple = ()  # LineNote, the lines of its source a failing verdict points at
    noise: tuple = ()  # the environment's notices folded out of its stderr (noise.py), line by line
    noise_label: str = ""  # the note's summary, in words


@dataclass(frozen=True)
class NotebookPage:
    """Everything notebook.html shows: the cells' sanitized HTML and the grader's marks."""

    display_name: str
    kind: str  # "ipynb" or "py"
    cells: tuple = ()  # (CellMark, html)
    cut_total: bool = False
    notes: tuple = field(default_factory=tuple)


def _scrub(value: str, by: str = "\ufffd") -> str:
    """The student's text without the characters the page's own machinery uses."""
    for char in GRADER_CHARS:
        value = value.replace(char, by)
    return value


def _cap_text(value, cap: int, lang: str) -> tuple[str, int]:
    value = "".join(value) if isinstance(value, list) else str(value)
    value = _scrub(value)
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
            line = _scrub(str(line))
            size += len(line)
            if size > TEXT_CAP:
                lines.append(text(lang, "ui.nb.cut_here", n=size - TEXT_CAP))
                break
            lines.append(line)
        output["traceback"] = lines
        output["ename"] = _scrub(str(output.get("ename", "")), "")
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


@dataclass(frozen=True)
class Prepared:
    """The notebook as nbconvert may render it, and per cell (by index) what the page says of it."""

    notebook: dict
    cuts: dict  # index → what was cut, in words
    cut_total: bool
    noise: dict  # index → [[the environment's lines, capped], [their sources], how many lines in all]


def _without_noise(output: dict, noise: list) -> dict | None:
    """A stream without the environment's notices (None when nothing else is left); the notices
    go to `noise`, capped (a student who prints them by the million fills no page). stdout too:
    a module's stderr reaches the page merged into its stdout (execute/module.py)."""
    if output.get("output_type") != "stream":
        return output
    kept, lines, sources = split_noise(_source({"source": output.get("text", "")}))
    if not lines:
        return output
    room = max(0, NOISE_CAP[0] - len(noise[0]))
    noise[0].extend(_scrub(line[:NOISE_CAP[1]]) + ("…" if len(line) > NOISE_CAP[1] else "") for line in lines[:room])
    noise[1].extend(s for s in sources if s not in noise[1])
    noise[2] += len(lines)
    return {**output, "text": kept} if kept.strip() else None


def _prepared(notebook: dict, lang: str, pointed: dict | None = None) -> Prepared:
    """A copy of the notebook that is safe to hand to nbconvert, and per cell what was cut and
    which of its stderr lines were the environment's. `pointed`: index → the source lines to
    highlight."""
    import nbformat

    cells, cuts, noise, budget = [], {}, {}, [TOTAL_CAP]
    for index, cell in enumerate(notebook.get("cells") or []):
        kind = cell.get("cell_type")
        source, cut = _cap_text(_source(cell), SOURCE_CAP, lang)
        notes = [text(lang, "ui.nb.cut_source", n=cut)] if cut else []
        if kind == "code":
            outputs, folded = [], [[], [], 0]
            for output in cell.get("outputs") or []:
                output = _without_noise(dict(output), folded)
                if output is None:
                    continue
                kept, note = _inert_output(output, lang, budget)
                if kept is not None:
                    outputs.append(nbformat.from_dict(kept))
                if note and note not in notes:
                    notes.append(note)
            if folded[2]:
                noise[index] = folded
            new = nbformat.v4.new_code_cell(source, outputs=outputs, execution_count=cell.get("execution_count"))
        elif kind == "markdown":
            new = nbformat.v4.new_markdown_cell(source)
        else:  # raw cells: shown as text, never as the HTML they may claim to be
            new = nbformat.v4.new_markdown_cell("```\n" + source.replace("```", "ˋˋˋ") + "\n```")
        new.metadata = {"grader_n": index + 1}
        if kind == "code" and (pointed or {}).get(index):
            # Pygments drops a source's leading blank lines: (row it shows, line number in the source)
            skipped = len(_code_lines(source)) - len(_code_lines(source).lstrip("\n"))
            new.metadata["grader_lines"] = [[n - skipped, n] for n in sorted(pointed[index]) if n > skipped]
        cells.append(new)
        if notes:
            cuts[index] = notes
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"language_info": {"name": "python"}})
    return Prepared(nb, cuts, budget[0] <= 0, noise)


def _mark_lines(html: str, lines) -> str:
    """nbconvert's highlighted source with each (row, line number) in `lines` (1-based) wrapped in
    private-use markers, which stay text through the sanitizer and become the page's own <mark>
    after it. Pygments closes its spans at each line's end, so a whole line can be wrapped."""
    start, end = html.find("<pre>"), html.rfind("</pre>")
    if start < 0 or end < start:
        return html
    start += len("<pre>")
    rows = html[start:end].split("\n")
    for row, number in lines:
        if 1 <= row <= len(rows) and rows[row - 1]:
            rows[row - 1] = f"{LINE_OPEN}{number}{LINE_NUMBER_END}{rows[row - 1]}{LINE_CLOSE}"
    return html[:start] + "\n".join(rows) + html[end:]


_MARKED = re.compile(f"{LINE_OPEN}(\\d+){LINE_NUMBER_END}")


def _unmark(html: str, cell: int) -> str:
    """The sanitized cell with the grader's line markers as <mark> elements (with anchors)."""
    html = _MARKED.sub(lambda m: f'<mark class="g-line" id="cell-{cell}-line-{m.group(1)}">', html)
    return html.replace(LINE_CLOSE, "</mark>")


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
    # no "In [3]": a cell is named by its position only (see CellMark)
    return HTMLExporter(template_name="grader", extra_template_basedirs=folders, exclude_anchor_links=True,
                        exclude_input_prompt=True, exclude_output_prompt=True, filters={"grader_mark_lines": _mark_lines})


def notebook_page(notebook: dict, cell_records: list[dict], checks, names, display_name: str, kind: str,
                  lang: str) -> NotebookPage:
    """Render `notebook` (as it ran, outputs included) into the page's cells, each marked with the
    contract names it defined and the checks that read them."""
    lang = language(lang)
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
    notes = _line_notes(notebook, checks, where, status_names)
    pointed = {index: {n for note in found for first, last in note.spans for n in range(first, last + 1)}
               for index, found in notes.items()}
    prepared = _prepared(notebook, lang, pointed)
    nb = prepared.notebook
    records = {int(r["index"]): str(r["status"]) for r in cell_records}
    body, _ = _exporter().from_notebook_node(nb)
    pieces = body.split(SPLIT)
    cells = []
    for position in range(1, len(pieces) - 1, 2):
        number = int(pieces[position])
        index = number - 1
        noise, sources, count = prepared.noise.get(index, ((), (), 0))
        label = text(lang, "ui.nb.noise", n=count, sources=", ".join(sources)) if count else ""
        if count > len(noise):
            noise = [*noise, text(lang, "ui.nb.noise_cut", n=count - len(noise))]
        mark = CellMark(number, records.get(index, "") if nb.cells[index].cell_type == "code" else "",
                        tuple(sorted(n for n, i in where.items() if i == index)), tuple(readers.get(index, ())),
                        tuple(prepared.cuts.get(index, ())), tuple(notes.get(index, ())), tuple(noise), label)
        cells.append((mark, _unmark(sanitize(pieces[position + 1], lang), number)))
    return NotebookPage(display_name, kind, tuple(cells), prepared.cut_total)


def _line_notes(notebook: dict, checks, where: dict[str, int], status_names: dict) -> dict[int, list[LineNote]]:
    """Cell index → the lines of its source that a verdict other than pass points at (`pointers.py`):
    looked for only in the cells that define what the check read; one note per cell and mistake
    (every line it shows in), naming every check that found it."""
    cells = notebook.get("cells") or []
    found: dict[tuple, tuple[set, list[CheckLink]]] = {}
    for check in checks:
        status = check["shown_status"]
        if status in ("pass", "skipped"):
            continue
        link = CheckLink(check["id"], check["title"], status, status_names.get(status, status))
        read = [name for name in check["reads"] if name in where]
        for index in sorted({where[name] for name in read}):
            source = _code_lines(_source(cells[index]))
            names = [name for name in read if where[name] == index]
            symptoms = dict(check.get("mistakes") or {})
            places = [(code, span) for code in symptoms for span in pointed_lines(code, source, names)]
            if not places:  # no diagnosed mistake shows in the source: the check's own pointer, if any
                places = [(check["id"], span) for span in pointed_lines(check["id"], source, names)]
            for key, span in places:
                spans, links = found.setdefault((index, symptoms.get(key) or check["title"]), (set(), []))
                spans.add(span)
                if all(other.id != link.id for other in links):
                    links.append(link)
    notes: dict[int, list[LineNote]] = {}
    for (index, what), (spans, links) in sorted(found.items(), key=lambda item: (item[0][0], min(item[1][0]))):
        spans = tuple(sorted(spans))
        line = _code_lines(_source(cells[index])).split("\n")[spans[0][0] - 1].strip()
        code = line if len(line) <= 120 else line[:119] + "…"
        notes.setdefault(index, []).append(LineNote(spans, code, what, tuple(links)))
    return notes


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


__all__ = ["notebook_page", "render_notebook_page", "NotebookPage", "CellMark", "CheckLink", "LineNote", "definitions",
           "assigned_names", "sanitize"]
