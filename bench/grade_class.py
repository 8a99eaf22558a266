"""What the training memo buys: one submission with and without it, a class of 12, a warm regrade.

    .venv/bin/python bench/grade_class.py [--data-dir DIR] [--students N] [--jobs J] [--keep DIR]
    .venv/bin/python bench/grade_class.py --scheduler spawn|tcp://HOST:PORT [--data-dir DIR] [--students N]
    .venv/bin/python bench/grade_class.py --delegation [--phases bob,buggy_class,alice] [--data-dir DIR] [--jobs J] [--keep DIR]

With --delegation, it measures what delegated fits buy (grader/delegate), each phase with and
without `--no-delegate`, in this order: bob alone; a class of 8 with bugs (bob, and 7 variants of
alice: the three VarianceScaling mistakes the diagnosis names, a bias initializer, a build_model
that ignores its argument, a seed set once at the top, another learning rate); alice alone. Every
phase starts from its own copy of a store that holds only the protocol's reference runs (trained
once, first, and timed on their own): those are the same work for both arms and a class pays them
once, and the issue's baseline (bob 547 s) was measured on such a store. Its last line is
    bob_ratio=<r> buggy_class_ratio=<r> alice_ratio=<r> delegated=<n> trained_twice=<n> ...
where a ratio is (with delegation) / (without), `delegated` counts the fits served from a
training the grader did on request, and `trained_twice` the memo keys trained more than once in a
phase with delegation (in a sandbox, by a delegated training or by the retraining), fits shorter
than the rubric's `delegation.min_steps` aside (they train in their sandbox by design).

With --scheduler, the class is graded on a Dask cluster instead (grader/cluster): `spawn`
starts `dask scheduler` and `dask worker` processes here, and measures the class on 1 worker,
then on 2 (each from an empty store, a fresh cluster each); an address grades once on that
cluster. It prints each phase's wall time, the training runs computed on the cluster against
the runs the submissions asked for, and whether the two gradebooks are equal; its last line is
    wall_1w_s=<s> computed_1w=<n> asked_1w=<n> wall_2w_s=... ratio_2w_1w=<r> gradebooks_equal=<0|1>
The memo phases below are not run then.

On real Fashion-MNIST by default (no --data-dir: the grader finds /usr/share/datasets/fashion-mnist)
and the full protocol of the rubric as loaded (homework: 20 epochs; exercises 2 and 4: 5), it
measures in ONE run, each phase from an EMPTY store (its own fresh cache_dir) except the warm one:

    one_nomemo_s  alice alone, Options(memo=False): the notebook trains every fit, then the
                  grader trains its own runs.
    one_s         alice alone, memo on (the default): the grader trains the protocol's reference
                  runs into the memo (alongside the notebook), whose protocol fits are served
                  from them when their entry is there in time.
    class12_s     12 protocol-following submissions, grade_folder(..., jobs=--jobs): alice.ipynb,
                  carol.py and 10 variants the script writes from their source (below).
    warm_s        grade(alice) again with the class's cache dir (a --force regrade of one file).

Targets: one_s / one_nomemo_s <= 0.5, class12_s / one_s <= 1.5, warm_s <= 60 s. Alice's score
must be the same in phases 1, 2 and 4, and every variant must score like alice.

The 10 variants write the SAME training as alice differently (tf.keras aliases, the functional
API, other names, extra prints, matplotlib plots, helper functions, keyword arguments, ...),
always seeding with `keras.utils.set_random_seed(42)` right before building. Unlike alice and
carol, they create exercise 2's RandomNormal(stddev=0.01) after that seed call and one per
layer (as the grader's reference run does), so their random_normal fit is a protocol fit the
memo can serve; alice's and carol's, made before the seed call, cannot be (a real miss).

Memo hit rates come from every class result's `execution.memo.log`. A fit counts as a protocol
fit by its position in the log: every submission here follows alice's cell order, whose first
3 + 3 + 2 fits are the homework's and exercises 2's and 4's (the rubric's counts); the fits
after them are exercise 5's own 1-epoch runs, which no reference run covers. `hit_rate` is
served / protocol fits (8 per submission whatever its log holds), `hit_rate_all` served / all
fits the logs hold (a fit that does not go through the memo's wrapper is in no log).

The last line printed is machine-readable:
    one_nomemo_s=<s> one_s=<s> class12_s=<s> warm_s=<s> hit_rate=<fraction> hit_rate_all=... ...

Duration on real data: roughly 40-60 min on a 2-core machine (most of it phase 1 and the
reference runs of phases 2 and 3). For a smoke test, a subset built with
    .venv/bin/python -c "from grader import data; from pathlib import Path; \
        data.build_subset(data.locate(), Path('/tmp/bench-subset'), 6000, 500)"
and `--data-dir /tmp/bench-subset` takes about 13 min (measured, with other jobs on the machine). Outputs go to a temporary folder,
removed at the end, unless --keep DIR (an empty or new folder) keeps them for inspection.
Progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.batch import grade_folder
from grader.pipeline import Options, grade, load_rubric

A = ROOT / "assignments"
CELL, MARKDOWN = "# %%", "# %% [markdown]"


# -- the sources, as text -------------------------------------------------------------------
# A notebook is handled as "percent" text (each cell after a `# %%` line, markdown after
# `# %% [markdown]`), so one text transform applies to alice's notebook and to carol's module
# alike; a transform may add cell lines (in a module they are plain comments).

def notebook_text(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n\n".join(f"{MARKDOWN if cell.cell_type == 'markdown' else CELL}\n{cell.source.strip()}" for cell in nb.cells)


def write_notebook(text: str, path: Path, title: str) -> None:
    template = nbformat.read(A / "alice.ipynb", as_version=4)
    nb = nbformat.v4.new_notebook(metadata=template.metadata)
    nb.cells.append(nbformat.v4.new_markdown_cell(f"# Clase 108 — Tarea de inicialización ({title})"))
    kind, lines = None, []

    def flush() -> None:
        source = "\n".join(lines).strip()
        if kind == "code" and source:
            nb.cells.append(nbformat.v4.new_code_cell(source))
        elif kind == "markdown" and source and not source.startswith("# Clase 108"):
            nb.cells.append(nbformat.v4.new_markdown_cell(source))

    for line in text.splitlines():
        if line.strip() in (CELL, MARKDOWN):
            flush()
            kind, lines = ("markdown" if line.strip() == MARKDOWN else "code"), []
        else:
            lines.append(line)
    flush()
    nbformat.validate(nb)
    nbformat.write(nb, path)


def swap(text: str, old: str, new: str, count: int = 1) -> str:
    """Replace `old`, which must occur exactly `count` times (else alice/carol changed: stop)."""
    found = text.count(old)
    if found != count:
        raise SystemExit(f"grade_class.py: expected {count} occurrence(s) of {old[:70]!r} in the source, found {found}")
    return text.replace(old, new)


def resub(text: str, pattern: str, new: str, count: int) -> str:
    out, n = re.subn(pattern, new, text)
    if n != count:
        raise SystemExit(f"grade_class.py: expected {count} match(es) of {pattern!r} in the source, found {n}")
    return out


# -- alice's code, as she wrote it (the anchors of the transforms) ---------------------------

IMPORTS = "import numpy as np\nimport keras\n"
SEED = "keras.utils.set_random_seed(42)"
RN_ENTRY = '("random_normal", keras.initializers.RandomNormal(stddev=0.01))'
BUILD = '''def build_model(kernel_initializer="glorot_uniform", activation="relu"):
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten()])
    for units in [300, 200, 100, 50]:
        model.add(keras.layers.Dense(units, activation=activation, kernel_initializer=kernel_initializer))
    model.add(keras.layers.Dense(10, activation="softmax", kernel_initializer=kernel_initializer))
    return model'''
MLP_HEAD = '''def mlp(units, kernel_initializer, activation="relu"):
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten()])
    for u in units[:-1]:
        model.add(keras.layers.Dense(u, activation=activation, kernel_initializer=kernel_initializer))
    model.add(keras.layers.Dense(units[-1], activation="softmax", kernel_initializer=kernel_initializer))
'''
EX3_LOOP = '''ex3_activations, h = [], x_valid[:256]
for layer in ex3_model.layers:
    h = layer(h)
    if isinstance(layer, keras.layers.Dense):
        ex3_activations.append(np.asarray(h))
'''
EX2_START, EX3_START, EX4_START, EX5_START = ("ex2_histories = {}", "# Ejercicio 3", "ex4_histories = {}",
                                              "def train_once(seed):")
EX2_FIT = """    ex2_histories[name] = model.fit(x_train, y_train, epochs=EX_EPOCHS, batch_size=32,
                                    validation_data=(x_valid, y_valid), verbose=0).history
