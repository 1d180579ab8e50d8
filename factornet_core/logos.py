"""Figures for interpretation: motif logos, the kernel heatmap (Fig. 3B/C), saliency maps (Fig. 3D).

Figures are drawn on :class:`matplotlib.figure.Figure` with the Agg canvas directly, so nothing here
touches pyplot's global state or the user's backend. Letters are drawn by :func:`draw_logo` (cached
glyph outlines, one compound path per letter); logomaker supplies the information-content transform.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from factornet_core.wording import plural

COLORS = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839"}


_UNIT_PATHS: dict = {}


def _unit_path(letter: str):
    """The letter's outline scaled to the unit square (cached: building a TextPath is the slow part)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D

    if letter not in _UNIT_PATHS:
        path = TextPath((0, 0), letter, size=1, prop=FontProperties(family="DejaVu Sans", weight="bold"))
        box = path.get_extents()
        to_unit = Affine2D().translate(-box.x0, -box.y0).scale(1 / box.width, 1 / box.height)
        _UNIT_PATHS[letter] = to_unit.transform_path(path)
    return _UNIT_PATHS[letter]


def draw_logo(ax, matrix: np.ndarray, x0: float = 0.0, letters: str = "ACGT", width: float = 0.9) -> None:
    """Stacked-letter logo of ``matrix`` ``(L, 4)``: letter heights are the values (negative ones below 0).

    Per position, positive letters stack upwards with the tallest on top, negative ones downwards with
    the largest magnitude at the bottom; zero entries draw nothing. Position ``i`` is centred at
    ``x0 + i``. Drawn as one compound path per letter, so a 1000 bp saliency map takes a fraction of a
    second (logomaker builds one patch per glyph, ~7 ms each: half a minute for 1 kb).
    """
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath
    from matplotlib.transforms import Affine2D

    m = np.nan_to_num(np.asarray(matrix, dtype=np.float64))
    pieces: dict[int, list] = {j: [] for j in range(len(letters))}
    top, bottom = 0.0, 0.0
    for i, row in enumerate(m):
        x = x0 + i - width / 2
        up, down = 0.0, 0.0
        for j in np.argsort(np.abs(row), kind="stable"):  # smallest next to the axis
            h = row[j]
            if h > 0:
                floor, up = up, up + h
            elif h < 0:
                floor, down = down + h, down + h
            else:
                continue
            pieces[j].append(
                Affine2D().scale(width, abs(h)).translate(x, floor).transform_path(_unit_path(letters[j]))
            )
        top, bottom = max(top, up), min(bottom, down)
    for j, paths in pieces.items():
        if paths:
            compound = MplPath.make_compound_path(*paths)
            ax.add_patch(PathPatch(compound, facecolor=COLORS.get(letters[j], "gray"), edgecolor="none"))
    ax.set_xlim(x0 - 0.5, x0 + len(m) - 0.5)
    span = top - bottom
    ax.set_ylim(bottom - 0.02 * span if bottom < 0 else 0.0, top + 0.02 * span if span > 0 else 1.0)


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | os.PathLike) -> None:
    fig.savefig(path, format="png")


def save_pwm_logo(path: str | os.PathLike, pwm: np.ndarray, title: str = "") -> None:
    """:func:`pwm_logo_figure` written as a PNG."""
    _save(pwm_logo_figure(pwm, title), path)


def pwm_logo_figure(pwm: np.ndarray, title: str = "") -> Figure:
    """Information-content logo of a ``(width, 4)`` PWM (bits, uniform background)."""
    import logomaker

    pwm = np.asarray(pwm, dtype=np.float64)
    df = pd.DataFrame(pwm, columns=list("ACGT"))
    info = logomaker.transform_matrix(df, from_type="probability", to_type="information")
    fig = _figure(max(4.0, 0.3 * pwm.shape[0]), 2.0)
    ax = fig.add_subplot(1, 1, 1)
    draw_logo(ax, info.to_numpy())
    ax.set_ylim(0, 2)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_ylabel("bits")
    ax.set_xlabel("position in kernel (bp)")
    ax.set_xticks(range(pwm.shape[0]), [str(i + 1) for i in range(pwm.shape[0])], fontsize=6)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def track_unit(track: str) -> str:
    """The unit of a model track as ``factornet prepare`` writes it (mapability: a 0–1 fraction)."""
    if "MAP" in track.upper():
        return "fraction mappable, 0–1"
    return "cuts per bp, 1× norm.: genome mean = 1"


