"""Pages measured in headless Chromium at a desktop and a phone width: does the page itself
scroll sideways, does an image stick out, is any text smaller than 11 px.

Headless Chromium does not lay a page out narrower than 500 px: `--window-size=390,…` gives
`window.innerWidth == 500` (Chromium 156, with or without `--force-device-scale-factor=1`,
old or new headless; its screenshot is 390 px wide, but cropped from a 500 px layout). So each
page is measured inside an `<iframe width=W srcdoc=…>` of a wrapper page: an iframe is its
document's viewport (innerWidth == W, and `@media (max-width:600px)` applies at 390), and a
srcdoc document is same-origin with the wrapper, whose script reads its layout. The page is
not modified (its CSP stays: it binds the page's own scripts, not the wrapper's). One Chromium
run measures every page at every width. The iframe shows no scroll bar (`scrolling="no"`), as
a phone's overlay bar takes no room: the viewport is exactly W.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from .lint import Finding

WIDTHS = (1280, 390)
MIN_FONT_PX = 11.0

# Runs in the wrapper after every iframe has loaded; writes what it measured into <pre id="measure">.
SCRIPT = r"""
function describe(el) {
  let name = el.tagName.toLowerCase();
  if (el.id) name += '#' + el.id;
  if (el.classList.length) name += '.' + [...el.classList].join('.');
  return name;
}
function ownText(el) {
  return [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('').replace(/\s+/g, ' ').trim();
}
function measureFrame(frame) {
  const win = frame.contentWindow, doc = frame.contentDocument, root = doc.documentElement;
  const vw = root.clientWidth;
  const out = {name: frame.dataset.name, width: Number(frame.dataset.width), inner: win.innerWidth, viewport: vw,
               scrollWidth: root.scrollWidth, overflow: [], images: [], small: []};
  const scrolls = el => {
    for (let a = el.parentElement; a && a !== doc.body; a = a.parentElement) {
      const o = win.getComputedStyle(a).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') return true;
    }
    return false;
  };
  const culprits = [];
  for (const el of doc.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (out.scrollWidth > vw) {  // what makes the page wider: a box past the edge, or a box whose content spills
      const sticks = r.width > 0 && r.right > vw + 0.5;
      const spills = el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1 && win.getComputedStyle(el).overflowX === 'visible';
      if ((sticks || spills) && !scrolls(el)) culprits.push(el);
    }
    if (el.tagName === 'IMG' && (r.right > vw + 0.5 || r.width > vw + 0.5))
      out.images.push({el: describe(el), right: Math.round(r.right), width: Math.round(r.width), alt: (el.alt || '').slice(0, 60)});
    const text = ownText(el);
    if (text) {
      const size = parseFloat(win.getComputedStyle(el).fontSize);
      if (size < MIN_PX) out.small.push({el: describe(el), px: size, text: text.slice(0, 60)});
    }
  }
  for (const el of culprits.filter(el => !culprits.some(other => other !== el && el.contains(other))).slice(0, 12)) {
    const r = el.getBoundingClientRect();
    out.overflow.push({el: describe(el), right: Math.round(Math.max(r.right, r.left + el.scrollWidth)),
                       text: (el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 80)});
  }
  return out;
}
window.addEventListener('load', () => {
  const frames = [...document.querySelectorAll('iframe')];
  document.getElementById('measure').textContent = JSON.stringify(frames.map(measureFrame));
});
"""


def wrapper(pages: Mapping[str, str], widths: tuple[int, ...] = WIDTHS) -> str:
    """A page holding every page at every width, each in its own srcdoc iframe."""
    frames = "\n".join(f'<iframe data-name="{html.escape(name)}" data-width="{width}" width="{width}" height="900" scrolling="no" '
                       f'style="border:0;display:block" srcdoc="{html.escape(page, quote=True)}"></iframe>'
                       for name, page in pages.items() for width in widths)
    script = SCRIPT.replace("MIN_PX", repr(MIN_FONT_PX))
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">{frames}'
            f'<pre id="measure"></pre><script>{script}</script></body></html>')


def measure(pages: Mapping[str, str], workdir: Path, widths: tuple[int, ...] = WIDTHS) -> list[dict]:
    """Every page at every width, measured in one headless Chromium run (see the module's docstring)."""
    chromium = shutil.which("chromium")
    assert chromium, "chromium is installed by scripts/setup.sh"
    workdir.mkdir(parents=True, exist_ok=True)
    page = workdir / "measure.html"
    page.write_text(wrapper(pages, widths), encoding="utf-8")
    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={workdir / 'profile'}", f"--window-size={max(widths) + 20},2000",
                           "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="measure">(.*?)</pre>', done.stdout, re.S)
    assert found and found.group(1).strip(), f"the measuring script wrote nothing: {done.stderr[-2000:]}"
    measured = json.loads(html.unescape(found.group(1)))
    assert len(measured) == len(pages) * len(widths)
    return measured


def layout_findings(measured: list[dict]) -> list[Finding]:
    """What a reader at each width would suffer: the page scrolls sideways (and what sticks
    out), an image wider than the screen, text under 11 px (grouped by element and size)."""
    found = []
    for m in measured:
        where = f"{m['name']} @ {m['width']}"
        assert m["inner"] == m["width"], f"{where}: laid out at {m['inner']} px, not {m['width']}"
        if m["scrollWidth"] > m["viewport"]:
            culprits = "; ".join(f"{o['el']} → {o['right']} px {o['text']!r}" for o in m["overflow"][:3])
            found.append(Finding("overflow", f"{where}: page {m['scrollWidth']} px wide in {m['viewport']} px ({culprits})"))
        for image in m["images"]:
            found.append(Finding("image_width", f"{where}: {image['el']} {image['width']} px, right edge {image['right']} px "
                                                f"({image['alt']!r})"))
        groups: dict[tuple[str, float], list[str]] = {}
        for small in m["small"]:
            groups.setdefault((small["el"], small["px"]), []).append(small["text"])
        for (element, px), texts in groups.items():
            found.append(Finding("font_size", f"{where}: {element} {px:g} px ×{len(texts)}, e.g. {texts[0]!r}"))
    return found



def folder_pages(folder: Path) -> dict[str, str]:
    """A graded student's pages: report.html, and notebook.html when there is one."""
    return {name: (Path(folder) / name).read_text(encoding="utf-8")
            for name in ("report.html", "notebook.html") if (Path(folder) / name).exists()}


__all__ = ["WIDTHS", "MIN_FONT_PX", "wrapper", "measure", "layout_findings", "folder_pages"]
