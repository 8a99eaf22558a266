"""Figures for the report, as PNG data URIs (no script, no network, nothing to escape).

Every function takes the initializers to draw from its caller (the rubric's), and returns None
when there is nothing to draw, so the report simply leaves the figure out. `labels` are the
axis and legend words, already in the reader's language.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402

from ..initializers import InitSpec, distribution  # noqa: E402

# A palette, not a list of what to plot: known names keep their colour from report to report,
# any other initializer the rubric names gets the next free one.
COLORS = {"glorot_uniform": "#1f77b4", "he_uniform": "#d62728", "he_normal": "#2ca02c"}
SPARE = ["#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]


def colors_for(names) -> dict:
    """name -> colour, the palette's where it has one, a spare one otherwise."""
    spare = iter(SPARE * 4)
    return {name: COLORS.get(name) or next(spare, "gray") for name in names}


def png_data_uri(fig) -> str:
    """A finished matplotlib figure as an inline PNG (closed afterwards to free its memory)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _runs_on(ax, student: dict, grader: dict, metric: str, labels: dict, colors: dict) -> list[str]:
    """One metric per run: the student's curve solid, the grader's dashed, same color. Returns
    the pairs of curves that coincide (drawn on top of each other, one hides the other), and
    says on the axes when the student has no curve at all, rather than leave a legend of
    lines that are not there."""
    drawn = []
    for label, color in colors.items():
        for who, runs, style in (("student", student, "-"), ("grader", grader, "--")):
            ys = runs.get(label, {}).get(metric)
            if ys:
                name = f"{label} ({labels[who]})"
                ax.plot(range(1, len(ys) + 1), ys, color=color, linestyle=style, label=name)
                drawn.append((name, np.asarray(ys, dtype=float)))
    if not any(runs.get(label, {}).get(metric) for label in colors for runs in (student,)):
        ax.text(0.5, 0.5, labels["no_student_curves"], transform=ax.transAxes, ha="center", va="center", fontsize=8,
                color="#8a4b00", wrap=True, bbox={"facecolor": "#fff8e1", "edgecolor": "#e0c060"})
    ax.set_title(metric)
    ax.set_xlabel(labels["epoch"])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    return [f"{a} = {b}" for i, (a, ya) in enumerate(drawn) for b, yb in drawn[i + 1:]
            if ya.shape == yb.shape and np.allclose(ya, yb, rtol=0, atol=1e-6)]


def _overlap_note(fig, pairs: list[str], labels: dict) -> None:
    """Curves that lie on top of each other, said under the figure (a hidden curve looks missing)."""
    pairs = list(dict.fromkeys(pairs))
    if pairs:
        shown = "; ".join(pairs[:4]) + (" …" if len(pairs) > 4 else "")
        fig.text(0.01, -0.04, f"{labels['overlap']}: {shown}", fontsize=7, color="#444", ha="left", va="top", wrap=True)


def curves(student: dict, grader: dict, labels: dict, inits) -> str | None:
    """val_accuracy and val_loss per initializer: the student's (solid) and the grader's (dashed)."""
    if not student and not grader:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    pairs = []
    for ax, metric in zip(axes, ("val_accuracy", "val_loss")):
        pairs += _runs_on(ax, student, grader, metric, labels, colors_for(inits))
    axes[0].legend(fontsize=7)
    _overlap_note(fig, pairs, labels)
    return png_data_uri(fig)


def exercise_curves(student: dict, grader: dict, metric: str, labels: dict) -> str | None:
    """One metric for several runs: the student's (solid) and the grader's (dashed)."""
    if not student and not grader:
        return None
    palette = ["#1f77b4", "#2ca02c", "#ff7f0e", "#d62728", "#9467bd"]
    fig, ax = plt.subplots(figsize=(7, 3.4))
    pairs = _runs_on(ax, student, grader, metric, labels, dict(zip(sorted(set(student) | set(grader)), palette * 4)))
    ax.legend(fontsize=7)
    _overlap_note(fig, pairs, labels)
    return png_data_uri(fig)


def activation_rows(rows: dict, labels: dict, output_activation: str = "softmax") -> str | None:
    """A row of per-layer output histograms (one fixed batch, at initialization) per model: the
    grader's reference models, titled so. Counts on a log scale: ReLU sends about half the
    outputs to exactly 0, and on a linear scale that spike hides the spread the exercise is
    about. The last layer is the output (`output_activation`), not a hidden layer, and says so."""
    rows = {name: layers for name, layers in rows.items() if layers}
    if not rows:
        return None
    width = max(len(layers) for layers in rows.values())
    fig, axes = plt.subplots(len(rows), width, figsize=(2.2 * width, 1.9 * len(rows)), squeeze=False)
    for axrow, (name, layers) in zip(axes, rows.items()):
        for position, ax in enumerate(axrow):
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
            output = position == len(layers) - 1
            kind = f" ({output_activation}, {labels['output_layer']})" if output else ""
            ax.set_title(f"{labels['layer']} {position + 1}{kind}: Var {layer['var']:.2g}".replace("-", "−"), fontsize=8,
                         color="#8a4b00" if output else "black")
            ax.tick_params(labelsize=6)
        axrow[0].set_ylabel(f"{name}\n({labels['log_count']})", fontsize=8)
    fig.suptitle(labels["reference"], fontsize=10)
    fig.tight_layout()
    return png_data_uri(fig)


def initial_histograms(models: dict, labels: dict, inits) -> str | None:
    """First and last kernel of each build_model probe (one per initializer in `inits`) against
    the theoretical density."""
    colors = colors_for(inits)
    rows = [(init, desc) for init, desc in models.items() if init in colors and getattr(desc, "kernels", None)]
    if not rows:
        return None
    fig, axes = plt.subplots(len(rows), 2, figsize=(10, 2.6 * len(rows)), squeeze=False)
    for (init, desc), axrow in zip(rows, axes):
        kernels = desc.kernels
        for ax, position in zip(axrow, (0, len(kernels) - 1)):
            kernel = kernels[position].ravel()
            ax.hist(kernel, bins=80, density=True, color=colors[init], alpha=0.6, label=labels["weights"])
            dist = distribution(InitSpec(init), kernels[position].shape)
            lo, hi = float(kernel.min()), float(kernel.max())
            pad = (hi - lo) * 0.1 + 1e-9
            xs = np.linspace(lo - pad, hi + pad, 400)
            ax.plot(xs, dist.pdf(xs), color="black", lw=1.2, label=f"{labels['theory']} {init}")
            ax.set_title(f"build_model({init!r}) — {labels['layer']} {position + 1} {kernels[position].shape}", fontsize=9)
            ax.legend(fontsize=7)
    fig.tight_layout()
    return png_data_uri(fig)


def ex1_histogram(kernel: np.ndarray, limit: float, student_limit: float | None, labels: dict) -> str | None:
    """The student's kernel against Glorot's uniform density and the limit they computed."""
    if kernel is None or not np.size(kernel):
        return None
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.hist(kernel.ravel(), bins=80, density=True, alpha=0.6, label="ex1_kernel")
    ax.plot([-limit, -limit, limit, limit], [0, 1 / (2 * limit), 1 / (2 * limit), 0], color="black", label=f"U(±{limit:.4f})")
    if student_limit is not None and np.isfinite(student_limit):
        for x in (-student_limit, student_limit):
            ax.axvline(x, color="#d62728", linestyle=":", label=labels["your_limit"] if x > 0 else None)
    ax.legend(fontsize=7)
    return png_data_uri(fig)


def norms(student_before: dict, student_after: dict, grader: dict, labels: dict, inits,
          reference: list[float] | None = None) -> str | None:
    """Frobenius norm of each kernel, before and after training, student and grader, one panel
    per initializer of `inits` (the rubric's He variants) that either side has; `reference`, He's
    expected norm per layer at initialization, is drawn as a black tick on each layer."""
    inits = [i for i in inits if i in student_after or i in grader]
    if not inits:
        return None
    fig, axes = plt.subplots(1, len(inits), figsize=(5 * len(inits), 3.2), squeeze=False)
    for ax, init in zip(axes[0], inits):
        series = [(labels["student_before"], student_before.get(init)), (labels["student_after"], student_after.get(init)),
                  (labels["grader_before"], grader.get(init, {}).get("before")), (labels["grader_after"], grader.get(init, {}).get("after"))]
        series = [(name, values) for name, values in series if values]
        width = 0.8 / max(1, len(series))
        for k, (name, values) in enumerate(series):
            xs = np.arange(1, len(values) + 1) + k * width
            ax.bar(xs, values, width=width, label=name)
        if reference:
            centers = np.arange(1, len(reference) + 1) + (len(series) - 1) * width / 2
            ax.scatter(centers, reference, marker="_", s=400, color="black", zorder=3, label=labels["he_reference"])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(init)
        ax.set_xlabel(labels["layer"])
        ax.set_ylabel("‖W‖_F")
        ax.legend(fontsize=7)
    return png_data_uri(fig)


def seed_dots(seeds: dict, criterion: float, labels: dict, baseline: str) -> str | None:
    """One dot per seed of `init − baseline` (pp), the mean and its CI, and the criterion line."""
    if not seeds:
        return None
    fig, ax = plt.subplots(figsize=(6, 2.8))
    for row, (init, info) in enumerate(seeds.items()):
        ax.scatter(info["diffs"], [row] * len(info["diffs"]), color=colors_for(seeds)[init], zorder=3)
        low, high = info["ci95"]
        if np.isfinite(low):
            ax.plot([low, high], [row, row], color="black", lw=2, alpha=0.5)
        ax.scatter([info["mean"]], [row], marker="|", s=300, color="black")
    ax.axvline(criterion, color="#d62728", linestyle="--", label=f"+{criterion} pp")
    ax.axvline(0, color="gray", lw=0.8)
    ax.set_yticks(range(len(seeds)), [f"{init} − {baseline}" for init in seeds])
    ax.set_xlabel(labels["diff_pp"])
    ax.legend(fontsize=7)
    return png_data_uri(fig)


__all__ = ["png_data_uri", "colors_for", "COLORS", "exercise_curves", "activation_rows", "curves", "initial_histograms", "ex1_histogram", "norms", "seed_dots"]