def kernel_heatmap_figure(table: pd.DataFrame, track_names: Sequence[str], q_max: float = 0.05) -> Figure:
    """Kernels ordered by information content, coloured by IC and by mean track value at their sites.

    ``table`` is the ``kernels.tsv`` table (``kernel, information_content, n_sites, mean_<track>``,
    ``background_<track>``, optional ``known_motif``/``known_q_value``/``known_significant``). A kernel
    is labelled with a known motif only where the Tomtom match is significant (q < ``q_max``, said in
    the footnote). A track constant over all kernels' sites (e.g. mapability 1 everywhere) is not drawn
    as a colour scale: the footnote gives its value. Each track's colour bar marks the genome background.
    """
    df = table.sort_values("information_content", ascending=False, kind="stable").reset_index(drop=True)
    shown, constant = [], []
    for t in track_names:
        v = df[f"mean_{t}"].to_numpy(dtype=np.float64)
        v = v[np.isfinite(v)]
        (constant if v.size and np.ptp(v) <= 1e-6 * max(1.0, abs(v).max()) else shown).append(t)
    columns = [("information_content", "information content\n(bits)", "viridis", None)] + [
        (f"mean_{t}", f"mean {t} at sites\n({track_unit(t)})", "magma", t) for t in shown
    ]
    labels = [f"{k}  (n={n})" for k, n in zip(df["kernel"], df["n_sites"])]
    notes = ["n = activating sites (both strands); rows without sites are blank."]
    if shown:
        notes.append("Cyan line on a signal colour bar: the mean over all scanned positions (background).")
    if "known_motif" in df:
        sig = df.get("known_significant", pd.Series(False, index=df.index)).astype(bool)
        labels = [f"{lab}  {m}" if ok else lab for lab, m, ok in zip(labels, df["known_motif"], sig)]
        notes.append(f"Known motif named where its Tomtom match is significant (q < {q_max:g}); "
                     f"{int(sig.sum())} of {plural(len(df), 'kernel')}.")  # fmt: skip
    for t in constant:
        v = df[f"mean_{t}"].dropna().iloc[0]
        notes.append(f"{t} is {v:.3g} ({track_unit(t)}) at every kernel's sites: no colour scale drawn.")
    n = len(df)
    fig = _figure(3.6 + 1.7 * len(columns), 1.9 + 0.24 * n + 0.15 * len(notes))
    axes = np.atleast_1d(fig.subplots(1, len(columns), sharey=True))
    for ax, (col, title, cmap, track) in zip(axes, columns):
        values = df[col].to_numpy(dtype=np.float64)[:, None]
        image = ax.imshow(np.ma.masked_invalid(values), aspect="auto", cmap=cmap, interpolation="nearest")
        ax.set_xticks([])
        ax.set_title(title, fontsize=8)
        bar = fig.colorbar(image, ax=ax, fraction=0.15, pad=0.04)
        bar.ax.tick_params(labelsize=7)
        if track is not None and f"background_{track}" in df:
            bg = float(df[f"background_{track}"].iloc[0])
            bar.ax.axhline(bg, color="cyan", lw=2.5)
    axes[0].set_yticks(range(n))
    axes[0].set_yticklabels(labels, fontsize=7)
    axes[0].set_ylabel("first-layer kernel (highest information content on top)", fontsize=8)
    fig.suptitle("First-layer kernels: information content and signal at their activating sites", fontsize=9)
    fig.text(0.01, 0.005, "\n".join(notes), fontsize=7, va="bottom", ha="left")
    fig.tight_layout(rect=(0, 0.02 + 0.035 * len(notes) * 12 / max(12, n), 1, 1))
    return fig


def save_kernel_heatmap(
    path: str | os.PathLike, table: pd.DataFrame, track_names: Sequence[str], q_max: float = 0.05
) -> None:
    """:func:`kernel_heatmap_figure` written as a PNG."""
    _save(kernel_heatmap_figure(table, track_names, q_max), path)


#: one colour per track in every interpretation figure
TRACK_COLOURS = ("#333333", "tab:purple", "tab:brown", "tab:olive")


