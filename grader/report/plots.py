"""Figures for the report, as PNG data URIs (no script, no network, nothing to escape).

Every function takes the initializers to draw from its caller (the rubric's), and returns None
when there is nothing to draw, so the report simply leaves the figure out. `labels` are the
axis and legend words, already in the reader's language.

Each image is drawn for a phone first: the report's content column is about 378 px wide on a
390 px screen (948 px at 1280 px), and an image shown with `max-width:100%` is scaled by
display / natural width, so every text is sized for the narrow column (`text_sizes`, checked by
tests/report/test_plots.py). A figure with one panel per initializer or per model is several
images, one per panel, that the page lays side by side where they fit and stacks where they do
not; the notes sit above the axes and the legends below, never on the curves.
"""

from __future__ import annotations

import base64
import functools
import io
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402

from ..initializers import InitSpec, distribution  # noqa: E402

# A palette, not a list of what to plot: known names keep their colour from report to report,
# any other initializer the rubric names gets the next free one.
COLORS = {"glorot_uniform": "#1f77b4", "he_uniform": "#d62728", "he_normal": "#2ca02c"}
SPARE = ["#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]

DPI = 90
# The column a figure gets on a 390 px phone: 390 − 2·6 (main's padding) − 2·10 (the section's)
# in report.html.j2's narrow layout (the review measured about 378; the stricter number is used).
NARROW_PX = 358
MIN_TEXT_PX = 11  # the smallest text a reader should have to read, as displayed
WIDTH = 4.6  # inches: about 415 px at DPI, so two images sit side by side in the 948 px desktop column
FONT = 11  # points: 11 · DPI/72 · NARROW_PX / (WIDTH · DPI) ≈ 11.9 px on a phone, 13.75 px at natural size
STYLE = {"font.size": FONT, "axes.titlesize": FONT, "axes.labelsize": FONT, "xtick.labelsize": FONT,
         "ytick.labelsize": FONT, "legend.fontsize": FONT, "legend.title_fontsize": FONT, "figure.titlesize": FONT,
         "figure.labelsize": FONT}
NOTE_COLOR = "#8a4b00"
# accuracies are drawn in %, as every table and sentence of the report gives them (never 0.869)
PERCENT_METRICS = ("accuracy", "val_accuracy")


def colors_for(names) -> dict:
    """name -> colour, the palette's where it has one, a spare one otherwise."""
    spare = iter(SPARE * 4)
    return {name: COLORS.get(name) or next(spare, "gray") for name in names}


def _styled(draw):
    """Draw (and save) with the report's font sizes: tick labels are made when the figure is
    drawn, so the style must hold until the PNG is written, not only while the axes are built."""
    @functools.wraps(draw)
    def styled(*args, **kwargs):
        with plt.rc_context(STYLE):
            return draw(*args, **kwargs)
    return styled


def _save(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def png_data_uri(fig) -> str:
    """A finished matplotlib figure as an inline PNG (closed afterwards to free its memory)."""
    png = _save(fig)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(png).decode()


def text_sizes(fig, column_px: int = NARROW_PX) -> list[tuple[str, float]]:
    """Each visible text of `fig` with its height in CSS px as the report shows it: the PNG's
    natural width is w px, it is displayed at min(w, column_px), so a text of f points measures
    f · DPI/72 · min(w, column_px)/w px. The rule is that every one is ≥ MIN_TEXT_PX."""
    png = _save(fig)
    natural = int.from_bytes(png[16:20], "big")  # the PNG header's width
    scale = DPI / 72 * min(natural, column_px) / natural
    return [(t.get_text(), t.get_fontsize() * scale) for t in fig.findobj(Text)
            if t.get_visible() and t.get_text().strip()]


def _wrap(words: str, width_in: float = WIDTH) -> str:
    """A note broken into lines that fit the figure's width at FONT (about 0.65 em a character)."""
    return textwrap.fill(words, max(20, int(width_in * 72 / (0.65 * FONT))))


def _notes(fig, notes: list[str], width_in: float = WIDTH) -> None:
    """Notes above the axes, as the figure's subtitle: a layout engine keeps room for it, so it
    covers neither a curve nor the legend."""
    notes = [n for n in notes if n]
    if notes:
        fig.suptitle("\n".join(_wrap(n, width_in) for n in notes), x=0.02, ha="left", color=NOTE_COLOR,
                     fontsize=FONT)


def _legend_below(fig, handles, names, ncol: int = 2) -> None:
    if handles:
        fig.legend(handles, names, loc="outside lower center", ncol=ncol, frameon=False)


def _runs_on(ax, student: dict, grader: dict, metric: str, labels: dict, colors: dict) -> list[str]:
    """One metric per run: the student's curve solid, the grader's dashed, same colour. Returns
    the pairs of curves that coincide (drawn on top of each other, one hides the other)."""
    drawn = []
    for label, color in colors.items():
        for who, runs, style in (("student", student, "-"), ("grader", grader, "--")):
            ys = runs.get(label, {}).get(metric)
            if ys:
                ys = [100 * y for y in ys] if metric in PERCENT_METRICS else ys  # the report's unit: %
                ax.plot(range(1, len(ys) + 1), ys, color=color, linestyle=style)
                drawn.append((f"{label} ({labels[who]})", np.asarray(ys, dtype=float)))
    ax.set_ylabel(f"{metric} (%)" if metric in PERCENT_METRICS else metric)
    ax.set_xlabel(labels["epoch"])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    return [f"{a} = {b}" for i, (a, ya) in enumerate(drawn) for b, yb in drawn[i + 1:]
            if ya.shape == yb.shape and np.allclose(ya, yb, rtol=0, atol=1e-6)]


def _curve_notes_and_legend(fig, student: dict, grader: dict, metrics, colors: dict, pairs: list[str],
                            labels: dict) -> None:
    """Above the axes: that the student has no curve (rather than a legend of lines that are not
    there) and which curves hide one another. Below: a colour per run and a line style per author,
    only for what is drawn."""
    has = {who: any(runs.get(label, {}).get(m) for label in colors for m in metrics)
           for who, runs in (("student", student), ("grader", grader))}
    pairs = list(dict.fromkeys(pairs))
    overlap = f"{labels['overlap']}: " + "; ".join(pairs[:4]) + (" …" if len(pairs) > 4 else "") if pairs else ""
    _notes(fig, [labels["no_student_curves"] if not has["student"] else "", overlap])
    shown = [label for label in colors if any(runs.get(label, {}).get(m) for runs in (student, grader) for m in metrics)]
    handles = [Line2D([], [], color=colors[label], lw=2) for label in shown]
    names = list(shown)
    for who, style in (("student", "-"), ("grader", "--")):
        if has[who]:
            handles.append(Line2D([], [], color="#333", linestyle=style))
            names.append(labels[who])
    _legend_below(fig, handles, names)


@_styled
def curves(student: dict, grader: dict, labels: dict, inits) -> str | None:
    """val_accuracy and val_loss per initializer, one above the other: the student's (solid) and
    the grader's (dashed)."""
    if not student and not grader:
        return None
    metrics = ("val_accuracy", "val_loss")
    colors = colors_for(inits)
    fig, axes = plt.subplots(2, 1, figsize=(WIDTH, 6.6), layout="constrained")
    pairs = []
    for ax, metric in zip(axes, metrics):
        pairs += _runs_on(ax, student, grader, metric, labels, colors)
    _curve_notes_and_legend(fig, student, grader, metrics, colors, pairs, labels)
    return png_data_uri(fig)


@_styled
def exercise_curves(student: dict, grader: dict, metric: str, labels: dict) -> str | None:
    """One metric for several runs: the student's (solid) and the grader's (dashed)."""
    if not student and not grader:
        return None
    palette = ["#1f77b4", "#2ca02c", "#ff7f0e", "#d62728", "#9467bd"]
    colors = dict(zip(sorted(set(student) | set(grader)), palette * 4))
    fig, ax = plt.subplots(figsize=(WIDTH, 4.0), layout="constrained")
    pairs = _runs_on(ax, student, grader, metric, labels, colors)
    _curve_notes_and_legend(fig, student, grader, (metric,), colors, pairs, labels)
    return png_data_uri(fig)


@_styled
def activation_rows(rows: dict, labels: dict, output_activation: str = "softmax") -> dict[str, str] | None:
    """Per model (the grader's reference models, titled so), one image of per-layer output
    histograms (one fixed batch, at initialization), three layers to a row. Counts on a log
    scale: ReLU sends about half the outputs to exactly 0, and on a linear scale that spike hides
    the spread the exercise is about. The last layer is the output (`output_activation`), not a
    hidden layer, and says so."""
    rows = {name: layers for name, layers in rows.items() if layers}
    if not rows:
        return None
    images = {}
    for name, layers in rows.items():
        ncols = min(3, len(layers))
        nrows = -(-len(layers) // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(WIDTH, 2.2 * nrows + 1.2), squeeze=False, layout="constrained")
        for position, ax in enumerate(axes.flat):
            if position >= len(layers):
                ax.axis("off")
                continue
            layer = layers[position]
            edges = layer["edges"]
            ax.stairs(layer["hist"], edges, fill=True, color="#24364b")
            if any(count > 0 for count in layer["hist"]):
                ax.set_yscale("log", nonpositive="clip")
            center = (edges[0] + edges[-1]) / 2
            if edges[-1] - edges[0] < 1e-3 * max(abs(center), 1e-12):  # every output the same value (a dead softmax)
                ax.set_xticks([center], [f"≈ {center:.3g}"])
            else:
                ax.xaxis.set_major_locator(MaxNLocator(3))
            output = position == len(layers) - 1
            kind = f": {labels['output_layer']}\n{output_activation}" if output else ""  # short lines: three panels a row
            ax.set_title(f"{labels['layer']} {position + 1}{kind}\nVar {layer['var']:.2g}".replace("-", "−"),
                         color=NOTE_COLOR if output else "black")
        fig.suptitle(_wrap(f"{name} — {labels['reference']}"))
        fig.supxlabel(labels["layer_output"])
        fig.supylabel(labels["log_count"])
        images[name] = png_data_uri(fig)
    return images


@_styled
def initial_histograms(models: dict, labels: dict, inits) -> dict[str, str] | None:
    """Per initializer in `inits`, one image: the first and last kernel of its build_model probe
    against the theoretical density."""
    colors = colors_for(inits)
    rows = [(init, desc) for init, desc in models.items() if init in colors and getattr(desc, "kernels", None)]
    if not rows:
        return None
    images = {}
    for init, desc in rows:
        kernels = desc.kernels
        fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.4), layout="constrained")
        for ax, position in zip(axes, (0, len(kernels) - 1)):
            kernel = kernels[position].ravel()
            ax.hist(kernel, bins=80, density=True, color=colors[init], alpha=0.6)
            dist = distribution(InitSpec(init), kernels[position].shape)
            lo, hi = float(kernel.min()), float(kernel.max())
            pad = (hi - lo) * 0.1 + 1e-9
            xs = np.linspace(lo - pad, hi + pad, 400)
            if dist is not None:
                ax.plot(xs, dist.pdf(xs), color="black", lw=1.2)
            ax.set_title(f"{labels['layer']} {position + 1} {kernels[position].shape}")
            ax.xaxis.set_major_locator(MaxNLocator(3))
            ax.set_xlabel(labels["weight_value"])
            ax.set_ylabel(labels["density"])
        fig.suptitle(f"build_model({init!r})")
        _legend_below(fig, [plt.Rectangle((0, 0), 1, 1, color=colors[init], alpha=0.6), Line2D([], [], color="black")],
                      [labels["weights"], f"{labels['theory']} {init}"])
        images[init] = png_data_uri(fig)
    return images


@_styled
def ex1_histogram(kernel: np.ndarray, limit: float, student_limit: float | None, labels: dict) -> str | None:
    """The student's kernel against Glorot's uniform density and the limit they computed."""
    if kernel is None or not np.size(kernel):
        return None
    fig, ax = plt.subplots(figsize=(WIDTH, 3.6), layout="constrained")
    ax.hist(kernel.ravel(), bins=80, density=True, alpha=0.6, label="ex1_kernel")
    ax.plot([-limit, -limit, limit, limit], [0, 1 / (2 * limit), 1 / (2 * limit), 0], color="black", label=f"U(±{limit:.4f})")
    if student_limit is not None and np.isfinite(student_limit):
        for x in (-student_limit, student_limit):
            ax.axvline(x, color="#d62728", linestyle=":", label=labels["your_limit"] if x > 0 else None)
    ax.set_xlabel(labels["weight_value"])
    ax.set_ylabel(labels["density"])
    ax.xaxis.set_major_locator(MaxNLocator(5))
    handles, names = ax.get_legend_handles_labels()
    _legend_below(fig, handles, names)
    return png_data_uri(fig)


@_styled
def norms(student_before: dict, student_after: dict, grader: dict, labels: dict, inits,
          reference: dict | None = None) -> dict[str, str] | None:
    """Per initializer of `inits` that either side has, one image: the Frobenius norm of each
    kernel before and after training, the student's and the grader's; `reference[init]`, the
    norm each layer has at initialization in theory, is a black tick on each layer."""
    inits = [i for i in inits if i in student_after or i in student_before or i in grader]
    if not inits:
        return None
    images = {}
    for init in inits:
        fig, ax = plt.subplots(figsize=(WIDTH, 3.8), layout="constrained")
        series = [(labels["student_before"], student_before.get(init)), (labels["student_after"], student_after.get(init)),
                  (labels["grader_before"], grader.get(init, {}).get("before")), (labels["grader_after"], grader.get(init, {}).get("after"))]
        series = [(name, values) for name, values in series if values]
        width = 0.8 / max(1, len(series))
        for k, (name, values) in enumerate(series):
            xs = np.arange(1, len(values) + 1) + k * width
            ax.bar(xs, values, width=width, label=name)
        expected = (reference or {}).get(init)
        if expected:
            centers = np.arange(1, len(expected) + 1) + (len(series) - 1) * width / 2
            ax.scatter(centers, expected, marker="_", s=400, color="black", zorder=3, label=labels["init_reference"])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(init)
        ax.set_xlabel(labels["layer"])
        ax.set_ylabel(r"$\|W\|_F$")
        handles, names = ax.get_legend_handles_labels()
        _legend_below(fig, handles, names)
        images[init] = png_data_uri(fig)
    return images


@_styled
def seed_dots(seeds: dict, criterion: float, labels: dict, baseline: str) -> str | None:
    """One dot per seed of `init − baseline` (pp), the mean and its CI, and the criterion line."""
    if not seeds:
        return None
    fig, ax = plt.subplots(figsize=(WIDTH, 1.6 + 0.5 * len(seeds)), layout="constrained")
    for row, (init, info) in enumerate(seeds.items()):
        ax.scatter(info["diffs"], [row] * len(info["diffs"]), color=colors_for(seeds)[init], zorder=3)
        low, high = info["ci95"]
        if np.isfinite(low):
            ax.plot([low, high], [row, row], color="black", lw=2, alpha=0.5)
        ax.scatter([info["mean"]], [row], marker="|", s=300, color="black")
    line = ax.axvline(criterion, color="#d62728", linestyle="--")
    ax.axvline(0, color="gray", lw=0.8)
    ax.set_yticks(range(len(seeds)), [f"{init}\n− {baseline}" for init in seeds])
    ax.set_ylim(-0.6, len(seeds) - 0.4)
    ax.set_xlabel(labels["diff_pp"])
    ax.set_ylabel(labels.get("seed_rows", ""))
    said = f"+{criterion:g} pp"
    _legend_below(fig, [line], [f"{labels['criterion']}: {said}" if "criterion" in labels else said], ncol=1)
    return png_data_uri(fig)


__all__ = ["png_data_uri", "text_sizes", "colors_for", "COLORS", "MIN_TEXT_PX", "NARROW_PX", "exercise_curves",
           "activation_rows", "curves", "initial_histograms", "ex1_histogram", "norms", "seed_dots"]
