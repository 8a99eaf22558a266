"""The exact training memo: a fit the grader already trained is served, not trained again.

    fitmemo.py  the key, the entries and the `fit` wrapper; runs in the sandbox (serving only,
                loaded from source) and in the grader's training worker (serving and recording)
    store.py    the persistent folder of entries, and how a sandbox is given it (read-only, by
                exact key, unlistable)
    claims.py   the sandbox's memo log, read as a claim for result.json and the report

Trust: entries are written only by the grader's own worker; a sandbox can open an entry it can
name, never list or write one. Whatever the sandbox says about the memo is a claim: no verdict
reads it (the checks compare the student's numbers with the grader's own retraining).
"""

from .claims import memo_claims
from .store import MemoSettings, MemoStore, SOURCE

__all__ = ["MemoStore", "MemoSettings", "SOURCE", "memo_claims"]
