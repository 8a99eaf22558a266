"""A lint for the pages the grader writes (report.html, notebook.html): the defects of issue 27
as rules, so that once fixed they stay fixed.

Each rule is a pure function of a page's HTML text (and, where it needs one, of what
result.json says) returning a list of `Finding(kind, excerpt)`; an empty list is a clean page.
The rules read only what a student reads: code spans (`<code>`, `.code`, `<pre>`), the
student's own notebook (`.g-body`) and strings the student wrote (`student_strings`) are left
out, so a rule speaks about the grader's words and nothing else.

Where grader facts belong: the sandbox, the protocol, the cache and the memo are allowed only
inside one folded section, `<details id="how-graded">` ("cómo se corrigió / how it was
graded"); the `machinery` rule reports them anywhere else (`HOW_GRADED` below).

The figures are PNG data URIs, so their axes are checked where they are drawn: `unlabelled_axes`
and `small_text` take a matplotlib figure (tests/report/test_lint.py calls every function of
grader/report/plots.py with real inputs and reads the figure before it becomes a PNG).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, NamedTuple

from ..spanish import spanish_words

ROOT = Path(__file__).resolve().parents[2]
HOW_GRADED = "how-graded"  # id of the one <details> where grader machinery may be named
CODE = "\u27e8code\u27e9"  # what a code span becomes in prose (so words around it stay apart)
_BACKTICKS = re.compile(r"`[^`\n]{1,200}`")
MINUS = "\u2212"


class Finding(NamedTuple):
    """One defect: its rule (`kind`) and the text that shows it, short enough to quote."""

    kind: str
    excerpt: str


# --- a small DOM -----------------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
BLOCKS = {"p", "li", "dd", "dt", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "figcaption", "caption", "summary",
          "div", "section", "article", "header", "main", "ol", "ul", "dl", "table", "tr", "figure", "details", "body",
          "title", "pre"}
SKIP = {"style", "script", "head"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def ancestors(self) -> Iterator[Node]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else ("\n" if c.tag == "br" else c.text()) for c in self.children)

    def iter(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()


class _Builder(HTMLParser):
    """html.parser into Nodes; an end tag closes up to the nearest open element of that name."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.open = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.open)
        self.open.children.append(node)
        if tag not in VOID:
            self.open = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.open))

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.open
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.open = node.parent

    def handle_data(self, data: str) -> None:
        self.open.children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def _is_code(node: Node) -> bool:
    return node.tag in ("code", "pre", "kbd", "samp") or "code" in node.classes


def _is_student(node: Node) -> bool:
    """The student's own notebook cells on notebook.html."""
    return "g-body" in node.classes


SEPARATE = {"g-st", "badge", "pts", "gain", "g-n"}  # inline boxes set apart by CSS: their own units


def _is_block(node: Node) -> bool:
    return node.tag in BLOCKS or (node.tag == "span" and bool(node.classes & SEPARATE))


@dataclass(frozen=True)
class Unit:
    """A run of text a reader meets as one piece (a paragraph, a cell, a list item, an alt text):
    `text` with its code spans, `prose` with each code span replaced by CODE."""

    tag: str
    text: str
    prose: str
    node: Node
    how_graded: bool

    def where(self, *tags: str) -> Node | None:
        return next((a for a in (self.node, *self.node.ancestors()) if a.tag in tags), None)


def _inline(node: Node, code: bool) -> tuple[str, str]:
    """(text, prose) of a block's own inline content; nested blocks are their own units."""
    text, prose = [], []
    for child in node.children:
        if isinstance(child, str):
            text.append(child)
            prose.append(CODE if code else child)
        elif child.tag == "br":
            text.append("\n")
            prose.append("\n")
        elif child.tag in SKIP or _is_block(child) or child.tag == "img":
            text.append("\n")
            prose.append("\n")
        else:
            inner_code = code or _is_code(child)
            t, p = _inline(child, inner_code)
            text.append(t)
            prose.append(CODE if inner_code and not code else p)
    return "".join(text), "".join(prose)