"""
HW_FIT_ARGS = '''epochs=EPOCHS, batch_size=32,
                        validation_data=(x_valid, y_valid), verbose=0)'''


# -- the transforms ---------------------------------------------------------------------------

def tf_alias(t: str) -> str:
    return swap(t, IMPORTS, "import numpy as np\nimport tensorflow as tf\n\nkeras = tf.keras  # el Keras 3 que trae TensorFlow\n")


def from_tensorflow(t: str) -> str:
    return swap(t, IMPORTS, "import numpy as np\nfrom tensorflow import keras\n")


def rn_config(t: str) -> str:
    """RandomNormal as a config: each Dense builds its own, after the seed call."""
    t = swap(t, RN_ENTRY, '("random_normal", {"class_name": "RandomNormal", "config": {"stddev": 0.01}})')
    return swap(t, EX2_START + "\n", EX2_START + "\n# RandomNormal como config: cada Dense crea el suyo, después de fijar la semilla\n")


def rn_factory(t: str) -> str:
    """mlp takes a name or a function that makes a fresh initializer per layer (after the seed)."""
    t = swap(t, MLP_HEAD, '''def mlp(units, kernel_initializer, activation="relu"):
    # kernel_initializer: un nombre, o una función que crea un inicializador nuevo por capa
    fresh = kernel_initializer if callable(kernel_initializer) else (lambda: kernel_initializer)
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten()])
    for u in units[:-1]:
        model.add(keras.layers.Dense(u, activation=activation, kernel_initializer=fresh()))
    model.add(keras.layers.Dense(units[-1], activation="softmax", kernel_initializer=fresh()))
''')
    return swap(t, RN_ENTRY, '("random_normal", lambda: keras.initializers.RandomNormal(stddev=0.01))')


def functional_build(t: str) -> str:
    return swap(t, BUILD, '''def build_model(kernel_initializer="glorot_uniform", activation="relu"):
    inputs = keras.Input((28, 28))
    x = keras.layers.Flatten()(inputs)
    for units in [300, 200, 100, 50]:
        x = keras.layers.Dense(units, activation=activation, kernel_initializer=kernel_initializer)(x)
    outputs = keras.layers.Dense(10, activation="softmax", kernel_initializer=kernel_initializer)(x)
    return keras.Model(inputs, outputs)''')


def functional_mlp(t: str) -> str:
    """mlp with the functional API (fresh initializer per layer), and exercise 3's activations
    through a probe model (a functional model's layers start with its InputLayer)."""
    t = swap(t, MLP_HEAD, '''def mlp(units, kernel_initializer, activation="relu"):
    fresh = kernel_initializer if callable(kernel_initializer) else (lambda: kernel_initializer)
    inputs = keras.Input((28, 28))
    x = keras.layers.Flatten()(inputs)
    for u in units[:-1]:
        x = keras.layers.Dense(u, activation=activation, kernel_initializer=fresh())(x)
    outputs = keras.layers.Dense(units[-1], activation="softmax", kernel_initializer=fresh())(x)
    model = keras.Model(inputs, outputs)
''')
    t = swap(t, RN_ENTRY, '("random_normal", lambda: keras.initializers.RandomNormal(stddev=0.01))')
    return swap(t, EX3_LOOP, '''dense_layers = [layer for layer in ex3_model.layers if isinstance(layer, keras.layers.Dense)]
probe = keras.Model(ex3_model.inputs, [layer.output for layer in dense_layers])
ex3_activations = [np.asarray(a) for a in probe(x_valid[:256])]
''')


def split_exercises(t: str, headings: bool = True) -> str:
    """Exercises 2, 3, 4 and 5 in cells of their own."""
    for start, title in ((EX2_START, "Ejercicio 2"), (EX3_START, "Ejercicio 3"), (EX4_START, "Ejercicio 4"),
                         (EX5_START, "Ejercicio 5")):
        head = f"{MARKDOWN}\n## {title}\n\n" if headings else ""
        t = swap(t, start, f"{head}{CELL}\n{start}")
    return t


def plot_cell(histories: str, title: str, filename: str, show: bool) -> str:
    return f'''
{CELL}
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 4))
for name, hist in {histories}.items():
    ax.plot(range(1, len(hist["val_loss"]) + 1), hist["val_loss"], marker="o", label=name)
ax.set_xlabel("época")
ax.set_ylabel("val_loss")
ax.set_title("{title}")
ax.legend()
fig.savefig("{filename}", dpi=80)
{"plt.show()" if show else "plt.close(fig)"}
print("curvas guardadas en {filename}")
'''


def after(t: str, anchor: str, extra: str) -> str:
    return swap(t, anchor, anchor + extra)


# -- the variants ----------------------------------------------------------------------------

def dana(t: str) -> str:
    """`import tensorflow as tf; keras = tf.keras`; RandomNormal as a per-layer config dict."""
    return rn_config(tf_alias(t))


def emilio(t: str) -> str:
    """`from tensorflow import keras`; build_model with the functional API (+ a summary)."""
    t = functional_build(from_tensorflow(t))
    t = after(t, BUILD_FUNCTIONAL_END, '\n\nbuild_model("he_normal").summary()')
    return rn_factory(t)


BUILD_FUNCTIONAL_END = "    return keras.Model(inputs, outputs)"


def fatima(t: str) -> str:
    """Functional API everywhere (build_model, exercises' mlp, ex3 probe model); one cell per exercise."""
    return split_exercises(functional_mlp(functional_build(t)))


def gonzalo(t: str) -> str:
    """Spanish names for everything (models, histories, data, helpers); fit(x=..., y=...) keywords."""
    t = rn_factory(t)
    t = resub(t, r"\.fit\(x_train, y_train,", ".fit(x=x_train, y=y_train,", 3)
    for old, new in (("INITS", "INICIALIZADORES"), ("EPOCHS", "EPOCAS"), ("EX_EPOCHS", "EPOCAS_EJ"),
                     ("x_train", "x_entreno"), ("y_train", "y_entreno"), ("x_valid", "x_val"), ("y_valid", "y_val"),
                     ("mlp", "red_densa"), ("train_once", "entrenar_una_vez"), ("kernel_norms", "normas_kernel"),
                     ("model", "modelo"), ("init", "ini"), ("name", "nombre"), ("diff", "dif"), ("same", "iguales"),
                     ("other", "distintos"), ("u", "n_unidades"), ("fresh", "nuevo")):
        t = re.sub(rf"(?<![.\w]){old}\b", new, t)
    return re.sub(r"(?<![.\w])history\b", "hist", t)


def helena(t: str) -> str:
    """Extra prints (shapes, model summary, per-run lines) and matplotlib val_loss plots, saved and shown."""
    t = rn_config(t)
    t = after(t, 'INITS = ["glorot_uniform", "he_uniform", "he_normal"]\nEPOCHS = 20',
              '\nprint("train", x_train.shape, x_train.dtype, "valid", x_valid.shape, "épocas", EPOCHS)')
    t = swap(t, "    hw_kernel_norms_before[init] = kernel_norms(model)\n",
             "    hw_kernel_norms_before[init] = kernel_norms(model)\n"
             '    print(f"{init}: {model.count_params()} parámetros, normas iniciales {np.round(hw_kernel_norms_before[init], 2)}")\n')
    t = after(t, BUILD, "\n\n\nbuild_model().summary()")
    t = split_exercises(t, headings=False)
    t = swap(t, f"{CELL}\n{EX3_START}",
             plot_cell("ex2_histories", "Ejercicio 2: val_loss", "ex2_val_loss.png", show=True) + f"\n{CELL}\n{EX3_START}")
    t = swap(t, f"{CELL}\n{EX5_START}",
             plot_cell("ex4_histories", "Ejercicio 4: tanh", "ex4_val_loss.png", show=True) + f"\n{CELL}\n{EX5_START}")
    heading = re.search(r"(?m)^# %% \[markdown\]\n[^\n]*Ejercicios 2–5", t)  # after the homework, before that heading
    if heading is None:
        raise SystemExit("grade_class.py: alice's 'Ejercicios 2–5' heading not found")
    plot = plot_cell("hw_histories", "Tarea: val_loss", "tarea_val_loss.png", show=True)
    t = t[:heading.start()] + plot.lstrip("\n") + "\n" + t[heading.start():]
    return t


def ismael(t: str) -> str:
    """Module: `from keras import layers, initializers, optimizers`, a functional build_model."""
    t = functional_build(t)
    t = rn_factory(t)
    t = swap(t, IMPORTS, IMPORTS + "from keras import initializers, layers, optimizers\n")
    t = re.sub(r"keras\.(layers|initializers|optimizers)\.", r"\1.", t)
    return t


def jimena(t: str) -> str:
    """Module: `keras = tf.keras`, SEED constant and a `set_random_seed` alias, a plot saved at the end."""
    t = rn_config(tf_alias(t))
    t = swap(t, "EPOCHS = 20\n", "EPOCHS = 20\nSEED = 42\nset_random_seed = keras.utils.set_random_seed\n")
    t = swap(t, SEED, "set_random_seed(SEED)", 5)
    t += plot_cell("hw_histories", "Tarea: val_loss", "tarea_val_loss.png", show=False).replace(f"{CELL}\n", "")
    return t


KEVIN_HW = '''def run_homework(init, epochs=EPOCHS):
    """Una corrida de la tarea: semilla, modelo, normas antes/después e historia."""
    keras.utils.set_random_seed(42)
    model = build_model(kernel_initializer=init)
    before = kernel_norms(model)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=32,
                        validation_data=(x_valid, y_valid), verbose=0)
    return history.history, model, before, kernel_norms(model)


hw_histories, hw_models, hw_kernel_norms_before, hw_kernel_norms_after = {}, {}, {}, {}
for init in INITS:
    hw_histories[init], hw_models[init], hw_kernel_norms_before[init], hw_kernel_norms_after[init] = run_homework(init)
hw_val_accuracy = {init: float(hist["val_accuracy"][-1]) for init, hist in hw_histories.items()}
for init, acc in hw_val_accuracy.items():
    print(f"{init:15s} val_accuracy = {acc:.4f}")
'''
KEVIN_EX = '''def train_exercise(units, make_init, activation="relu", epochs=EX_EPOCHS):
    """Ejercicios 2 y 4: semilla, un inicializador nuevo por capa (make_init()), SGD, historia."""
    keras.utils.set_random_seed(42)
    inits = [make_init() for _ in units]
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten()])
    for u, init, last in zip(units, inits, [False] * (len(units) - 1) + [True]):
        model.add(keras.layers.Dense(u, activation="softmax" if last else activation, kernel_initializer=init))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model.fit(x_train, y_train, epochs=epochs, batch_size=32,
                     validation_data=(x_valid, y_valid), verbose=0).history


EX2_RUNS = {"glorot_uniform": lambda: "glorot_uniform", "he_normal": lambda: "he_normal",
            "random_normal": lambda: keras.initializers.RandomNormal(stddev=0.01)}
ex2_histories = {name: train_exercise([512, 256, 128, 64, 10], make) for name, make in EX2_RUNS.items()}
'''
KEVIN_EX4 = '''EX4_RUNS = {"he_normal_tanh": "he_normal", "glorot_uniform_tanh": "glorot_uniform"}
ex4_histories = {name: train_exercise([300, 200, 100, 50, 10], lambda: init, activation="tanh")
                 for name, init in EX4_RUNS.items()}
'''


def kevin(t: str) -> str:
    """Helper functions: run_homework(init) for the homework, train_exercise(units, make_init) for
    exercises 2 and 4 (initializers made per layer after the seed), comprehensions, a results table."""
    hw_start = t.index("hw_histories, hw_models, hw_val_accuracy = {}, {}, {}")
    hw_end = t.index(f"\n\n{CELL}\nfor init in [\"he_uniform\", \"he_normal\"]:")
    t = t[:hw_start] + KEVIN_HW.strip() + t[hw_end:]
    ex2_start, ex3_start = t.index(EX2_START), t.index(EX3_START)
    t = t[:ex2_start] + KEVIN_EX + "\n" + t[ex3_start:]
    ex4_start, ex5_start = t.index(EX4_START), t.index(EX5_START)
    t = t[:ex4_start] + KEVIN_EX4 + "\n" + t[ex5_start:]
    t = swap(t, "def mlp(", "def mlp(")  # still used by exercises 3 and 5
    return t + f'''

{CELL}
print(f"{{'corrida':22s}} {{'val_acc final':>13s}} {{'val_loss final':>14s}}")
for group in (hw_histories, ex2_histories, ex4_histories):
    for name, hist in group.items():
        print(f"{{name:22s}} {{hist['val_accuracy'][-1]:13.4f}} {{hist['val_loss'][-1]:14.4f}}")
'''


def lucia(t: str) -> str:
    """Same bytes written differently: astype(np.float32) / 255, a VAL constant, SGD(0.01)
    positional, fit kwargs reordered with shuffle=True spelled out."""
    t = rn_factory(t)
    t = swap(t, 'x_train_full = x_train_full.astype("float32") / 255.0', "x_train_full = x_train_full.astype(np.float32) / 255")
    t = swap(t, "x_valid, y_valid = x_train_full[:5000], y_train_full[:5000]\nx_train, y_train = x_train_full[5000:], y_train_full[5000:]",
             "VAL = 5000  # las primeras 5000 validan\nx_valid, y_valid = x_train_full[:VAL], y_train_full[:VAL]\n"
             "x_train, y_train = x_train_full[VAL:], y_train_full[VAL:]")
    t = swap(t, "keras.optimizers.SGD(learning_rate=0.01)", "keras.optimizers.SGD(0.01)", 2)
    t = swap(t, HW_FIT_ARGS, '''batch_size=32, epochs=EPOCHS, shuffle=True,
                        verbose=0, validation_data=(x_valid, y_valid))''')
    return t


def mateo(t: str) -> str:
    """Module: `from tensorflow import keras`, functional API everywhere, extra prints, an ex4 plot saved."""
    t = functional_mlp(functional_build(from_tensorflow(t)))
    t = after(t, "ex3_activation_variances = [float(np.var(a)) for a in ex3_activations]",
              '\nprint("varianzas por capa (ej. 3):", np.round(ex3_activation_variances, 4))')
    t = after(t, EX2_FIT, '    print(name, "val_loss final", round(ex2_histories[name]["val_loss"][-1], 4))\n')
    return t + plot_cell("ex4_histories", "Ejercicio 4: tanh", "ex4_val_loss.png", show=False).replace(f"{CELL}\n", "")


# (file name, built from, transform); alice.ipynb and carol.py come first, as they are
VARIANTS = [
    ("dana.ipynb", "alice", dana), ("emilio.ipynb", "alice", emilio), ("fatima.ipynb", "alice", fatima),
    ("gonzalo.ipynb", "alice", gonzalo), ("helena.ipynb", "alice", helena), ("ismael.py", "carol", ismael),
    ("jimena.py", "carol", jimena), ("kevin.ipynb", "alice", kevin), ("lucia.ipynb", "alice", lucia),
    ("mateo.py", "carol", mateo),
]


def build_class(folder: Path, n: int) -> list[tuple[str, str]]:
    """The class folder: alice, carol, then the variants (cycled, renamed, past 12). Returns
    (file name, one-line description) in order."""
    folder.mkdir(parents=True)
    sources = {"alice": notebook_text(A / "alice.ipynb"), "carol": (A / "carol.py").read_text()}
    made = [("alice.ipynb", "alice as she is (RandomNormal made before the seed call)"),
            ("carol.py", "carol as she is (module; alice's code)")]
    (folder / "alice.ipynb").write_bytes((A / "alice.ipynb").read_bytes())
    (folder / "carol.py").write_bytes((A / "carol.py").read_bytes())
    k = 0
    while len(made) < n:
        name, base, transform = VARIANTS[k % len(VARIANTS)]
        if k >= len(VARIANTS):
            name = name.replace(".", f"{k // len(VARIANTS) + 1}.")
        text = transform(sources[base])
        stem = Path(name).stem
        if name.endswith(".ipynb"):
            write_notebook(text, folder / name, stem.capitalize())
        else:
            text = swap(text, "(Carol)", f"({stem.capitalize()})") if "(Carol)" in text else text
            (folder / name).write_text(text)
        made.append((name, " ".join((transform.__doc__ or "").split())))
        k += 1
    return made[:n]


# -- measuring ---------------------------------------------------------------------------------

def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def timed_grade(path: Path, rubric, options: Options) -> tuple[float, dict]:
    started = time.monotonic()
    grade(path, rubric, options)
    seconds = time.monotonic() - started
    results = list(options.out.glob("*/result.json"))
    return seconds, json.loads(results[0].read_text())


def reproduces(result: dict) -> dict:
    """hw_retrain_reproduces' evidence: init -> diff_pp (student − grader, percentage points)."""
    for check in result.get("checks", []):
        if check.get("id") == "hw_retrain_reproduces":
            return {init: row.get("diff_pp") for init, row in (check.get("evidence") or {}).items()}
    return {}


def max_abs(diffs: dict) -> float | None:
    values = [abs(v) for v in diffs.values() if isinstance(v, (int, float))]
    return max(values) if values else None


def memo_of(result: dict) -> dict:
    return (result.get("execution") or {}).get("memo") or {}


def fmt_timings(result: dict) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in (result.get("timings") or {}).items() if isinstance(v, (int, float)))