def footprints_figure(found, ic: np.ndarray, top: int = 8) -> Figure:
    """Kernel footprints (paper Fig. 3A): mean track signal from ``found.flank`` bp before to
    ``found.flank`` bp after each activating site, for the ``top`` kernels with sites by information
    content; the kernel's span is shaded and the scanned background dotted.

    ``found`` is a :class:`~factornet_core.motifs.KernelMotifs` with ``flank_profile``. One row of
    panels per track that varies (constant tracks such as mapability are named in the footnote), one
    column per kernel; y shared along a row, labelled once with the track's unit.
    """
    prof, flank = found.flank_profile, found.flank
    width = found.counts.shape[1]
    names = found.names
    order = [i for i in np.argsort(-np.asarray(ic), kind="stable") if found.n_sites[i] > 0][:top]
    tracks, constant = [], []
    for j in range(len(found.track_names)):
        v = prof[order, :, j] if order else np.zeros(0)
        v = v[np.isfinite(v)]
        (constant if v.size and np.ptp(v) <= 1e-6 * max(1.0, abs(v).max()) else tracks).append(j)
    ncols, nrows = max(1, len(order)), max(1, len(tracks))
    fig = _figure(max(6.0, 2.1 * ncols), 1.6 + 2.0 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey="row")
    x = np.arange(prof.shape[1]) - flank
    for r, j in enumerate(tracks):
        for c, i in enumerate(order):
            ax = axes[r, c]
            ax.axvspan(-0.5, width - 0.5, color="#f3d9a6", lw=0, label="kernel span")
            ax.plot(x, prof[i, :, j], c=TRACK_COLOURS[j % len(TRACK_COLOURS)], lw=1.2, label="mean at sites")
            ax.axhline(found.background_mean[j], ls=":", c="grey", lw=1, label="background")
            if r == 0:
                ax.set_title(f"{names[i]}\nIC {ic[i]:.1f} bits, n={found.n_sites[i]}", fontsize=8)
            if c == 0:
                ax.set_ylabel(
                    f"mean {found.track_names[j]}\n({track_unit(found.track_names[j])})", fontsize=8
                )
            if r == nrows - 1:
                ax.set_xlabel("bp from site start", fontsize=8)
            ax.tick_params(labelsize=7)
    if not order or not tracks:
        axes[0, 0].text(
            0.5, 0.5, "no kernel with sites / no varying track", ha="center", transform=axes[0, 0].transAxes
        )
    else:
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower right", ncol=3, fontsize=7, frameon=False)
    note = f"Sites: activation ≥ {found.threshold:g} × the kernel's maximum, both strands, read in the kernel's direction."
    for j in constant:
        note += f" {found.track_names[j]} is constant ({prof[order[0], 0, j]:.3g}): not drawn."
    fig.text(0.01, 0.005, note, fontsize=7, va="bottom")
    fig.suptitle(
        f"Kernel footprints: mean signal ±{flank} bp around activating sites "
        f"(top {plural(len(order), 'kernel')} by information content)", fontsize=10,
    )  # fmt: skip
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def save_footprints(path: str | os.PathLike, found, ic: np.ndarray, top: int = 8) -> None:
    """:func:`footprints_figure` written as a PNG."""
    _save(footprints_figure(found, ic, top), path)


ZOOM_BP = 200  # a saliency window longer than this gets an overview and a zoom on its most salient stretch