def units(html: str | Node, student: Iterable[str] = ()) -> list[Unit]:
    """Every piece of grader-written text on the page, in order: code blocks (`pre`) and the
    student's notebook cells are left out, and every string in `student` is blanked."""
    root = parse(html) if isinstance(html, str) else html
    blanks = sorted({s for s in student if s and len(s.strip()) >= 2}, key=len, reverse=True)
    found: list[Unit] = []

    def visit(node: Node, how: bool) -> None:
        if node.tag in SKIP or _is_student(node) or node.tag == "pre":
            return
        how = how or (node.tag == "details" and node.attrs.get("id") == HOW_GRADED)
        if node.tag == "img" and node.attrs.get("alt"):
            found.append(Unit("img@alt", node.attrs["alt"], node.attrs["alt"], node, how))
        if _is_block(node) or node.tag == "#root":
            text, prose = _inline(node, _is_code(node))
            if node.tag == "title":
                text = prose = node.text()
            for blank in blanks:
                text, prose = text.replace(blank, " "), prose.replace(blank, " ")
            prose = _BACKTICKS.sub(CODE, prose)  # a catalog's `code` shown as written is still code
            if text.strip():
                found.append(Unit(node.tag, text, prose, node, how))
        for child in node.children:
            if isinstance(child, Node):
                visit(child, how)
    visit(root, False)
    return found


def student_strings(result: dict | None) -> list[str]:
    """What the student wrote that result.json carries (names, their errors, their cells' heads):
    the page quotes it, and no rule judges the student's words."""
    if not result:
        return []
    strings = [str(result.get(k) or "") for k in ("display_name", "student")]
    strings += [str(v) for v in (result.get("identity") or {}).values() if isinstance(v, str)]
    for cell in (result.get("execution") or {}).get("cells") or []:
        strings += [str(cell.get(k) or "") for k in ("ename", "evalue", "source_head")]
    return [s for s in strings if s.strip()]