def gradebook_rows(out: Path) -> list[dict]:
    import csv

    with open(out / "gradebook.csv") as handle:
        return [{k: v for k, v in row.items() if k != "duration_s"} for row in csv.DictReader(handle)]


def cluster_phase(label: str, folder: Path, rubric, options: Options, spec) -> tuple[float, dict]:
    from grader.cluster import grade_folder_on_cluster

    say(f"[{label}] class of {len(list(folder.iterdir()))} on {spec.scheduler}, empty store ({options.cache_dir})")
    started = time.monotonic()
    summary = grade_folder_on_cluster(folder, rubric, options, spec, stream=sys.stderr)
    seconds = time.monotonic() - started
    say(f"      {seconds:.1f} s, {summary['cluster']}")
    return seconds, summary


def cluster_main(args) -> None:
    """`--scheduler spawn`: a class on 1 worker, then on 2 (each a fresh `dask scheduler` and
    `dask worker` processes on loopback, each from an empty store); `--scheduler tcp://…`: the
    class once on that cluster as it is."""
    from grader.cluster import ClusterSpec
    from grader.cluster.spawn import spawn

    rubric = load_rubric()
    with tempfile.TemporaryDirectory(prefix="grade-cluster-") as tmp_name:
        tmp = Path(tmp_name)
        roster = build_class(tmp / "class", args.students)
        base = {"data_dir": args.data_dir, "quiet": True}
        phases = {}
        if args.scheduler == "spawn":
            for n in (1, 2):
                with spawn(tmp / f"cluster-{n}", n) as cluster:
                    phases[n] = cluster_phase(f"{n} worker{'s' if n > 1 else ''}", tmp / "class", rubric,
                                              Options(out=tmp / f"out-{n}", cache_dir=tmp / f"cache-{n}", **base),
                                              ClusterSpec(scheduler=cluster.address))
        else:
            seconds, summary = cluster_phase("cluster", tmp / "class", rubric,
                                             Options(out=tmp / "out-c", cache_dir=tmp / "cache-c", **base),
                                             ClusterSpec(scheduler=args.scheduler))
            phases[summary["cluster"]["workers"]] = (seconds, summary)
        out = print
        out(f"data: {'subset ' + args.data_dir if args.data_dir else 'real Fashion-MNIST'}; protocol: homework "
            f"{rubric.protocol.epochs} epochs; class of {len(roster)}: {', '.join(name for name, _ in roster)}")
        out(f"{'workers':>8s} {'wall s':>9s} {'references s':>13s} {'then s/submission':>18s} {'trainings computed':>19s} "
            f"{'runs asked':>11s} {'references':>11s}")
        for n, (seconds, summary) in sorted(phases.items()):
            c = summary["cluster"]
            per = (seconds - c["references_s"]) / len(roster)
            out(f"{n:8d} {seconds:9.1f} {c['references_s']:13.1f} {per:18.1f} {c['trainings_computed']:19d} "
                f"{c['trainings_asked']:11d} {c['references_trained']:11d}   statuses {summary['statuses']}")
        fields = []
        for n, (seconds, summary) in sorted(phases.items()):
            c = summary["cluster"]
            fields += [f"wall_{n}w_s={seconds:.1f}", f"references_{n}w_s={c['references_s']:.1f}",
                       f"computed_{n}w={c['trainings_computed']}", f"asked_{n}w={c['trainings_asked']}"]
        if 1 in phases and 2 in phases:
            ratio = phases[2][0] / phases[1][0]
            same = gradebook_rows(tmp / "out-1") == gradebook_rows(tmp / "out-2")
            out(f"wall(2 workers) / wall(1 worker) = {ratio:.2f}; gradebooks equal (durations aside): {'yes' if same else 'NO'}")
            fields += [f"ratio_2w_1w={ratio:.3f}", f"gradebooks_equal={int(same)}"]
        out(" ".join(fields))


