"""Rendering: matplotlib figures drawn from the figure data in ``_data``.

Every ``draw_*`` function takes the data and an Axes and returns the Axes; it never computes
anything beyond layout. ``figure()`` makes an Agg-backed Figure without pyplot (no global state,
nothing shown), which is what the HTML report uses; the Python API passes the user's Axes or
creates one with pyplot, as scikit-learn's displays do.
"""
from __future__ import annotations

import base64
import io
import math

import numpy as np
import pandas as pd

from ._trial_data import ORIGINS, UNKNOWN_ORIGIN, origin_colour, origin_label

TASK_COLOURS = {"binary": "#1f77b4", "multiclass": "#ff7f0e", "regression": "#2ca02c"}


def figure(width: float = 8.0, height: float = 4.2):
    """A new (Figure, Axes) on the Agg canvas, independent of pyplot and of the user's backend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def user_axes(ax=None, width: float = 8.0, height: float = 4.2):
    """``ax`` as given, else a new pyplot Axes (shown the way the user's backend shows figures)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt
    _, ax = plt.subplots(figsize=(width, height), layout="constrained")
    return ax


def png_base64(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _empty(ax, message: str):
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#555555", wrap=True)
    return ax


def draw_anytime(curve: dict, ax, metric: str | None = None):
    """Best validation score against time (step line) over every trial, coloured by origin, sized by fidelity."""
    if not curve.get("points") and not curve.get("failed"):
        return _empty(ax, "no search history in this model")
    points = pd.DataFrame(curve["points"])
    full = curve.get("full_fidelity") or 1.0
    seen: set[str] = set()
    if len(points):
        for origin, group in points.groupby("origin", sort=False):
            label = origin_label(origin)
            low = group["fidelity"] < full - 1e-9
            for part, filled in ((group[~low], True), (group[low], False)):
                if part.empty:
                    continue
                sizes = 12 + 48 * np.clip(part["fidelity"].to_numpy() / full, 0, 1)
                colour = origin_colour(origin)
                ax.scatter(part["time"], part["score"], s=sizes, alpha=0.8, zorder=3,
                           facecolors=colour if filled else "none", edgecolors=colour,
                           label=label if label not in seen else None)
                seen.add(label)
    best = curve.get("best") or []
    if best:
        t = [b["time"] for b in best]
        s = [b["score"] for b in best]
        t_end = max([t[-1]] + [p["time"] for p in curve.get("points", [])] + [f["time"] for f in curve["failed"]])
        ax.step(t + [t_end], s + [s[-1]], where="post", color="black", lw=1.8, zorder=4,
                label=f"best so far (fidelity {full:g})")
    if curve.get("failed"):
        y = ax.get_ylim()[0] if len(points) else 0.0
        ax.scatter([f["time"] for f in curve["failed"]], [y] * len(curve["failed"]), marker="x", color="#b00020",
                   s=30, zorder=3, label="failed / timed out", clip_on=False)
    ax.set_xlabel(curve.get("time_axis") or "seconds")
    ax.set_ylabel(f"validation {metric}" if metric else "validation score")
    ax.set_title("Anytime performance (filled: full fidelity, hollow: lower fidelity; size = fidelity)",
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return ax


def draw_families(summary: pd.DataFrame, points: pd.DataFrame, ax, metric: str | None = None):
    """Every finished trial's score per family (dots) with the family's best at full fidelity (bar end)."""
    if summary is None or summary.empty:
        return _empty(ax, "no search history in this model")
    families = list(summary["family"])
    pos = {f: i for i, f in enumerate(families)}
    rng = np.random.default_rng(0)
    if points is not None and len(points):
        for origin, group in points.groupby("origin", sort=False):
            y = group["family"].map(pos).to_numpy(dtype=float) + rng.uniform(-0.18, 0.18, len(group))
            ax.scatter(group["score"], y, s=14, alpha=0.6, color=origin_colour(origin), label=origin_label(origin))
    best = summary["best_score"].to_numpy(dtype=float)
    ok = np.isfinite(best)
    ax.scatter(best[ok], np.arange(len(families))[ok], marker="|", s=500, color="black", lw=2,
               label="best at full fidelity", zorder=4)
    ax.set_yticks(range(len(families)))
    ax.set_yticklabels([f"{f} ({n})" for f, n in zip(families, summary["n_trials"])])
    ax.invert_yaxis()
    ax.set_xlabel(f"validation {metric}" if metric else "validation score")
    ax.set_title("Score by model family (number of trials)", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def draw_neighbours(neighbours: pd.DataFrame, ax):
    """Distance to each past dataset the warm start used (nearest at the top)."""
    if neighbours is None or neighbours.empty or "distance" not in neighbours.columns:
        return _empty(ax, "no neighbours recorded")
    labels = [str(r.get("name") or str(r.get("fingerprint", "?"))[:12]) for r in neighbours.to_dict("records")]
    ax.barh(range(len(labels)), pd.to_numeric(neighbours["distance"], errors="coerce").fillna(0), color="#1b9e77")
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels)
    ax.invert_yaxis()
    ax.set_xlabel("distance in meta-feature space")
    ax.set_title("Nearest past datasets", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return ax


def draw_importance(importance: pd.DataFrame, ax, metric: str | None = None, top: int = 20,
                    greater_is_better: bool | None = None):
    """Permutation importance (drop in score when a column is shuffled), most important at the top."""
    if importance is None or importance.empty:
        return _empty(ax, "no importance computed")
    data = importance.dropna(subset=["importance"]).head(top)
    ax.barh(range(len(data)), data["importance"], xerr=data["std"].fillna(0), color="#4c72b0", alpha=0.85,
            error_kw={"elinewidth": 1, "ecolor": "#333333"})
    ax.set_yticks(range(len(data)))
    ax.set_yticklabels(data["feature"])
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.8)
    change = "increase" if greater_is_better is False else "drop"
    ax.set_xlabel(f"{change} in {metric or 'score'} when shuffled (higher = more important)")
    ax.set_title("Permutation feature importance", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return ax


def draw_confusion(confusion: dict, ax):
    """Row-normalised confusion matrix with counts."""
    labels = confusion.get("labels") or []
    if not labels:
        return _empty(ax, "no confusion matrix")
    rates = np.asarray(confusion["rates"], dtype=float)
    counts = np.asarray(confusion["matrix"], dtype=int)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    k = len(labels)
    if k <= 20:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{counts[i, j]}\n{rates[i, j]:.0%}", ha="center", va="center", fontsize=8,
                        color="white" if rates[i, j] > 0.6 else "black")
    ax.set_xticks(range(k))
    ax.set_xticklabels(labels, rotation=45 if k > 5 else 0, ha="right" if k > 5 else "center")
    ax.set_yticks(range(k))
    ax.set_yticklabels(labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Confusion matrix (accuracy {confusion.get('accuracy', math.nan):.3f}, n={confusion.get('n')})",
                 fontsize=10)
    return ax


def draw_calibration(calibration: dict, ax):
    """Reliability diagram: observed frequency against mean predicted probability per bin."""
    bins = calibration.get("bins") or []
    if not bins:
        return _empty(ax, "no calibration data")
    x = [b["mean_predicted"] for b in bins]
    y = [b["observed"] for b in bins]
    n = np.asarray([b["count"] for b in bins], dtype=float)
    ax.plot([0, 1], [0, 1], ls="--", color="#888888", label="perfectly calibrated")
    ax.plot(x, y, color="#d95f02", lw=1.5)
    ax.scatter(x, y, s=20 + 180 * n / n.max(), color="#d95f02", zorder=3, label="model (size = rows in bin)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    kind = calibration.get("kind", "")
    ax.set_xlabel("mean predicted probability" + (" (top label)" if kind.startswith("top") else ""))
    ax.set_ylabel("observed frequency" if kind == "positive class" else "observed accuracy")
    extra = f", Brier {calibration['brier']:.3f}" if "brier" in calibration else ""
    ax.set_title(f"Calibration ({kind}; ECE {calibration.get('ece', math.nan):.3f}{extra})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return ax


def draw_residuals(residuals: dict, axes):
    """Two panels: predicted against actual, and residuals against predicted."""
    ax1, ax2 = axes
    if not residuals.get("actual"):
        _empty(ax1, "no residuals")
        return _empty(ax2, "")
    a, p, r = (np.asarray(residuals[k]) for k in ("actual", "predicted", "residual"))
    lo, hi = float(min(a.min(), p.min())), float(max(a.max(), p.max()))
    ax1.scatter(a, p, s=8, alpha=0.5, color="#4c72b0")
    ax1.plot([lo, hi], [lo, hi], ls="--", color="#888888")
    ax1.set_xlabel("actual")
    ax1.set_ylabel("predicted")
    ax1.set_title(f"Predicted vs actual (R\u00b2 {residuals.get('r2', math.nan):.3f})", fontsize=10)
    ax1.grid(alpha=0.3)
    ax2.scatter(p, r, s=8, alpha=0.5, color="#4c72b0")
    ax2.axhline(0, color="#888888", ls="--")
    ax2.set_xlabel("predicted")
    ax2.set_ylabel("residual (actual - predicted)")
    ax2.set_title(f"Residuals (RMSE {residuals.get('rmse', math.nan):.4g}, MAE {residuals.get('mae', math.nan):.4g})",
                  fontsize=10)
    ax2.grid(alpha=0.3)
    return axes


def draw_kb_sizes(overview: pd.DataFrame, ax):
    """Stacked bars: datasets per task, split by size bucket."""
    if overview is None or overview.empty:
        return _empty(ax, "the knowledge base holds no dataset")
    data = overview.drop(columns="total", errors="ignore")
    bottom = np.zeros(len(data))
    colours = ["#c6dbef", "#6baed6", "#2171b5", "#08306b", "#bbbbbb"]
    for colour, col in zip(colours, data.columns):
        ax.bar(data.index.astype(str), data[col], bottom=bottom, label=col, color=colour)
        bottom += data[col].to_numpy(dtype=float)
    ax.set_ylabel("datasets")
    ax.set_title("Datasets by task and size", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return ax


def draw_kb_map(mapping: dict, ax):
    """PCA map of the meta-feature space: datasets by task, neighbours ringed, the new dataset starred."""
    if not mapping.get("points"):
        return _empty(ax, mapping.get("reason") or "no meta-features to map")
    pts = pd.DataFrame(mapping["points"])
    for task, group in pts.groupby("task", sort=True):
        size = 10 + 8 * np.log10(pd.to_numeric(group["n_rows"], errors="coerce").fillna(100).clip(lower=10))
        ax.scatter(group["x"], group["y"], s=size, alpha=0.7, color=TASK_COLOURS.get(task, "#777777"), label=task)
    neigh = pts[pts["neighbour"]]
    new = mapping.get("new")
    if len(neigh):
        ax.scatter(neigh["x"], neigh["y"], s=140, facecolors="none", edgecolors="black", lw=1.5,
                   label="nearest neighbours", zorder=4)
        if new is not None:
            for r in neigh.itertuples():
                ax.plot([new["x"], r.x], [new["y"], r.y], color="black", lw=0.6, alpha=0.6, zorder=3)
    if new is not None:
        ax.scatter([new["x"]], [new["y"]], marker="*", s=320, color="#e41a1c", edgecolors="black", zorder=5,
                   label="new dataset")
    ev = mapping.get("explained") or [math.nan, math.nan]
    axes = mapping.get("axes") or [[], []]
    ax.set_xlabel(f"PC1 ({ev[0]:.0%}): " + ", ".join(axes[0]), fontsize=8)
    ax.set_ylabel(f"PC2 ({ev[1]:.0%}): " + ", ".join(axes[1]), fontsize=8)
    ax.set_title("Meta-feature space (PCA; point size = rows)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return ax


def draw_wins(table: pd.DataFrame, ax, by: str = "task"):
    """Stacked horizontal bars: past datasets each family won, split by ``by`` (task or size)."""
    if table is None or table.empty:
        return _empty(ax, "no finished evaluations in the knowledge base")
    data = table.drop(columns="total", errors="ignore")
    left = np.zeros(len(data))
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#bbbbbb"]
    for i, col in enumerate(data.columns):
        colour = TASK_COLOURS.get(col, palette[i % len(palette)])
        ax.barh(data.index.astype(str), data[col], left=left, label=str(col), color=colour)
        left += data[col].to_numpy(dtype=float)
    ax.invert_yaxis()
    ax.set_xlabel("past datasets where the family is best")
    ax.set_title(f"Which model families win (by {by})", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return ax


__all__ = ["figure", "user_axes", "png_base64", "draw_anytime", "draw_families", "draw_neighbours",
           "draw_importance", "draw_confusion", "draw_calibration", "draw_residuals", "draw_kb_sizes",
           "draw_kb_map", "draw_wins", "ORIGINS", "UNKNOWN_ORIGIN"]