def _short(text: str, at: int | None = None, width: int = 90) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    if at is None or len(text) <= width:
        return text[:width]
    start = max(0, min(at - width // 2, len(text) - width))
    return text[start:start + width]


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# --- sign ------------------------------------------------------------------------------------------

NUMBER = r"[+\-\u2212]?\d+(?:[.,]\d+)?"
_DIFF = re.compile(r"(?P<a>[A-Za-z][\w.()]*(?: ?\+ ?[A-Za-z]\w*)?)\s*[\u2212\-]\s*(?P<b>[A-Za-z][\w.()]*)\b(?P<rest>[^\n]*)")
_NUM = re.compile(NUMBER)
# how the prose names a run: He ↔ he_normal / he_uniform, Glorot ↔ glorot_uniform, Xavier too
_FAMILY = {"he": ("he_normal", "he_uniform", "he"), "glorot": ("glorot_uniform", "glorot_normal", "glorot"),
           "xavier": ("glorot_uniform", "glorot_normal")}
_YOURS = re.compile(r"\b(usted|suy[oa]s?|your|you|yours)\b", re.I)
_GRADER = re.compile(r"\b(corrector|grader)\b", re.I)


def _number(text: str) -> float:
    return float(text.replace(MINUS, "-").replace(",", "."))


def _matches(key: str, token: str) -> bool:
    """Whether a run `key` of a table (he_normal, glorot_uniform_tanh) is what a prose `token`
    names: itself, or a run of its family (`He` → he_normal, he_uniform_tanh…)."""
    token = token.strip("():").lower().split("+")[0].strip()
    if key == token:
        return True
    family = "glorot" if token == "xavier" else token
    return family in _FAMILY and (key in _FAMILY[family] or key.startswith(family + "_"))


def _values(section: Node) -> dict[str, list[tuple[float | None, float | None]]]:
    """run name → (yours, grader) from the section's table rows that quote one run's accuracy
    (the ones a difference row is computed from): a label naming the run, two numbers."""
    table: dict[str, list[tuple[float | None, float | None]]] = {}
    for row in (n for n in section.iter() if n.tag == "tr"):
        cells = [_clean(c.text()) for c in row.children if isinstance(c, Node) and c.tag in ("td", "th")]
        if len(cells) < 3 or re.search(r"[\u2212\-]\s*[A-Za-z]", cells[0]) or "accuracy" not in cells[0].lower():
            continue
        nums = [(_number(c) if re.fullmatch(NUMBER, c) else None) for c in cells[1:3]]
        if all(n is None for n in nums):
            continue
        for token in re.findall(r"[A-Za-z][\w]*", cells[0].split(",")[-1]):
            if token.lower() in _FAMILY or "_" in token:
                table.setdefault(token.lower(), []).append((nums[0], nums[1]))
    return table


def _lookup_values(values: dict, token: str) -> list[tuple[float | None, float | None]]:
    return [v for name, vs in values.items() if _matches(name, token) for v in vs]


ROUNDING = 0.011  # two numbers shown to 2 decimals (86.90 − 87.06) are off by at most 0.01 together


def _disagrees(stated: float, a: float | None, b: float | None) -> bool:
    """Signs that differ beyond rounding; fractions (0.7212, 4 digits) round 100 times finer
    than percents, and a stated "+0.00" has no sign to disagree with."""
    if a is None or b is None:
        return False
    actual = a - b
    tol = ROUNDING / 100 if max(abs(a), abs(b)) <= 1 else ROUNDING
    return abs(actual) > tol and abs(stated) > ROUNDING and (actual > 0) != (stated > 0)


def _signed(value: float) -> str:
    return f"{value:+.4g}".replace("-", MINUS)


def sign(html: str, student: Iterable[str] = ()) -> list[Finding]:
    """A stated difference `A − B … ±x` whose sign disagrees with A and B as the same section
    gives them (its table rows, or `A 86.90 … B 87.06` in the same sentence).

    Precise by construction: a statement is a finding only when every reading of its names
    (He may be he_normal or he_uniform) and every column it may speak of (yours, the grader's)
    gives the opposite sign, beyond the rounding of the numbers shown."""
    root = parse(html)
    found = []
    for unit in units(root, student):
        in_row = unit.node.parent is not None and unit.node.parent.tag == "tr"
        if in_row and unit.tag != "td":
            continue
        for match in _DIFF.finditer(unit.prose):
            head = re.split(r"[;.](?:\s|$)", match.group("rest"), maxsplit=1)[0]
            if re.match(r"\s*[(\[]?[\d.]+\s*[,×x]", head):
                continue
            scope = unit.where("section") or root
            inline = {m.group(1).lower(): [(_number(m.group(2)), _number(m.group(2)))]
                      for m in re.finditer(r"\b([A-Za-z][\w]*)\s*:?\s*(" + NUMBER + r")\s*%", unit.prose)}
            values = inline or _values(scope)
            a_vals, b_vals = _lookup_values(values, match.group("a")), _lookup_values(values, match.group("b"))
            if not a_vals or not b_vals:
                continue
            if in_row:  # a table row: its own cells are yours, then the grader's
                texts = [_clean(c.text()) for c in unit.node.parent.children if isinstance(c, Node) and c.tag == "td"]
                stated: list[tuple[float, list[int]]] = [(_number(t), [i]) for i, t in enumerate(texts[1:3])
                                                         if re.fullmatch(NUMBER, t)]
            else:
                nums = list(_NUM.finditer(head))[:2]
                stated = []
                for i, m in enumerate(nums):
                    before = head[:m.start()]
                    marks = [(x.end(), c) for c, pattern in ((0, _YOURS), (1, _GRADER)) for x in pattern.finditer(before)]
                    columns = [max(marks)[1]] if marks else [i] if len(nums) == 2 else [0, 1]
                    stated.append((_number(m.group(0)), columns))
            for value, columns in stated:
                readings = [(a[c], b[c]) for c in columns for a in a_vals for b in b_vals]
                if readings and all(_disagrees(value, x, y) for x, y in readings):
                    x, y = readings[0]
                    found.append(Finding("sign", f"{_short(match.group(0))} (stated {_signed(value)}, {match.group('a')} "
                                                 f"{x:g} − {match.group('b')} {y:g} = {_signed(x - y)})"))
    return found


# --- duplicate fix ---------------------------------------------------------------------------------

def _fix_items(root: Node) -> list[tuple[str, str]]:
    """(check id, fix text) of each item of `ol.fixfirst`: the text after the item's <br>."""
    items = []
    for ol in (n for n in root.iter() if n.tag == "ol" and "fixfirst" in n.classes):
        for li in (c for c in ol.children if isinstance(c, Node) and c.tag == "li"):
            link = next((n for n in li.iter() if n.tag == "a"), None)
            check = (link.attrs.get("href", "") if link else "").removeprefix("#check-")
            text = li.text()
            fix = text.split("\n", 1)[1] if "\n" in text else ""
            items.append((check, _clean(fix)))
    return items


def duplicate_fix(html: str) -> list[Finding]:
    """The same fix twice in "what to fix first" (after whitespace normalisation), one fix
    inside another item's, or the same fix twice under one check."""
    root = parse(html)
    found = []
    items = _fix_items(root)
    seen: dict[str, str] = {}
    for check, fix in items:
        if not fix:
            continue
        if fix in seen:
            found.append(Finding("duplicate_fix", f"{seen[fix]} = {check}: {_short(fix)}"))
        else:
            for other, other_check in seen.items():
                if len(fix) >= 30 and (fix in other or other in fix):
                    found.append(Finding("duplicate_fix", f"{other_check} ⊃ {check}: {_short(min(fix, other, key=len))}"))
            seen[fix] = check
    for article in (n for n in root.iter() if n.tag == "article"):
        fixes = [_clean(dd.text()) for dt, dd in zip(*[iter([c for c in _dl_children(article)])] * 2)
                 if _clean(dt.text()) in _HOW_LABELS()]
        for fix in {f for f in fixes if fixes.count(f) > 1}:
            found.append(Finding("duplicate_fix", f"{article.attrs.get('id', '')}: {_short(fix)}"))
    return found


def _dl_children(article: Node) -> list[Node]:
    return [c for dl in article.iter() if dl.tag == "dl" for c in dl.children if isinstance(c, Node) and c.tag in ("dt", "dd")]


@lru_cache(maxsize=1)
def _HOW_LABELS() -> frozenset[str]:  # noqa: N802 - a constant read once from the catalogs
    return frozenset(_catalog(lang).get("ui.how", "") for lang in ("es", "en"))


@lru_cache(maxsize=2)
def _catalog(lang: str) -> dict[str, str]:
    return json.loads((ROOT / "grader" / "messages" / f"{lang}.json").read_text(encoding="utf-8"))


# --- contradicting initializer ---------------------------------------------------------------------

_LITERAL = re.compile(r"\b(kernel|bias)_initializer\s*=\s*['\"]([\w.]+)['\"]")
_INIT_NAMES = re.compile(r"\b(he_normal|he_uniform|glorot_uniform|glorot_normal|lecun_normal|lecun_uniform|zeros|ones|"
                         r"random_normal|random_uniform|orthogonal|truncated_normal)\b")


def _articles(root: Node) -> dict[str, tuple[str, list[str]]]:
    """check id → (its "expected" text, its fixes' texts), from each check's <article>."""
    labels = {lang: (_catalog(lang).get("ui.expected", ""), _catalog(lang).get("ui.how", "")) for lang in ("es", "en")}
    expected_labels = {e for e, _ in labels.values()}
    how_labels = {h for _, h in labels.values()}
    found = {}
    for article in (n for n in root.iter() if n.tag == "article" and n.attrs.get("id", "").startswith("check-")):
        kids = _dl_children(article)
        expected, fixes, last = "", [], ""
        for kid in kids:
            if kid.tag == "dt":
                last = _clean(kid.text())
            elif last in expected_labels:
                expected = _clean(kid.text())
            elif last in how_labels:
                fixes.append(_clean(kid.text()))
        found[article.attrs["id"].removeprefix("check-")] = (expected, fixes)
    return found


def contradicting_initializer(html: str, result: dict | None = None) -> list[Finding]:
    """A fix that hard-codes an initializer its own check does not expect: any
    `kernel_initializer=` literal in a bias check's fix (bias checks say nothing about the
    kernel, and for a model that ignores its argument the literal is wrong for two of three
    models), and any `kernel_/bias_initializer='x'` whose x is not among the initializers the
    check's "expected" names (from the page, or from result.json's `expected` when given)."""
    root = parse(html)
    articles = _articles(root)
    expected_json = {c["id"]: json.dumps(c.get("expected"), ensure_ascii=False)
                     for c in (result or {}).get("checks", []) if isinstance(c, dict) and "id" in c}
    fixes = [(check, fix) for check, (_, texts) in articles.items() for fix in texts]
    fixes += [(check, fix) for check, fix in _fix_items(root) if fix]
    found = []
    for check, fix in fixes:
        expected = expected_json.get(check) or articles.get(check, ("", []))[0]
        names = set(_INIT_NAMES.findall(expected))
        for match in _LITERAL.finditer(fix):
            role, value = match.groups()
            if "bias" in check and role == "kernel":
                found.append(Finding("contradicting_initializer", f"{check}: {_short(fix, match.start())}"))
            elif names and value not in names and (role == "bias") == ("bias" in check):
                found.append(Finding("contradicting_initializer",
                                     f"{check} expects {', '.join(sorted(names))}: {_short(fix, match.start())}"))
    return sorted(set(found), key=found.index)


# --- truncated -------------------------------------------------------------------------------------

# Capitalised words that begin no sentence: names the prose uses mid-sentence.
PROPER = {"He", "Glorot", "Xavier", "LeCun", "Keras", "TensorFlow", "ReLU", "Fashion", "MNIST", "Fashion-MNIST", "Dense",
          "Conv", "Conv2D", "Flatten", "Input", "Sequential", "RandomNormal", "RandomUniform", "TruncatedNormal",
          "VarianceScaling", "HeNormal", "HeUniform", "GlorotUniform", "GlorotNormal", "Python", "Jupyter", "NumPy",
          "SGD", "Adam", "ADAM", "Var", "KS", "IC", "CI", "NaN", "Frobenius", "Gradescope", "Canvas", "Moodle", "Dask",
          "Kolmogorov", "Smirnov", "Bessel", "Linux", "Chromium", "Welch", "Student", "Celda", "Cell", "Ej", "Ex",
          "None", "True", "False"}
_CUT_WORD = re.compile(r"([A-Za-zÁÉÍÓÚÑáéíóúñü]+)\u2026")
_RUN_ON = re.compile(r"\b([a-záéíóúñü][a-záéíóúñü]+)[ \t]+([A-ZÁÉÍÓÚÑ][a-záéíóúñü]+)\b")


@lru_cache(maxsize=1)
def vocabulary() -> frozenset[str]:
    """Every whole word the grader writes (catalogs, mistakes, contract), lowercased: a word
    cut short is not one of them."""
    texts = [*_catalog("es").values(), *_catalog("en").values(),
             (ROOT / "reference" / "mistakes.json").read_text(encoding="utf-8"),
             (ROOT / "reference" / "contract.json").read_text(encoding="utf-8")]
    return frozenset(w.lower() for t in texts for w in re.findall(r"[A-Za-zÁÉÍÓÚÑáéíóúñü]+", t))


@lru_cache(maxsize=1)
def _lowercase_words() -> frozenset[str]:
    """Words the catalogs write in lower case mid-sentence, or that begin their sentences ("Pase
    el argumento…"): a capitalised one of these right after a lower-case word is a sentence that
    began without the previous one's full stop."""
    mistakes = json.loads((ROOT / "reference" / "mistakes.json").read_text(encoding="utf-8"))
    texts = [*_catalog("es").values(), *_catalog("en").values(),
             *(text for row in mistakes.values() if isinstance(row, dict) for field in row.values() if isinstance(field, dict)
               for text in field.values())]
    lower = {w for t in texts for w in re.findall(r"(?<=[a-záéíóú,] )([a-záéíóúñ]+)\b", t)}
    starts = {w.lower() for t in texts for w in re.findall(r"(?:^|[.:;!?] )([A-ZÁÉÍÓÚÑ][a-záéíóúñü]+)\b", t, re.M)}
    return frozenset(lower | starts)


def truncated(html: str, student: Iterable[str] = ()) -> list[Finding]:
    """A word cut by "…" ("vuelv…": no space before it, and not a whole word), a text that stops
    on "…" right after a word ("no devolvió un modelo…": a message cut to fit a line) or on a
    colon with nothing after it ("could not be exported:"), a text cut
    after a word that cannot end one ("y …"), and a title that runs into the next sentence with
    no full stop ("mal calculado El límite"): a lower-case word, then a capitalised common word
    that is not a name (PROPER)."""
    found = []
    words, lower = vocabulary(), _lowercase_words()
    for unit in units(html, student):
        for match in _CUT_WORD.finditer(unit.prose):
            ends = not unit.prose[match.end():].strip()  # the text stops there: a sentence cut, whole word or not
            if ends or match.group(1).lower() not in words:
                found.append(Finding("truncated", _short(unit.prose, match.end())))
        for match in re.finditer(r"\b(y|o|de|del|la|el|los|las|en|a|que|con|por|para|and|or|of|the|to|in|with|a|an)\s\u2026",
                                 unit.prose):
            found.append(Finding("truncated", _short(unit.prose, match.end())))
        if unit.tag != "img@alt" and re.search(r"\w:$", unit.prose.strip()):  # "could not be exported:" and then nothing
            found.append(Finding("truncated", _short(unit.prose, len(unit.prose))))
        for line in unit.prose.split("\n"):
            for match in _RUN_ON.finditer(line):
                word = match.group(2)
                if word not in PROPER and word.lower() in lower:
                    found.append(Finding("truncated", f"…{_short(line, match.start(2), 60)}…"))
    return found


# --- language --------------------------------------------------------------------------------------

# English a Spanish page should not use in its own prose (the class says lote, semilla, entrenar…)
ENGLISH = ("batch", "batches", "checksum", "checksums", "seed", "seeds", "fit", "warning", "warnings", "cache", "cached",
           "default", "training", "dataset", "layer", "layers", "timeout", "notebook", "loss")
_IDENTIFIER = re.compile(r"\w*_\w+|\w+\(\)|\w+\.\w+")


def _prose_words(prose: str) -> str:
    """Prose without code, identifiers (val_accuracy, keras.layers) and quoted names ('he_normal')."""
    prose = prose.replace(CODE, " ")
    prose = re.sub(r"'[^'\n]{0,40}'|\"[^\"\n]{0,40}\"|«[^»\n]{0,40}»", " ", prose)
    return _IDENTIFIER.sub(" ", prose)


def language(html: str, lang: str, student: Iterable[str] = ()) -> list[Finding]:
    """English terms (ENGLISH) in a Spanish page's prose, or Spanish words (tests/spanish.py) in
    an English page's; code, identifiers, quoted names and the student's own text excluded."""
    found = []
    english = re.compile(r"\b(" + "|".join(ENGLISH) + r")\b", re.I)
    for unit in units(html, student):
        words = _prose_words(unit.prose)
        hits = english.findall(words) if lang == "es" else spanish_words(words)
        for hit in dict.fromkeys(hits):
            at = words.find(hit)
            found.append(Finding("language", f"{hit}: {_short(words, at, 70)}"))
    return found


# --- machinery -------------------------------------------------------------------------------------

MACHINERY = (r"grade calibrate", r"rubric\.json", r"homework\.measured", r"cach[ée]", r"bubblewrap", r"\bbwrap\b",
             r"uid 65534", r"65534", r"/usr/share/datasets", r"checksums?", r"firma del vanishing", r"vanishing signature",
             r"no hay cifras de su m[aá]quina", r"no figures from (?:your|their) machine", r"\bmemo\b",
             r"memoria de entrenamiento", r"memoria del corrector", r"training memo", r"\bsandbox\b", r"cgroups?",
             r"--[a-z][a-z-]+")


def machinery(html: str, student: Iterable[str] = ()) -> list[Finding]:
    """The grader's inner workings (MACHINERY) shown to a student anywhere but inside
    `<details id="how-graded">`: the sandbox, the cache, the memo and the protocol's files are
    facts for whoever wants them, folded, not text the student must read past."""
    pattern = re.compile("|".join(f"(?:{p})" for p in MACHINERY), re.I)
    found = []
    for unit in units(html, student):
        if unit.how_graded:
            continue
        words = unit.prose.replace(CODE, " ")
        for match in pattern.finditer(words):
            found.append(Finding("machinery", f"{match.group(0)}: {_short(words, match.start(), 70)}"))
    return found


# --- units -----------------------------------------------------------------------------------------

_QUANTITY = re.compile(r"\b(val_accuracy|accuracy|exactitud|precisi[oó]n)\b", re.I)
_FRACTION_WORDS = re.compile(r"\b(fracci[oó]n|fraction|de 0 a 1|from 0 to 1|0[–-]1)\b", re.I)


def units_mixed(html: str, student: Iterable[str] = ()) -> list[Finding]:
    """One quantity (accuracy) both as a percent (86.90 %) and as a fraction (0.869) on the same
    page, or a figure whose alt text or caption says fraction while the text says percent.

    A table row's unit is its label's "(%)" or a "%" by the number; a sentence's, a number within
    a few words after the quantity's name."""
    root = parse(html)
    percent: list[str] = []
    fraction: list[str] = []
    figure_fraction: list[str] = []
    for unit in units(root, student):
        prose = unit.prose
        if unit.tag in ("img@alt", "figcaption"):
            if _QUANTITY.search(prose) and _FRACTION_WORDS.search(prose):
                figure_fraction.append(_short(prose))
            continue
        if unit.tag == "td" and unit.node.parent is not None:
            row = [_clean(c.text()) for c in unit.node.parent.children if isinstance(c, Node) and c.tag in ("td", "th")]
            if row and unit.node is next(c for c in unit.node.parent.children if isinstance(c, Node)) and _QUANTITY.search(
                    _clean(unit.node.text())):
                numbers = [c for c in row[1:] if re.fullmatch(NUMBER + r"\s*%?", c)]
                if not numbers:
                    continue
                label = _clean(unit.node.text())
                if "%" in label or any(n.endswith("%") for n in numbers) or any(abs(_number(n.rstrip(" %"))) > 1 for n in numbers):
                    percent.append(f"{label}: {', '.join(numbers)}")
                else:
                    fraction.append(f"{label}: {', '.join(numbers)}")
            continue
        if unit.tag in ("td", "th"):
            continue
        for match in _QUANTITY.finditer(prose):
            after = prose[match.end():match.end() + 60]
            number = re.search(r"(?<![\w.])(" + NUMBER + r")(\s*%)?", after)
            if not number or re.search(r"[.;]\s", after[:number.start()]):
                continue
            value = _number(number.group(1))
            if number.group(2) or abs(value) > 1:
                percent.append(_short(prose, match.start(), 70))
            elif "." in number.group(1) or "," in number.group(1):
                fraction.append(_short(prose, match.start(), 70))
    found = []
    if percent and fraction:
        found += [Finding("units", f"% {percent[0]} | fraction {f}") for f in dict.fromkeys(fraction)]
    if percent and figure_fraction:
        found += [Finding("units", f"% {percent[0]} | figure {f}") for f in dict.fromkeys(figure_fraction)]
    return found


# --- every rule ------------------------------------------------------------------------------------

def report_findings(html: str, result: dict | None, lang: str) -> list[Finding]:
    """Every rule over one report.html (result.json gives the student's strings and the checks'
    expected values)."""
    student = student_strings(result)
    return [*sign(html, student), *duplicate_fix(html), *contradicting_initializer(html, result),
            *truncated(html, student), *language(html, lang, student), *machinery(html, student),
            *units_mixed(html, student)]


def notebook_findings(html: str, result: dict | None, lang: str) -> list[Finding]:
    """The rules that apply to notebook.html (its own words around the student's cells)."""
    student = student_strings(result)
    return [*language(html, lang, student), *machinery(html, student), *truncated(html, student)]


def by_kind(findings: Sequence[Finding]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for kind, excerpt in findings:
        grouped.setdefault(kind, []).append(excerpt)
    return grouped


# --- figures ---------------------------------------------------------------------------------------

def unlabelled_axes(fig: Any) -> list[str]:
    """The axes of a matplotlib figure that are drawn (not turned off) but lack an x or a y
    label: a plot a student cannot read without guessing what the axes are."""
    missing = []
    # a grid of panels may label its axes once for the whole figure (fig.supxlabel / supylabel)
    shared = {name: bool(text is not None and text.get_text().strip())
              for name, text in (("xlabel", getattr(fig, "_supxlabel", None)), ("ylabel", getattr(fig, "_supylabel", None)))}
    for index, ax in enumerate(fig.axes):
        if not ax.axison or not ax.get_visible():
            continue
        lacks = [name for name, label in (("xlabel", ax.get_xlabel()), ("ylabel", ax.get_ylabel()))
                 if not label.strip() and not shared[name]]
        if lacks:
            missing.append(f"axes {index} ({ax.get_title() or 'untitled'}): no {' and no '.join(lacks)}")
    return missing


# The page's content width at each viewport (report.html.j2: main max-width 980 px, padding 16 px
# each side; under 600 px, padding 6 px): what a figure is shown at, at most.
CONTENT_PX = {1280: 980 - 32, 390: 390 - 12}
MIN_PX = 11.0
SAVE_DPI = 90  # plots.png_data_uri


def small_text(fig: Any, viewport: int, min_px: float = MIN_PX) -> list[str]:
    """Text of a figure smaller than `min_px` CSS pixels once shown in the report at `viewport`.

    The figure is saved at SAVE_DPI with a tight box, so its natural width is w_in × SAVE_DPI px
    (w_in: the tight box's width) and the page shrinks it to display_px = min(natural,
    CONTENT_PX[viewport]) (`max-width:100%`). A text of s points is s × SAVE_DPI / 72 px at
    natural size, so on screen it is

        px = s × (display_px / (w_in × 72))

    (the formula of issue 27 with the tight width; for a figure no wider than the content, the
    text is shown at its natural s × 90/72 px)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width_in = fig.get_tightbbox(renderer).width
    display_px = min(width_in * SAVE_DPI, CONTENT_PX[viewport])
    scale = display_px / (width_in * 72)
    small: dict[tuple[float, float], list[str]] = {}
    for artist in fig.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text")):
        text = artist.get_text()
        if not text.strip() or not artist.get_visible():
            continue
        px = artist.get_fontsize() * scale
        if px < min_px:
            small.setdefault((artist.get_fontsize(), round(px, 1)), []).append(text)
    return [f"{pt:g} pt → {px:.1f} px: " + ", ".join(repr(t[:40]) for t in list(dict.fromkeys(texts))[:3])
            + (f" … ({len(set(texts))} texts)" if len(set(texts)) > 3 else "")
            for (pt, px), texts in sorted(small.items())]



def folder_findings(folder: Path, lang: str) -> list[Finding]:
    """Every rule over one graded student's folder (report.html, notebook.html when there is
    one, result.json), each excerpt prefixed with the page it comes from."""
    folder = Path(folder)
    result = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    found = [Finding(kind, f"report.html: {excerpt}")
             for kind, excerpt in report_findings((folder / "report.html").read_text(encoding="utf-8"), result, lang)]
    if (folder / "notebook.html").exists():
        found += [Finding(kind, f"notebook.html: {excerpt}")
                  for kind, excerpt in notebook_findings((folder / "notebook.html").read_text(encoding="utf-8"), result, lang)]
    return found


def summary(findings: Sequence[Finding]) -> str:
    """Findings as a failing test prints them: one line each, grouped by rule."""
    return "\n".join(f"{kind} ({len(excerpts)}):\n" + "\n".join(f"  {e}" for e in excerpts)
                     for kind, excerpts in by_kind(findings).items())


__all__ = ["Finding", "Unit", "units", "parse", "student_strings", "sign", "duplicate_fix", "contradicting_initializer",
           "truncated", "language", "machinery", "units_mixed", "report_findings", "notebook_findings", "by_kind",
           "unlabelled_axes", "small_text", "folder_findings", "summary", "CONTENT_PX", "HOW_GRADED", "PROPER", "ENGLISH", "MACHINERY"]
