"""Figures for interpretation: motif logos, the kernel heatmap (Fig. 3B/C), saliency maps (Fig. 3D).

Figures are drawn on :class:`matplotlib.figure.Figure` with the Agg canvas directly, so nothing here
touches pyplot's global state or the user's backend. Letters are drawn by :func:`draw_logo` (cached
glyph outlines, one compound path per letter); logomaker supplies the information-content transform.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from factornet_core.figures import save_png, suptitle
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


def save_pwm_logo(path: str | os.PathLike, pwm: np.ndarray, title: str = "") -> None:
    """:func:`pwm_logo_figure` written as a PNG."""
    save_png(pwm_logo_figure(pwm, title), path)


def pwm_logo_figure(pwm: np.ndarray, title: str = "") -> Figure:
    """Information-content logo of a ``(width, 4)`` PWM (bits, uniform background)."""
    import logomaker

    pwm = np.asarray(pwm, dtype=np.float64)
    df = pd.DataFrame(pwm, columns=list("ACGT"))
    info = logomaker.transform_matrix(df, from_type="probability", to_type="information")
    fig = _figure(max(6.0, 0.3 * pwm.shape[0]), 2.0 + 0.2 * title.count("\n"))
    ax = fig.add_subplot(1, 1, 1)
    draw_logo(ax, info.to_numpy())
    ax.set_ylim(0, 2)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_ylabel("bits")
    ax.set_xlabel("position in kernel (bp)")
    ax.set_xticks(range(pwm.shape[0]), [str(i + 1) for i in range(pwm.shape[0])], fontsize=6)
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig


#: Fewest activating sites for a kernel's PWM and information content to mean something: a PWM from one
#: site has the maximum 2 bits at every position (a 26 bp kernel: 52 bits) whatever the kernel learned.
MIN_SITES = 10


def _ranked(ic: np.ndarray, n_sites: np.ndarray) -> np.ndarray:
    """Kernel indices: those with at least :data:`MIN_SITES` sites by decreasing information content,
    then those with fewer (but some) sites, then those without sites; stable within each group."""
    ic, n_sites = np.asarray(ic, dtype=np.float64), np.asarray(n_sites)
    group = np.where(n_sites >= MIN_SITES, 0, np.where(n_sites > 0, 1, 2))
    return np.lexsort((-ic, group))


def _titled(fig, subject: str, what: str, fontsize: float) -> None:
    """``fig``'s title: ``subject`` over ``what``, the subject wrapped to the figure's width (it names
    files, so it can be longer than the figure); the PNG title joins them with "; "."""
    chars = max(40, int(fig.get_figwidth() * 72 / (0.55 * fontsize)))
    suptitle(fig, [subject, what], wrap_chars=chars, fontsize=fontsize)


def track_unit(track: str, short: bool = False) -> str:
    """The unit of a model track as ``factornet prepare`` writes it (mapability: a 0–1 fraction);
    ``short`` for axis labels beside other panels."""
    if "MAP" in track.upper():
        return "fraction mappable" if short else "fraction mappable, 0–1"
    return "cuts/bp, genome mean 1" if short else "cuts per bp, 1× norm.: genome mean = 1"


def _heatmap_labels_and_notes(
    df: pd.DataFrame, shown: list[str], constant: list[str], few: int, q_max: float
) -> tuple[list[str], list[str]]:
    """Row labels (kernel, sites, significant known motif) and the footnotes of the kernel heatmap."""
    labels = [f"{k}  (n={n})" for k, n in zip(df["kernel"], df["n_sites"])]
    notes = ["n = activating sites (both strands); rows without sites are blank."]
    if few:
        notes.append(
            f"Below the dashed line: {plural(few, 'kernel')} with fewer than {MIN_SITES} sites, whose information "
            "content reflects only the small sample (one site: 2 bits at every position); the colour scales "
            "span the kernels above it (an arrow on a colour bar: values beyond it)."
        )
    if shown:
        notes.append(
            "Signal columns: the mean over the kernel's span at its sites (a footprint lowers it; the flanks are "
            "in kernel_track_profiles.png). Cyan line on a signal colour bar: the mean over all scanned "
            "positions (background)."
        )
    if "known_motif" in df:
        sig = df.get("known_significant", pd.Series(False, index=df.index)).astype(bool)
        labels = [f"{lab}  {m}" if ok else lab for lab, m, ok in zip(labels, df["known_motif"], sig)]
        notes.append(f"Known motif named where its Tomtom match is significant (q < {q_max:g}); "
                     f"{int(sig.sum())} of {plural(len(df), 'kernel')}.")  # fmt: skip
    for t in constant:
        v = df[f"mean_{t}"].dropna().iloc[0]
        notes.append(f"{t} is {v:.3g} ({track_unit(t)}) at every kernel's sites: no colour scale drawn.")
    return labels, notes


def _heatmap_column(fig: Figure, ax, df: pd.DataFrame, col: str, cmap: str, track, reliable) -> None:
    """One heatmap column with its colour bar; the scale spans the first ``reliable`` rows when given."""
    values = df[col].to_numpy(dtype=np.float64, copy=True)[:, None]
    values[df["n_sites"].to_numpy() == 0] = np.nan  # no sites: a blank row, not a 0-bit one
    # the colour scale spans the kernels with enough sites: one site's 52 bits must not wash them out
    scale = values[:reliable] if reliable is not None and np.isfinite(values[:reliable]).any() else values
    vmin, vmax = np.nanmin(scale), np.nanmax(scale)
    image = ax.imshow(
        np.ma.masked_invalid(values), aspect="auto", cmap=cmap, interpolation="nearest", vmin=vmin, vmax=vmax
    )
    ax.set_xticks([])
    over, under = bool(np.nanmax(values) > vmax), bool(np.nanmin(values) < vmin)
    extend = {(True, True): "both", (True, False): "max", (False, True): "min"}.get((over, under), "neither")
    bar = fig.colorbar(image, ax=ax, fraction=0.15, pad=0.04, extend=extend)
    bar.ax.tick_params(labelsize=7)
    if track is not None and f"background_{track}" in df:
        bar.ax.axhline(float(df[f"background_{track}"].iloc[0]), color="cyan", lw=2.5)


def kernel_heatmap_figure(
    table: pd.DataFrame, track_names: Sequence[str], q_max: float = 0.05, subject: str = ""
) -> Figure:
    """Kernels ordered by information content, coloured by IC and by mean track value at their sites.

    ``subject`` says whose kernels and sites these are (TF, model file, cell type, regions scanned:
    :func:`factornet_core.motifs.figure_subject`); it heads the title.

    ``table`` is the ``kernels.tsv`` table (``kernel, information_content, n_sites, mean_<track>``,
    ``background_<track>``, optional ``known_motif``/``known_q_value``/``known_significant``). A kernel
    is labelled with a known motif only where the Tomtom match is significant (q < ``q_max``, said in
    the footnote). A track constant over all kernels' sites (e.g. mapability 1 everywhere) is not drawn
    as a colour scale: the footnote gives its value. Each track's colour bar marks the genome background.
    """
    df = table.iloc[_ranked(table["information_content"], table["n_sites"])].reset_index(drop=True)
    few = int(((df["n_sites"] > 0) & (df["n_sites"] < MIN_SITES)).sum())
    shown, constant = [], []
    for t in track_names:
        v = df[f"mean_{t}"].to_numpy(dtype=np.float64)
        v = v[np.isfinite(v)]
        (constant if v.size and np.ptp(v) <= 1e-6 * max(1.0, abs(v).max()) else shown).append(t)
    columns = [("information_content", "information content\n(bits)", "viridis", None)] + [
        (f"mean_{t}", f"mean {t} at sites\n({track_unit(t)})", "magma", t) for t in shown
    ]
    labels, notes = _heatmap_labels_and_notes(df, shown, constant, few, q_max)
    n = len(df)
    width = 3.6 + 1.7 * len(columns)
    chars = int(width * 72 / (0.6 * 7))  # 7 pt text: about 0.6 em a character
    text = "\n".join(textwrap.fill(note, chars) for note in notes)
    fig = _figure(width, 1.9 + 0.24 * n + 0.14 * (text.count("\n") + 1))
    axes = np.atleast_1d(fig.subplots(1, len(columns), sharey=True))
    reliable = int((df["n_sites"] >= MIN_SITES).sum())
    for ax, (col, title, cmap, track) in zip(axes, columns):
        _heatmap_column(fig, ax, df, col, cmap, track, reliable if few else None)
        ax.set_title(title, fontsize=8)
    axes[0].set_yticks(range(n))
    axes[0].set_yticklabels(labels, fontsize=7)
    if few:
        for ax in axes:
            ax.axhline(reliable - 0.5, color="white", lw=2.5)
            ax.axhline(reliable - 0.5, color="black", lw=1, ls="--")
    axes[0].set_ylabel(
        f"first-layer kernel (≥ {MIN_SITES} sites first, highest information content on top)", fontsize=8
    )
    what = "First-layer kernels: information content and signal at their activating sites"
    _titled(fig, subject, what, 9)
    fig.text(0.01, 0.005, text, fontsize=7, va="bottom", ha="left")
    fig.tight_layout(rect=(0, (text.count("\n") + 1.5) * 9.5 / 72 / fig.get_figheight(), 1, 1))
    return fig


def save_kernel_heatmap(
    path: str | os.PathLike,
    table: pd.DataFrame,
    track_names: Sequence[str],
    q_max: float = 0.05,
    subject: str = "",
) -> None:
    """:func:`kernel_heatmap_figure` written as a PNG."""
    save_png(kernel_heatmap_figure(table, track_names, q_max, subject), path)


#: one colour per track in every interpretation figure
TRACK_COLOURS = ("#333333", "tab:purple", "tab:brown", "tab:olive")


#: most panel columns in a grid figure (more wrap to the next row)
MAX_COLUMNS = 4


def footprints_figure(found, ic: np.ndarray, top: int = 8, subject: str = "") -> Figure:
    """Kernel footprints (paper Fig. 3A): mean track signal from ``found.flank`` bp before to
    ``found.flank`` bp after each activating site, for the ``top`` kernels with sites by information
    content; the kernel's span is shaded and the scanned background dotted.

    ``found`` is a :class:`~factornet_core.motifs.KernelMotifs` with ``flank_profile``. Panels are laid
    out in a grid of at most :data:`MAX_COLUMNS` columns (8 kernels: 2 × 4), one block of rows per track
    that varies (constant tracks such as mapability are named in the footnote); within a track's block
    the y axis is shared and labelled with the track's unit. ``subject`` (TF, model, cell type) heads
    the title.
    """
    prof, flank = found.flank_profile, found.flank
    width = found.counts.shape[1]
    names = found.names
    ranked = [i for i in _ranked(ic, found.n_sites) if found.n_sites[i] > 0]
    enough = [i for i in ranked if found.n_sites[i] >= MIN_SITES]
    order = (enough or ranked)[:top]  # kernels with too few sites only when no other has sites
    tracks, constant = [], []
    for j in range(len(found.track_names)):
        v = prof[order, :, j] if order else np.zeros(0)
        v = v[np.isfinite(v)]
        (constant if v.size and np.ptp(v) <= 1e-6 * max(1.0, abs(v).max()) else tracks).append(j)
    ncols = min(MAX_COLUMNS, max(1, len(order)))
    block = -(-max(1, len(order)) // ncols)  # rows per track
    nrows = block * max(1, len(tracks))
    fig = _figure(max(6.0, 2.4 * ncols), 1.9 + 1.9 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True)
    x = np.arange(prof.shape[1]) - flank
    for r, j in enumerate(tracks):
        panels = []
        for c, i in enumerate(order):
            ax = axes[r * block + c // ncols, c % ncols]
            panels.append(ax)
            ax.axvspan(-0.5, width - 0.5, color="#f3d9a6", lw=0, label="kernel span")
            ax.plot(x, prof[i, :, j], c=TRACK_COLOURS[j % len(TRACK_COLOURS)], lw=1.2, label="mean at sites")
            ax.axhline(found.background_mean[j], ls=":", c="grey", lw=1, label="background")
            ax.set_title(f"{names[i]}: IC {ic[i]:.1f} bits, n={found.n_sites[i]}", fontsize=8)
            if c % ncols == 0:
                name = found.track_names[j]
                ax.set_ylabel(f"mean {name}\n({track_unit(name, short=True)})", fontsize=8)
            ax.tick_params(labelsize=7, labelbottom=True)  # a panel above an empty cell needs its ticks
        for c in range(len(order), block * ncols):  # the block's empty cells
            axes[r * block + c // ncols, c % ncols].set_visible(False)
        low = min(ax.get_ylim()[0] for ax in panels)  # one y scale per track, across the grid's rows
        high = max(ax.get_ylim()[1] for ax in panels)
        for k, ax in enumerate(panels):
            ax.set_ylim(low, high)
            if k + ncols >= len(panels):  # no panel below it in this track's block
                ax.set_xlabel("bp from site start", fontsize=8)
    if not order or not tracks:
        for ax in axes.flat[1:]:
            ax.set_visible(False)
        axes[0, 0].text(
            0.5, 0.5, "no kernel with sites / no varying track", ha="center", transform=axes[0, 0].transAxes
        )
    else:
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower right", ncol=3, fontsize=7, frameon=False)
    note = f"Sites: activation ≥ {found.threshold:g} × the kernel's maximum, both strands, read in the kernel's direction."
    for j in constant:
        value = np.nanmedian(prof[order, :, j]) if order else float("nan")
        note += f" {found.track_names[j]} is constant ({value:.3g}): not drawn."
    skipped = len([i for i in ranked if found.n_sites[i] < MIN_SITES]) if enough else 0
    if skipped:
        note += f" Not shown: {plural(skipped, 'kernel')} with fewer than {MIN_SITES} sites."
    note = textwrap.fill(note, int(0.62 * fig.get_figwidth() * 72 / (0.6 * 7)))  # clear of the legend
    fig.text(0.01, 0.005, note, fontsize=7, va="bottom")
    what = (
        f"Kernel footprints: mean signal ±{flank} bp around activating sites "
        f"(top {plural(len(order), 'kernel')} by information content)"
    )
    _titled(fig, subject, what, 10)
    fig.tight_layout(rect=(0, (note.count("\n") + 1.5) * 9.5 / 72 / fig.get_figheight(), 1, 1))
    return fig


def save_footprints(path: str | os.PathLike, found, ic: np.ndarray, top: int = 8, subject: str = "") -> None:
    """:func:`footprints_figure` written as a PNG."""
    save_png(footprints_figure(found, ic, top, subject), path)


ZOOM_BP = 200  # a saliency window longer than this gets an overview and a zoom on its most salient stretch


def most_salient_window(saliency: np.ndarray, width: int = ZOOM_BP, core: int = 20) -> int:
    """Start of a ``width``-bp stretch centred on the ``core``-bp stretch of largest total saliency
    (negatives count as 0), kept inside the sequence."""
    s = np.maximum(np.nan_to_num(np.asarray(saliency, dtype=np.float64)), 0.0)
    if s.size <= width:
        return 0
    centre = int(np.argmax(np.convolve(s, np.ones(core), mode="valid"))) + core // 2
    return int(np.clip(centre - width // 2, 0, s.size - width))


def _mark_region_and_hit(ax, region, hit, label: bool) -> None:
    """Shade the query ``region`` and box the best known-motif ``hit`` (legend entries when ``label``)."""
    if region is not None:
        ax.axvspan(region[0] - 0.5, region[1] - 0.5, color="#dde8f5", lw=0, zorder=0,
                   label="query region" if label else None)  # fmt: skip
    if hit is not None:
        ax.axvspan(hit[0] - 0.5, hit[1] - 0.5, fill=False, ec="black", lw=1.2, ls="--", zorder=3,
                   label=f"best {hit[2]} match ({hit[3]} strand)" if label else None)  # fmt: skip


def _strand_letters(ax, part: np.ndarray, reverse: bool, x0: int, ymax: float) -> None:
    """One strand's letters scaled by saliency; the reverse strand hangs below zero, complemented."""
    from matplotlib.ticker import FuncFormatter

    if reverse:
        draw_logo(ax, -part[:, ::-1], x0=x0)  # complement: A↔T, C↔G at the same position
        ax.set_ylim(-ymax * 1.05, 0)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{abs(v):g}"))  # heights, not signs
        ax.set_ylabel("reverse strand\n(complement, 3′←5′)\ngrad × input", fontsize=8)
    else:
        draw_logo(ax, part, x0=x0)
        ax.set_ylim(0, ymax * 1.05)
        ax.set_ylabel("forward strand\ngrad × input", fontsize=8)


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

    for ax, row in zip(axes, rows):
        if row == "overview":
            ax.fill_between(x, sal, step="mid", color="#444444", lw=0)
            ax.axvspan(
                start + lo - 0.5, start + hi - 0.5, fill=False, ec="tab:red", lw=1.5, label="zoomed below"
            )
            _mark_region_and_hit(ax, region, hit, True)
            ax.set(xlim=(start - 0.5, start + length - 0.5), ylim=(0, ymax * 1.05))
            ax.set_ylabel("gradient × input", fontsize=8)
            ax.set_title(f"whole {length} bp model input", fontsize=8, loc="left")
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
            continue
        if row in ("forward", "reverse"):
            _strand_letters(ax, onehot[lo:hi] * sal[lo:hi, None], row == "reverse", start + lo, ymax)
            _mark_region_and_hit(ax, region, hit, row == "forward")
            ax.set_xlim(start + lo - 0.5, start + hi - 0.5)
            ax.tick_params(labelbottom=False)
            continue
        ax.fill_between(x[lo:hi], tracks[lo:hi, row], step="mid", color=TRACK_COLOURS[row % len(TRACK_COLOURS)],
                        lw=0)  # fmt: skip
        _mark_region_and_hit(ax, region, hit, False)
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
