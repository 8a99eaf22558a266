"""The browser measurements (tests/report/browser.py) in a real headless Chromium: a page that
scrolls sideways, an image wider than the phone and 9 px text are each found, at the width
where they happen; a page without them gives nothing."""

from __future__ import annotations

from . import browser

CLEAN = ('<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
         'style-src \'unsafe-inline\'"><style>body{margin:0;font-size:16px}main{max-width:980px;margin:0 auto;padding:16px}'
         '.wide{overflow-x:auto}</style></head><body><main><p>Texto legible.</p>'
         '<div class="wide"><table><tr><td style="white-space:nowrap">{long}</td></tr></table></div></main></body></html>')
LONG = "una celda muy ancha " * 30


def test_overflow_wide_images_and_small_text_are_found_at_their_width(tmp_path):
    broken = CLEAN.replace('<p>Texto legible.</p>', '<p style="font-size:9px">Nota diminuta.</p><div style="width:700px">ancho</div>'
                           '<img width="600" height="10" alt="figura" src="data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7">')
    measured = browser.measure({"clean": CLEAN.replace("{long}", LONG), "broken": broken.replace("{long}", LONG)}, tmp_path)
    assert {(m["name"], m["width"]): m["inner"] for m in measured} == {
        ("clean", 1280): 1280, ("clean", 390): 390, ("broken", 1280): 1280, ("broken", 390): 390}
    found = browser.layout_findings(measured)
    assert [f for f in found if f.excerpt.startswith("clean")] == []  # a wide table scrolls inside its own box
    kinds = sorted((f.kind, f.excerpt.split(":")[0]) for f in found)
    assert kinds == [("font_size", "broken @ 1280"), ("font_size", "broken @ 390"), ("image_width", "broken @ 390"),
                     ("overflow", "broken @ 390")], found
    assert "div → 716 px" in next(f.excerpt for f in found if f.kind == "overflow")
