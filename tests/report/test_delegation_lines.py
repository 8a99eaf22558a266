"""The report's words for delegated fits ("Cómo se corrigió"), from the grader's own count."""

from __future__ import annotations

import pytest

from grader.messages import text
from grader.report.student import memo_lines

MEMO = {"enabled": True, "fits": 3, "served": 3, "trained": 0, "seconds_served": 69.0, "why": {"delegated": 1, "served": 2}}
DELEGATION = {"enabled": True, "requests": 3, "trained": 1, "already": 0, "refused": {"data": 1, "key": 1}, "cancelled": 1}


@pytest.mark.parametrize("lang", ["es", "en"])
def test_served_delegated_refused_and_cancelled_are_each_said_once(lang):
    lines = memo_lines(MEMO, lang, DELEGATION)
    assert lines[0] == text(lang, "memo.served", served=3, fits=3, seconds="69.0")
    assert lines[1] == text(lang, "delegate.summary", trained=1, requests=3, already=0)
    why = f"1 {text(lang, 'delegate.kind.data')}; 1 {text(lang, 'delegate.kind.key')}"
    assert lines[2] == text(lang, "delegate.refused", n=2, why=why)
    assert lines[3] == text(lang, "delegate.cancelled", n=1)
    assert len(lines) == 4  # a delegated fit is served, not "trained": no "Entrenados de verdad" line


@pytest.mark.parametrize("lang", ["es", "en"])
def test_nothing_is_said_when_nothing_was_asked(lang):
    assert memo_lines(MEMO, lang, {"enabled": True, "requests": 0}) == [text(lang, "memo.served", served=3, fits=3, seconds="69.0")]
    assert memo_lines(MEMO, lang, {"enabled": False}) == memo_lines(MEMO, lang, None)