# -- delegation phases ----------------------------------------------------------------------

VS_BUILD = '''WRONG = {wrong}  # {doc}


def build_model(kernel_initializer="glorot_uniform", activation="relu"):
    def make():
        spec = WRONG.get(kernel_initializer)
        return keras.initializers.VarianceScaling(**spec) if spec else kernel_initializer
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten()])
    for units in [300, 200, 100, 50]:
        model.add(keras.layers.Dense(units, activation=activation, kernel_initializer=make()))
    model.add(keras.layers.Dense(10, activation="softmax", kernel_initializer=make()))
    return model'''
HW_SEED = "    keras.utils.set_random_seed(42)          # antes de construir: fija también el inicializador\n"
HW_COMPILE = "    hw_kernel_norms_before[init] = kernel_norms(model)\n    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01),"


def wrong_init(wrong: dict, doc: str):
    def transform(t: str) -> str:
        return swap(t, BUILD, VS_BUILD.format(wrong=repr(wrong), doc=doc))
    transform.__doc__ = doc
    return transform


def bias_glorot(t: str) -> str:
    """bias_initializer="glorot_uniform" in every Dense (the bias must start at zero)."""
    return swap(t, BUILD, BUILD.replace("kernel_initializer=kernel_initializer)",
                                        'kernel_initializer=kernel_initializer, bias_initializer="glorot_uniform")'))


