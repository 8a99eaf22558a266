"""Writes samples/planted/: copies of alice's and bob's notebooks, edited the way a copier hides a
copy. Run once (`python tests/similarity/make_planted.py`); the files are committed, and
tests/similarity and bench/similarity.py read them. The contract's names (ex1_*, hw_*, …) are
kept, as a copier must keep them for the grader to read the notebook.

    alice_renamed     every other variable, function and parameter renamed
    alice_reordered   the code cells in another order (exercises 2–5 before the homework)
    alice_commented   a comment on most lines, a docstring, new comment cells' text
    alice_all_edits   the three together
    bob_whitespace    only whitespace: two-space indents, spaces around operators, blank lines
"""

from __future__ import annotations

import io
import json
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "samples" / "planted"
RENAMES = {"model": "net", "history": "run_log", "init": "scheme", "kernel_norms": "frobenius_list", "units": "width",
           "mlp": "make_network", "name": "tag", "diff": "gap", "train_once": "single_run", "same": "twin_runs",
           "other": "free_runs", "h": "signal", "layer": "lyr", "ex3_activations": "layer_outputs", "u": "w",
           "EX_EPOCHS": "SHORT", "seed": "rng_seed", "fan_in": "n_inputs", "fan_out": "n_outputs", "a": "left",
           "b": "right", "activation": "act_fn", "kernel_initializer": "k_init"}
KEEP_KEYWORDS = {"activation", "kernel_initializer"}  # Keras' own keyword arguments keep their names


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def rename(source: str) -> str:
    """Rename identifiers with the tokenizer (never inside strings or comments); a Keras keyword
    argument (`activation=` in a call to Keras) keeps its name, the student's own parameter is renamed."""
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    out = []
    for i, tok in enumerate(tokens):
        attribute = i > 0 and tokens[i - 1].string == "."  # keras' own attributes (history.history) stay
        new = RENAMES.get(tok.string) if tok.type == tokenize.NAME and not attribute else None
        if new and tok.string in KEEP_KEYWORDS:
            after = tokens[i + 1].string if i + 1 < len(tokens) else ""
            before = tokens[i - 1].string if i else ""
            in_keras_call = after == "=" and before in (",", "(") and "keras" in tok.line and "def " not in tok.line
            if in_keras_call:
                new = None
        out.append(tok._replace(string=new) if new else tok)
    return tokenize.untokenize(out)


def comment(source: str, n: int) -> str:
    notes = ["# paso importante", "# ver la clase", "# esto fija todo", "# ok", "# revisar despues",
             "# segun Géron cap. 11", "# lo pide el enunciado"]
    lines = []
    for i, line in enumerate(source.split("\n")):
        if line.strip() and not line.rstrip().endswith((",", "(", "[", "\\")) and '"""' not in line:
            line = f"{line}  {notes[(i + n) % len(notes)]}"
        lines.append(line)
    text = "\n".join(lines)
    if text.startswith("def build_model"):
        first, rest = text.split("\n", 1)
        text = f'{first}\n    """Arma el MLP de la tarea."""\n{rest}'
    return f"# Celda {n}: hecha por mí\n{text}"


def notebook(sources: list[str], stem: str) -> None:
    nb = {"cells": [], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    for i, source in enumerate(sources):
        nb["cells"].append({"cell_type": "code", "execution_count": None, "id": f"{stem}-{i}", "metadata": {},
                            "outputs": [], "source": source})
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{stem}.ipynb").write_text(json.dumps(nb, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def code_of(path: Path) -> list[str]:
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells(path)
            if c["cell_type"] == "code"]


def reorder(sources: list[str]) -> list[str]:
    # data, ex. 1, exercises 2–5, build_model, the homework's loop, its comparison
    return [sources[0], sources[1], sources[5], sources[2], sources[3], sources[4]]


def whitespace(source: str) -> str:
    lines = []
    for line in source.split("\n"):
        body = line.lstrip(" ")
        depth = (len(line) - len(body)) // 4
        rest = (len(line) - len(body)) % 4
        body = body.replace(", ", " ,  ").replace("=", " = ").replace(" =  = ", " == ") if not body.startswith("#") else body
        lines.append("  " * depth + " " * rest + body + "   ")
        if body.startswith(("def ", "for ")):
            lines.append("")
    return "\n\n".join(["\n".join(lines)])


def main() -> None:
    alice = code_of(ROOT / "assignments" / "alice.ipynb")
    bob = code_of(ROOT / "assignments" / "bob.ipynb")
    notebook([rename(s) for s in alice], "alice_renamed")
    notebook(reorder(alice), "alice_reordered")
    notebook([comment(s, i) for i, s in enumerate(alice)], "alice_commented")
    notebook([comment(s, i) for i, s in enumerate(reorder([rename(s) for s in alice]))], "alice_all_edits")
    notebook([whitespace(s) for s in bob], "bob_whitespace")


if __name__ == "__main__":
    main()