def most_salient_window(saliency: np.ndarray, width: int = ZOOM_BP, core: int = 20) -> int:
    """Start of a ``width``-bp stretch centred on the ``core``-bp stretch of largest total saliency
    (negatives count as 0), kept inside the sequence."""
    s = np.maximum(np.nan_to_num(np.asarray(saliency, dtype=np.float64)), 0.0)
    if s.size <= width:
        return 0
    centre = int(np.argmax(np.convolve(s, np.ones(core), mode="valid"))) + core // 2
    return int(np.clip(centre - width // 2, 0, s.size - width))


def saliency_figure(
    onehot: np.ndarray,
    saliency: np.ndarray,
    tracks: np.ndarray,
    track_names: Sequence[str],
    start: int,
    title: str,
    region: tuple[int, int] | None = None,
    hit: tuple[int, int, str, str] | None = None,
    zoom: int = ZOOM_BP,
) -> Figure:
    """Saliency as the paper's Fig. 3D: letters scaled by gradient × input (negatives clipped to 0).

    ``onehot`` ``(L, 4)`` forward-strand bases, ``saliency`` ``(L,)`` per-base gradient × input,
    ``tracks`` ``(L, n_tracks)``; ``start`` is the window's first base (0-based genomic). Rows: the
    forward strand's letters, the reverse strand's (complementary bases at the same positions, read
    right to left, drawn with the same heights: the model scores both strands together), then each
    track with its unit. ``region`` (genomic start, end) is shaded; ``hit`` (genomic start, end, motif
    name, strand) is boxed. A window longer than ``zoom`` bp gets an overview of the saliency first and
    the letter rows show only its most salient ``zoom`` bp, so letters stay readable.
    """
    import textwrap

    from matplotlib.ticker import FuncFormatter

    onehot = np.asarray(onehot, dtype=np.float64)
    sal = np.maximum(np.nan_to_num(np.asarray(saliency, dtype=np.float64)), 0.0)
    length, n_tracks = onehot.shape[0], tracks.shape[1]
    zoomed = length > zoom
    lo = most_salient_window(sal, zoom) if zoomed else 0
    hi = lo + zoom if zoomed else length
    rows = (["overview"] if zoomed else []) + ["forward", "reverse"] + list(range(n_tracks))
    heights = {"overview": 1.2, "forward": 1.6, "reverse": 1.6}
    fig = _figure(max(8.0, min(24.0, (hi - lo) / 12)), 1.0 + sum(heights.get(r, 1.0) for r in rows))
    axes = fig.subplots(len(rows), 1, squeeze=False, height_ratios=[heights.get(r, 1.0) for r in rows])[:, 0]
    x = np.arange(start, start + length)
    ymax = sal.max() if sal.max() > 0 else 1.0

    def marks(ax, label: bool) -> None:
        if region is not None:
            ax.axvspan(region[0] - 0.5, region[1] - 0.5, color="#dde8f5", lw=0, zorder=0,
                       label="query region" if label else None)  # fmt: skip
        if hit is not None:
            ax.axvspan(hit[0] - 0.5, hit[1] - 0.5, fill=False, ec="black", lw=1.2, ls="--", zorder=3,
                       label=f"best {hit[2]} match ({hit[3]} strand)" if label else None)  # fmt: skip

    for ax, row in zip(axes, rows):
        if row == "overview":
            ax.fill_between(x, sal, step="mid", color="#444444", lw=0)
            ax.axvspan(
                start + lo - 0.5, start + hi - 0.5, fill=False, ec="tab:red", lw=1.5, label="zoomed below"
            )
            marks(ax, True)
            ax.set(xlim=(start - 0.5, start + length - 0.5), ylim=(0, ymax * 1.05))
            ax.set_ylabel("gradient × input", fontsize=8)
            ax.set_title(f"whole {length} bp model input", fontsize=8, loc="left")
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
            continue
        if row in ("forward", "reverse"):
            part = onehot[lo:hi] * sal[lo:hi, None]
            if row == "reverse":
                part = part[:, ::-1]  # complement: A↔T, C↔G at the same position
                draw_logo(ax, -part, x0=start + lo)
                ax.set_ylim(-ymax * 1.05, 0)
                ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{abs(v):g}"))  # heights, not signs
                ax.set_ylabel("reverse strand\n(complement, 3′←5′)\ngrad × input", fontsize=8)
            else:
                draw_logo(ax, part, x0=start + lo)
                ax.set_ylim(0, ymax * 1.05)
                ax.set_ylabel("forward strand\ngrad × input", fontsize=8)
            marks(ax, row == "forward")
            ax.set_xlim(start + lo - 0.5, start + hi - 0.5)
            ax.tick_params(labelbottom=False)
            continue
        ax.fill_between(x[lo:hi], tracks[lo:hi, row], step="mid", color=TRACK_COLOURS[row % len(TRACK_COLOURS)],
                        lw=0)  # fmt: skip
        marks(ax, False)
        ax.set_xlim(start + lo - 0.5, start + hi - 0.5)
        unit = textwrap.fill(f"({track_unit(track_names[row])})", 20)
        ax.set_ylabel(f"{track_names[row]}\n{unit}", fontsize=7)
    axes[-1].set_xlabel("genomic position (bp, 0-based)")
    axes[-1].tick_params(labelbottom=True)
    from matplotlib.patches import Patch

    fwd = axes[1 if zoomed else 0]
    handles, labels = fwd.get_legend_handles_labels()
    handles += [Patch(color=COLORS[b]) for b in "ACGT"]
    labels += list("ACGT")
    fwd.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    if zoomed:
        fwd.set_title(f"zoom: {start + lo}-{start + hi}, the most salient {zoom} bp", fontsize=8, loc="left")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