def ignores_argument(t: str) -> str:
    """build_model ignores kernel_initializer: Keras' default (glorot_uniform) every time."""
    return swap(t, BUILD, BUILD.replace(", kernel_initializer=kernel_initializer)", ")"))


def seed_once(t: str) -> str:
    """The seed is set once at the top, not before each model (each run starts from another state)."""
    return swap(t, HW_SEED, "")


def other_learning_rate(t: str) -> str:
    """The homework trained with SGD(learning_rate=0.05) instead of the protocol's 0.01."""
    return swap(t, HW_COMPILE, HW_COMPILE.replace("0.01", "0.05"))


BUGGY = [
    ("nadia.ipynb", wrong_init({"he_uniform": {"scale": 2.0, "mode": "fan_in", "distribution": "truncated_normal"},
                                "he_normal": {"scale": 2.0, "mode": "fan_in", "distribution": "uniform"}},
                               "wrong_distribution: He's normal and uniform variants swapped")),
    ("oscar.ipynb", wrong_init({"he_uniform": {"scale": 1.0, "mode": "fan_in", "distribution": "uniform"},
                                "he_normal": {"scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal"}},
                               "wrong_scale: He with scale 1 (LeCun's), not 2")),
    ("paula.ipynb", wrong_init({"he_uniform": {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform"},
                                "he_normal": {"scale": 2.0, "mode": "fan_avg", "distribution": "truncated_normal"}},
                               "wrong_fan_mode: He with fan_avg, not fan_in")),
    ("quique.ipynb", bias_glorot), ("rosa.ipynb", ignores_argument), ("sergio.ipynb", seed_once),
    ("tania.ipynb", other_learning_rate),
]


def build_buggy_class(folder: Path) -> list[tuple[str, str]]:
    folder.mkdir(parents=True)
    (folder / "bob.ipynb").write_bytes((A / "bob.ipynb").read_bytes())
    made = [("bob.ipynb", "bob as he is: build_model ignores its argument, bias glorot_uniform, no exercises")]
    alice = notebook_text(A / "alice.ipynb")
    for name, transform in BUGGY:
        write_notebook(transform(alice), folder / name, Path(name).stem.capitalize())
        made.append((name, " ".join((transform.__doc__ or "").split())))
    return made


def trainings(results: list[dict], min_steps_reason: str = "short fit") -> dict:
    """memo key (16 characters) -> how many times it was trained in a phase: in a sandbox (a fit not
    served, short fits aside), by a delegated training, by the retraining (a run not from the cache)."""
    count: dict = {}

    def add(key: str) -> None:
        if key:
            count[key[:16]] = count.get(key[:16], 0) + 1

    for result in results:
        execution = result.get("execution") or {}
        for fit in (execution.get("memo") or {}).get("log") or []:
            if not fit.get("served") and not str(fit.get("delegation", "")).startswith(min_steps_reason):
                add(fit.get("key", ""))
        for key in (execution.get("delegation") or {}).get("trained_keys") or []:
            add(key)
        retraining = result.get("retraining") or {}
        for run in list((retraining.get("runs") or {}).values()) + list((retraining.get("exercises") or {}).values()):
            memo = run.get("memo") or {}
            if not run.get("cached") and memo.get("recorded"):
                for key in dict.fromkeys(memo.get("entries") or []):
                    add(key)
    return count


def delegation_phase(label: str, target: Path, rubric, options: Options, jobs: int) -> tuple[float, list[dict]]:
    say(f"[{label}] {target.name}, delegation {'on' if options.delegate else 'off'}, store {options.cache_dir}")
    started = time.monotonic()
    if target.is_dir():
        grade_folder(target, rubric, options, jobs=jobs, stream=sys.stderr)
    else:
        grade(target, rubric, options)
    seconds = time.monotonic() - started
    results = [json.loads(p.read_text()) for p in sorted(options.out.glob("*/result.json"))]
    say(f"      {seconds:.1f} s, scores {[r.get('score') for r in results]}")
    return seconds, results


def delegation_main(args) -> None:
    import shutil

    from grader.data import locate
    from grader.memo import MemoStore
    from grader.retrain import train_references

    rubric = load_rubric()
    with tempfile.TemporaryDirectory(prefix="grade-delegation-") as tmp_name:
        tmp = Path(args.keep).resolve() if args.keep else Path(tmp_name)
        tmp.mkdir(parents=True, exist_ok=True)
        roster = build_buggy_class(tmp / "buggy")
        dataset = locate(args.data_dir)
        refs = tmp / "cache-refs"
        say(f"[0] the protocol's reference runs, once, into {refs}")
        started = time.monotonic()
        train_references(rubric, dataset, cache_dir=refs, memo_store=MemoStore(refs))
        refs_s = time.monotonic() - started
        say(f"      {refs_s:.1f} s")
        phases: dict = {}
        plan = [("bob", A / "bob.ipynb"), ("buggy_class", tmp / "buggy"), ("alice", A / "alice.ipynb")]
        plan = [(name, target) for name, target in plan if name in args.phases.split(",")]
        for name, target in plan:
            for delegate in (False, True):
                arm = f"{name}-{'on' if delegate else 'off'}"
                cache = tmp / f"cache-{arm}"
                shutil.copytree(refs, cache)
                options = Options(out=tmp / f"out-{arm}", cache_dir=cache, data_dir=args.data_dir, quiet=True,
                                  delegate=delegate)
                phases[(name, delegate)] = delegation_phase(arm, target, rubric, options, args.jobs)
        out = print
        out(f"data: {'subset ' + args.data_dir if args.data_dir else 'real Fashion-MNIST'}; protocol: homework "
            f"{rubric.protocol.epochs} epochs; --jobs {args.jobs}; each phase from a store holding only the "
            f"reference runs ({refs_s:.0f} s to train, once, not in any phase)")
        out(f"buggy class: {', '.join(name for name, _ in roster)}")
        for name, doc in roster:
            out(f"  {name:14s} {doc}")
        out("")
        out(f"{'phase':14s} {'without s':>10s} {'with s':>9s} {'ratio':>6s} {'target':>7s}  scores without / with")
        targets = {"bob": 0.35, "buggy_class": 0.5, "alice": 1.05}
        ratios, fields = {}, []
        for name, _ in plan:
            (off_s, off_results), (on_s, on_results) = phases[(name, False)], phases[(name, True)]
            ratio = on_s / off_s
            ratios[name] = ratio
            scores_off = [r.get("score") for r in off_results]
            scores_on = [r.get("score") for r in on_results]
            ok = "ok" if ratio <= targets[name] else "MISSED"
            out(f"{name:14s} {off_s:10.1f} {on_s:9.1f} {ratio:6.2f} {'≤ ' + str(targets[name]):>7s}  {ok}  "
                f"{scores_off} / {scores_on}{'' if scores_off == scores_on else '  <- SCORES DIFFER'}")
            fields += [f"{name}_off_s={off_s:.1f}", f"{name}_on_s={on_s:.1f}"]
        out("")
        delegated = twice = 0
        for name, _ in plan:
            for delegate in (False, True):
                seconds, results = phases[(name, delegate)]
                count = trainings(results)
                repeated = {k: n for k, n in count.items() if n > 1}
                fits = sum(len(((r.get("execution") or {}).get("memo") or {}).get("log") or []) for r in results)
                served = sum(((r.get("execution") or {}).get("memo") or {}).get("served", 0) for r in results)
                dele = sum(((r.get("execution") or {}).get("memo") or {}).get("delegated", 0) for r in results)
                grader_trained = sum(((r.get("execution") or {}).get("delegation") or {}).get("trained", 0) for r in results)
                refused = {}
                for r in results:
                    for kind, n in (((r.get("execution") or {}).get("delegation") or {}).get("refused") or {}).items():
                        refused[kind] = refused.get(kind, 0) + n
                out(f"{name + ('-on' if delegate else '-off'):18s} fits {fits:3d}, served {served:3d} (delegated {dele:2d}, "
                    f"the grader trained {grader_trained:2d} on request, refused {refused}); keys trained: "
                    f"{len(count)}, more than once: {len(repeated)} {repeated if repeated else ''}")
                if delegate:
                    delegated += dele
                    twice += len(repeated)
        for name, _ in plan:
            for delegate in (False, True):
                for r in phases[(name, delegate)][1]:
                    out(f"  {name + ('-on' if delegate else '-off'):18s} {r.get('student'):8s} {r.get('status'):8s} "
                        f"{str(r.get('score')):>5s}  {fmt_timings(r)}")
        if args.keep:
            out(f"outputs kept in {tmp}")
        ratio_fields = " ".join(f"{name}_ratio={ratios[name]:.3f}" if name in ratios else f"{name}_ratio=-"
                                for name in ("bob", "buggy_class", "alice"))
        out(f"{ratio_fields} delegated={delegated} trained_twice={twice} references_s={refs_s:.1f} " + " ".join(fields))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scheduler", default=None, metavar="spawn|tcp://HOST:PORT",
                        help="grade the class on a Dask cluster instead: 'spawn' measures 1 and then 2 workers started "
                             "here as processes; an address grades once on that cluster")
    parser.add_argument("--data-dir", default=None, help="a Fashion-MNIST folder or subset (default: the grader finds the real data)")
    parser.add_argument("--students", type=int, default=12, help="class size (default 12: alice, carol, 10 variants)")
    parser.add_argument("--jobs", type=int, default=2, help="grade_folder's parallel submissions (default 2)")
    parser.add_argument("--keep", default=None, metavar="DIR", help="keep every output here (a new or empty folder)")
    parser.add_argument("--delegation", action="store_true",
                        help="measure delegated fits instead: bob, a class of 8 with bugs and alice, each with and without")
    parser.add_argument("--phases", default="bob,buggy_class,alice",
                        help="with --delegation: which phases, comma-separated (default all three)")
    args = parser.parse_args()
    if args.delegation:
        return delegation_main(args)
    if args.students < 2:
        parser.error("--students must be at least 2 (alice and carol)")
    if args.scheduler:
        return cluster_main(args)
    rubric = load_rubric()
    ex = rubric.exercises
    n_protocol = len(rubric.homework.initializers) + (len(ex.ex2.runs) + len(ex.ex4.runs) if ex else 0)
    if args.keep:
        keep = Path(args.keep)
        if keep.exists() and any(keep.iterdir()):
            parser.error(f"--keep {keep}: the folder is not empty (every phase must start from an empty store)")
        keep.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="grade-class-") as tmp_name:
        tmp = Path(args.keep).resolve() if args.keep else Path(tmp_name)
        base = {"data_dir": args.data_dir, "quiet": True}
        alice = A / "alice.ipynb"

        roster = build_class(tmp / "class", args.students)
        say(f"[1/4] alice alone, memo off, empty store ({tmp / 'cache-nomemo'})")
        one_nomemo_s, r1 = timed_grade(alice, rubric, Options(out=tmp / "out-nomemo", cache_dir=tmp / "cache-nomemo", memo=False, **base))
        say(f"      {one_nomemo_s:.1f} s, score {r1['score']}")
        say(f"[2/4] alice alone, memo on, empty store ({tmp / 'cache-one'})")
        one_s, r2 = timed_grade(alice, rubric, Options(out=tmp / "out-one", cache_dir=tmp / "cache-one", **base))
        say(f"      {one_s:.1f} s, score {r2['score']}")
        say(f"[3/4] class of {len(roster)}, --jobs {args.jobs}, empty store ({tmp / 'cache-class'})")
        class_options = Options(out=tmp / "out-class", cache_dir=tmp / "cache-class", **base)
        started = time.monotonic()
        summary = grade_folder(tmp / "class", rubric, class_options, jobs=args.jobs, stream=sys.stderr)
        class12_s = time.monotonic() - started
        say(f"      {class12_s:.1f} s")
        results = {p.parent.name: json.loads(p.read_text()) for p in sorted((tmp / "out-class").glob("*/result.json"))}
        say("[4/4] alice alone again, the class's store (warm regrade)")
        warm_s, r4 = timed_grade(alice, rubric, Options(out=tmp / "out-warm", cache_dir=tmp / "cache-class", **base))
        say(f"      {warm_s:.1f} s, score {r4['score']}")

        # memo hit rates over the class
        served_p = fits_p = served_all = fits_all = 0
        rows, misses, odd = [], [], []
        alice_score = results.get("alice", {}).get("score")
        for student, result in results.items():
            memo = memo_of(result)
            log = memo.get("log") or []
            protocol = log[:n_protocol]
            if len(log) < n_protocol:
                odd.append(f"{student}: only {len(log)} fits in its memo log (≥ {n_protocol} expected): "
                           f"its fits did not all go through the memo's fit wrapper")
            served_p += sum(1 for f in protocol if f.get("served"))
            fits_p += n_protocol
            served_all += sum(1 for f in log if f.get("served"))
            fits_all += len(log)
            for index, fit in enumerate(log):
                if not fit.get("served"):
                    misses.append((student, index, index < n_protocol, fit.get("reason", ""), fit.get("seconds")))
            rows.append((student, result.get("status"), result.get("score"), result.get("max_score"),
                         sum(1 for f in protocol if f.get("served")), len(protocol), memo.get("served", 0), memo.get("fits", 0),
                         max_abs(reproduces(result)), (result.get("timings") or {}).get("references"),
                         (result.get("timings") or {}).get("total")))
        hit_rate = served_p / fits_p if fits_p else 0.0
        hit_rate_all = served_all / fits_all if fits_all else 0.0

        out = print
        data_label = f"subset {args.data_dir}" if args.data_dir else "real Fashion-MNIST"
        out(f"data: {data_label} ({r2.get('data', {}).get('folder')}, subset={r2.get('data', {}).get('subset')}, "
            f"n_train={r2.get('data', {}).get('n_train')}); protocol: homework {rubric.protocol.epochs} epochs, "
            f"exercises {ex.epochs if ex else '-'} epochs; --jobs {args.jobs}")
        out("")
        out(f"{'phase':60s} {'wall s':>9s}  alice score")
        out(f"{'1 one_nomemo_s  alice alone, memo off, empty store':60s} {one_nomemo_s:9.1f}  {r1['score']}/{r1['max_score']}")
        out(f"{'2 one_s         alice alone, memo on, empty store':60s} {one_s:9.1f}  {r2['score']}/{r2['max_score']}")
        out(f"{'3 class12_s     ' + str(len(roster)) + ' submissions, --jobs ' + str(args.jobs) + ', empty store':60s} "
            f"{class12_s:9.1f}  {alice_score}/{r2['max_score']} (in the class)")
        out(f"{'4 warm_s        alice again, the class store (regrade)':60s} {warm_s:9.1f}  {r4['score']}/{r4['max_score']}")
        same = r1["score"] == r2["score"] == r4["score"]
        out(f"alice's score equal in phases 1, 2, 4: {'yes' if same else 'NO'}")
        out("")
        ratio_one = one_s / one_nomemo_s if one_nomemo_s else float("nan")
        ratio_class = class12_s / one_s if one_s else float("nan")
        out(f"one_s / one_nomemo_s = {ratio_one:.2f}   (target ≤ 0.5)  {'ok' if ratio_one <= 0.5 else 'MISSED'}")
        out(f"class12_s / one_s    = {ratio_class:.2f}   (target ≤ 1.5)  {'ok' if ratio_class <= 1.5 else 'MISSED'}")
        out(f"warm_s               = {warm_s:.1f} s (target ≤ 60 s) {'ok' if warm_s <= 60 else 'MISSED'}")
        out("")
        out(f"class: {summary.get('n')} submissions, statuses {summary.get('statuses')}, mean {summary.get('mean')}")
        descriptions = dict(roster)
        out(f"{'student':10s} {'status':10s} {'score':>11s} {'protocol':>9s} {'all':>6s} {'max|diff_pp|':>12s} "
            f"{'refs s':>7s} {'total s':>8s}  variant")
        for student, status, score, max_score, sp, np_, sa, fa, diff, refs, total in rows:
            file_name = next((f for f in descriptions if Path(f).stem == student), student)
            flag = "" if score == alice_score else "  <- differs from alice"
            out(f"{student:10s} {status!s:10s} {f'{score}/{max_score}':>11s} {f'{sp}/{n_protocol}':>9s} {f'{sa}/{fa}':>6s} "
                f"{'-' if diff is None else f'{diff:.2e}':>12s} {'-' if refs is None else f'{refs:7.1f}':>7s} "
                f"{'-' if total is None else f'{total:8.1f}':>8s}  {descriptions.get(file_name, '')}{flag}")
        missing = [name for name in descriptions if Path(name).stem not in results]
        if missing:
            out(f"no result.json for: {', '.join(missing)}")
        out("")
        out(f"protocol fits identified by position in each memo log: the first {n_protocol} fits "
            f"({len(rubric.homework.initializers)} homework, {len(ex.ex2.runs) if ex else 0} exercise 2, "
            f"{len(ex.ex4.runs) if ex else 0} exercise 4: alice's cell order, which every variant keeps); later fits "
            f"(exercise 5's own 1-epoch runs) count only in hit_rate_all")
        out(f"hit_rate     = {served_p}/{fits_p} = {hit_rate:.3f}   (served / protocol fits, whole class)")
        out(f"hit_rate_all = {served_all}/{fits_all} = {hit_rate_all:.3f}   (served / all fits in the memo logs)")
        protocol_misses = [m for m in misses if m[2]]
        out(f"protocol fits not served: {len(protocol_misses)}")
        for student, index, _, reason, seconds in protocol_misses:
            out(f"  {student} fit #{index + 1}: {reason} ({seconds} s)")
        other = {}
        for student, index, is_protocol, reason, _ in misses:
            if not is_protocol:
                other[reason] = other.get(reason, 0) + 1
        out(f"other fits not served (exercise 5 and beyond), by reason: {other}")
        for line in odd:
            out(f"  odd: {line}")
        out("")
        m2 = memo_of(r2)
        out(f"alice, phase 2: served {m2.get('served')}/{m2.get('fits')} fits, why {m2.get('why')}")
        for label, result in (("phase 1 (memo off)", r1), ("phase 2 (memo on) ", r2), ("phase 4 (warm)    ", r4)):
            out(f"alice timings {label}: {fmt_timings(result)}")
        for label, result in (("phase 1", r1), ("phase 2", r2), ("phase 4", r4)):
            diffs = reproduces(result)
            worst = max_abs(diffs)
            out(f"alice hw val_accuracy vs grader's, {label}: max |diff_pp| = {worst!r} "
                f"({'bitwise equal' if worst == 0 else 'NOT bitwise equal' if worst is not None else 'no evidence'}) {diffs}")
        if args.keep:
            out(f"outputs kept in {tmp}")
        out(f"one_nomemo_s={one_nomemo_s:.1f} one_s={one_s:.1f} class12_s={class12_s:.1f} warm_s={warm_s:.1f} "
            f"hit_rate={hit_rate:.3f} hit_rate_all={hit_rate_all:.3f} one_ratio={ratio_one:.3f} class_ratio={ratio_class:.3f} "
            f"alice_score={r2['score']} scores_equal={int(same)}")


if __name__ == "__main__":
    main()
