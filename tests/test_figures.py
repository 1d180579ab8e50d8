"""The figures' structure, read back through matplotlib's objects (titles, labels, series, reference lines)."""

import numpy as np
import pytest
from matplotlib.colors import to_hex

from factornet_core.figures import SERIES_COLOURS, chromosome_label, curves_figure, learning_curves_figure

HISTORY = [
    {"epoch": 1, "loss": 0.69, "val_loss": 0.66, "val_auPR": 0.60, "cross_val_loss": 0.7, "cross_val_auPR": 0.5},
    {"epoch": 2, "loss": 0.55, "val_loss": 0.52, "val_auPR": 0.81, "cross_val_loss": 0.6, "cross_val_auPR": 0.7},
    {"epoch": 3, "loss": 0.45, "val_loss": 0.58, "val_auPR": 0.77, "cross_val_loss": 0.65, "cross_val_auPR": 0.6,
     "best_epoch": 2},
]  # fmt: skip


def _colours(ax):
    return {
        line.get_label(): to_hex(line.get_color())
        for line in ax.lines
        if not line.get_label().startswith("_")
    }


def test_learning_curves_best_epoch_colours_design():
    design = "Validation set: bins on chr11, 1:1 unbound:bound."
    fig = learning_curves_figure(HISTORY, "Learning curves: m.keras, CTCF in K562, seed 0", design)
    loss, aupr = fig.axes
    assert fig._suptitle.get_text() == "Learning curves: m.keras, CTCF in K562, seed 0"
    assert design in [t.get_text() for t in fig.texts]  # the validation design is stated in the figure
    assert loss.get_xlabel() == aupr.get_xlabel() == "epoch"
    assert "cross-entropy" in loss.get_ylabel() and "auPR" in aupr.get_ylabel()
    # the best epoch (2, not the last) is a vertical line in both panels, starred at its validation auPR
    for ax in (loss, aupr):
        (vline,) = [ln for ln in ax.lines if ln.get_label().startswith("best epoch")]
        assert list(vline.get_xdata()) == [2, 2]
    (star,) = [ln for ln in aupr.lines if ln.get_marker() == "*"]
    assert (star.get_xdata()[0], star.get_ydata()[0]) == (2, 0.81)
    # one colour per series, the same in both panels; train only in the loss panel
    lc, ac = _colours(loss), _colours(aupr)
    val, cross = "validation, training cell type(s)", "validation, held-out cell type"
    assert lc[val] == ac[val] == to_hex(SERIES_COLOURS["val"])
    assert lc[cross] == ac[cross] == to_hex(SERIES_COLOURS["cross_val"])
    assert len({lc["train (epoch mean)"], lc[val], lc[cross]}) == 3 and "train (epoch mean)" not in ac
    # the legend is the figure's, outside both panels (no per-axes legend over the data)
    assert loss.get_legend() is None and aupr.get_legend() is None and len(fig.legends) == 1


def test_learning_curves_without_best_epoch_has_no_mark():
    fig = learning_curves_figure([{k: v for k, v in h.items() if k != "best_epoch"} for h in HISTORY])
    assert not [ln for ax in fig.axes for ln in ax.lines if ln.get_label().startswith("best epoch")]


def test_pr_prevalence_line_per_label_set():
    x = np.linspace(0, 1, 5)
    curves = [("m: CTCF K562", x, 1 - x / 2), ("m: MAX K562", x, 1 - x / 3)]
    fig = curves_figure(curves, "pr", "PR", [("CTCF K562", 0.1), ("MAX K562", 0.25)])
    ax = fig.axes[0]
    assert len(ax.lines) == 4
    assert [ln.get_ydata()[0] for ln in ax.lines[2:]] == [0.1, 0.25]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "CTCF K562" in texts[2] and "0.100" in texts[2] and "MAX K562" in texts[3]


def _png_text(path) -> dict:
    from PIL import Image

    with Image.open(path) as image:
        return dict(image.text)


def test_png_title_chunk_is_the_figure_title_on_one_line(tmp_path):
    from factornet_core.figures import _figure, save_png, suptitle, write_learning_curves
    from factornet_core.logos import save_pwm_logo

    # a wrapped suptitle (non-Latin-1 × included) is one line; the PNG opens as an image
    fig = _figure(4, 3)
    fig.add_subplot(1, 2, 1).set_title("left")
    fig.add_subplot(1, 2, 2).set_title("right")
    fig.suptitle("CTCF model m.keras in HepG2\ngradient × input")
    save_png(fig, tmp_path / "sup.png")
    # the lines of a title stay apart: "HepG2; gradient", not "HepG2 gradient"
    assert _png_text(tmp_path / "sup.png")["Title"] == "CTCF model m.keras in HepG2; gradient × input"
    # a title set in parts: the wrapping of a long part is a space, the parts are joined by "; "
    suptitle(
        fig, ["CTCF model m.keras (trained on CellA, CellB) in HepG2", "Kernel footprints"], wrap_chars=20
    )
    assert fig._suptitle.get_text().count("\n") > 2
    save_png(fig, tmp_path / "parts.png")
    assert _png_text(tmp_path / "parts.png")["Title"] == (
        "CTCF model m.keras (trained on CellA, CellB) in HepG2; Kernel footprints"
    )
    # no suptitle: the only panel's title (the kernel logos)
    save_pwm_logo(tmp_path / "logo.png", np.full((3, 4), 0.25), "subject\nkernel_00: IC 0.0 bits, 0 sites")
    assert _png_text(tmp_path / "logo.png")["Title"] == "subject; kernel_00: IC 0.0 bits, 0 sites"
    # several untitled panels: no Title chunk rather than one panel's title
    bare = _figure(4, 3)
    bare.add_subplot(1, 2, 1).set_title("left")
    bare.add_subplot(1, 2, 2)
    save_png(bare, tmp_path / "bare.png")
    assert "Title" not in _png_text(tmp_path / "bare.png")
    write_learning_curves(HISTORY, tmp_path / "lc.png", "Learning curves: m.keras, CTCF in K562, seed 0")
    assert _png_text(tmp_path / "lc.png")["Title"] == "Learning curves: m.keras, CTCF in K562, seed 0"


@pytest.mark.parametrize(
    ("chroms", "label"),
    [
        (["chr11"], "chr11"),
        (["chr8", "chr21", "chr8"], "chr8, chr21"),
        ([f"chr{i}" for i in range(9)], "9 chromosomes"),
    ],
)
def test_chromosome_label(chroms, label):
    assert chromosome_label(chroms) == label


def test_kernel_heatmap_labels_only_significant_matches_and_drops_constant_tracks():
    import pandas as pd

    from factornet_core.logos import kernel_heatmap_figure

    table = pd.DataFrame(
        {
            "kernel": ["kernel_00", "kernel_01", "kernel_02"],
            "information_content": [3.0, 9.0, 5.0],
            "n_sites": [40, 12, 7],
            "mean_DNASE": [1.5, 6.0, 2.0],
            "background_DNASE": 1.0,
            "mean_MAPABILITY": 1.0,
            "background_MAPABILITY": 1.0,
            "known_motif": ["CTCF_f2", "REST_f1", "GABPA_f1"],
            "known_q_value": [0.2, 1e-6, 0.01],
            "known_significant": [False, True, True],
        }
    )
    fig = kernel_heatmap_figure(table, ["DNASE", "MAPABILITY"])
    panels = [ax for ax in fig.axes if ax.get_images()]
    assert len(panels) == 2  # IC and DNASE; the constant MAPABILITY has no colour scale
    assert panels[0].get_title().startswith("information content") and "bits" in panels[0].get_title()
    assert "mean DNASE" in panels[1].get_title() and "cuts per bp" in panels[1].get_title()
    ticks = [t.get_text() for t in panels[0].get_yticklabels()]
    # kernels with ≥ 10 sites first, highest IC on top; then kernel_02 (7 sites) below a dashed line;
    # a motif only where q < 0.05
    assert ticks == ["kernel_01  (n=12)  REST_f1", "kernel_00  (n=40)", "kernel_02  (n=7)  GABPA_f1"]
    for ax in panels:
        assert [ln.get_ydata()[0] for ln in ax.lines if ln.get_linestyle() == "--"] == [1.5]
    footnote = "\n".join(t.get_text() for t in fig.texts)
    assert "q < 0.05" in footnote and "MAPABILITY is 1" in footnote and "2 of 3 kernels" in footnote
    assert "1 kernel with fewer than 10 sites" in footnote
    assert panels[0].get_images()[0].get_clim() == (3.0, 9.0)  # the scale spans the kernels with ≥ 10 sites


def test_kernel_heatmap_colour_scale_ignores_one_site_kernels():
    import pandas as pd

    from factornet_core.logos import kernel_heatmap_figure

    table = pd.DataFrame(
        {"kernel": ["k0", "k1", "k2"], "information_content": [52.0, 20.0, 4.0], "n_sites": [1, 150, 400],
         "mean_DNASE": [9.0, 0.4, 2.0], "background_DNASE": 1.0}
    )  # fmt: skip
    fig = kernel_heatmap_figure(table, ["DNASE"])
    ic, dnase = [ax.get_images()[0] for ax in fig.axes if ax.get_images()]
    assert ic.get_clim() == (4.0, 20.0) and dnase.get_clim() == (0.4, 2.0)
    bars = [ax for ax in fig.axes if not ax.get_images() and ax.collections]  # colour bars
    assert len(bars) == 2
    assert "first-layer kernels" in fig._suptitle.get_text().lower()


def _found(k=10, width=6, flank=50):
    from factornet_core.motifs import KernelMotifs

    rng = np.random.default_rng(1)
    span = width + 2 * flank
    prof = np.ones((k, span, 2))
    prof[:, :, 0] = 1 + np.exp(-(((np.arange(span) - span / 2) / 15) ** 2))[None, :] * np.arange(k)[:, None]
    n_sites = np.full(k, 30)
    n_sites[3] = 0  # no sites: never drawn
    return KernelMotifs(
        counts=rng.integers(0, 9, (k, width, 4)).astype(float), n_sites=n_sites, max_activation=np.ones(k),
        track_profile=prof[:, flank : flank + width], track_mean=prof.mean(axis=1), background_mean=np.ones(2),
        track_names=("DNASE", "MAPABILITY"), threshold=0.5, flank_profile=prof, flank=flank,
    )  # fmt: skip


def test_footprints_top_kernels_span_and_labels():
    from factornet_core.logos import footprints_figure

    found = _found()
    ic = np.arange(10.0)  # kernel_09 the most informative
    fig = footprints_figure(found, ic, top=4)
    axes = fig.axes
    assert len(axes) == 4  # one varying track (MAPABILITY is constant) × the top 4 kernels
    assert [ax.get_title().split(":")[0] for ax in axes] == [
        "kernel_09",
        "kernel_08",
        "kernel_07",
        "kernel_06",
    ]
    assert "±50 bp" in fig._suptitle.get_text()
    assert axes[0].get_ylabel() == "mean DNASE\n(cuts/bp, genome mean 1)"
    assert all(ax.get_xlabel() == "bp from site start" for ax in axes)
    for ax in axes:
        (profile,) = [ln for ln in ax.lines if ln.get_label() == "mean at sites"]
        assert profile.get_xdata()[0] == -50 and profile.get_xdata()[-1] == 6 + 49  # wider than the kernel
        (span,) = ax.patches  # the kernel's 6 bp shaded
        assert span.get_x() == pytest.approx(-0.5) and span.get_width() == pytest.approx(6)
    assert any("MAPABILITY is constant" in t.get_text() for t in fig.texts)
    # a kernel without sites is skipped even when asked for everything
    assert len([ax for ax in footprints_figure(found, ic, top=10).axes if ax.get_visible()]) == 9


def _grid(fig):
    """(rows, columns) of the figure's subplot grid and the visible panels' (row, column) cells."""
    visible = [ax for ax in fig.axes if ax.get_visible()]
    shape = visible[0].get_subplotspec().get_gridspec().get_geometry()
    cells = [(ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start) for ax in visible]
    return shape, cells


def test_footprints_leave_out_kernels_with_too_few_sites_whatever_their_ic():
    from factornet_core.logos import MIN_SITES, footprints_figure

    found = _found()
    found.n_sites[9] = 1  # one site: a PWM of 2 bits per position, the highest IC here
    fig = footprints_figure(found, np.arange(10.0), top=3)
    assert [ax.get_title().split(":")[0] for ax in fig.axes if ax.get_visible()] == [
        "kernel_08",
        "kernel_07",
        "kernel_06",
    ]
    note = " ".join(" ".join(t.get_text().split()) for t in fig.texts)  # wrapped lines joined
    assert f"Not shown: 1 kernel with fewer than {MIN_SITES} sites." in note
    assert "MAPABILITY is constant (1)" in note  # the value, not the first flank position's NaN


def test_footprints_of_eight_kernels_are_a_two_by_four_grid_titled_with_the_subject():
    from factornet_core.logos import MAX_COLUMNS, footprints_figure

    found = _found()
    subject = "CTCF model ctcf.keras (trained on CellA) in CellC: 200 regions of peaks.bed"
    fig = footprints_figure(found, np.arange(10.0), top=8, subject=subject)
    shape, cells = _grid(fig)
    assert shape == (2, 4) and MAX_COLUMNS == 4
    assert cells == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1), (1, 2), (1, 3)]
    assert fig._suptitle.get_text().split("\n") == [
        subject,
        "Kernel footprints: mean signal ±50 bp around activating sites (top 8 kernels by information content)",
    ]
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len({ax.get_ylim() for ax in visible}) == 1  # one y scale for the track across both rows
    assert [bool(ax.get_ylabel()) for ax in visible] == [True, False, False, False] * 2  # first column
    assert all(ax.get_xlabel() == "bp from site start" for ax in visible[4:])  # bottom row only
    assert not any(ax.get_xlabel() for ax in visible[:4])


def test_footprints_grid_leaves_empty_cells_hidden_and_blocks_per_track():
    from factornet_core.logos import footprints_figure

    found = _found()
    found.flank_profile[:, :, 1] += np.linspace(0, 1, found.flank_profile.shape[1])  # MAPABILITY varies now
    fig = footprints_figure(found, np.arange(10.0), top=6)
    shape, cells = _grid(fig)
    # 6 kernels: 4 + 2 columns per track, a block of 2 rows for DNASE then 2 for MAPABILITY
    assert shape == (4, 4)
    assert cells == [
        (0, 0),
        (0, 1),
        (0, 2),
        (0, 3),
        (1, 0),
        (1, 1),
        (2, 0),
        (2, 1),
        (2, 2),
        (2, 3),
        (3, 0),
        (3, 1),
    ]
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert "DNASE" in visible[0].get_ylabel() and "MAPABILITY" in visible[6].get_ylabel()
    # the x label sits on the last panel of each column in a block (above an empty cell too)
    labelled = [c for ax, c in zip(visible, cells) if ax.get_xlabel()]
    assert labelled == [(0, 2), (0, 3), (1, 0), (1, 1), (2, 2), (2, 3), (3, 0), (3, 1)]


def test_kernel_heatmap_title_says_whose_kernels():
    import pandas as pd

    from factornet_core.logos import kernel_heatmap_figure

    table = pd.DataFrame(
        {"kernel": ["kernel_00"], "information_content": [3.0], "n_sites": [4], "mean_DNASE": [2.0],
         "background_DNASE": 1.0}
    )  # fmt: skip
    subject = "CTCF model m.keras in CellC: 1 region of r.bed"
    fig = kernel_heatmap_figure(table, ["DNASE"], subject=subject)
    assert fig._suptitle.get_text().split("\n")[0] == subject


@pytest.mark.parametrize("length", [120, 1000])
def test_saliency_letters_strands_tracks_and_zoom(length):
    from matplotlib.patches import PathPatch

    from factornet_core.logos import ZOOM_BP, saliency_figure

    rng = np.random.default_rng(3)
    onehot = np.eye(4)[rng.integers(0, 4, length)]
    sal = rng.normal(0, 0.05, length)
    sal[length - 60 : length - 50] = 1.0  # the salient site, near the end of the window
    tracks = np.ones((length, 1))
    start = 10_000
    hit = (start + length - 60, start + length - 50, "CTCF_f2", "+")
    fig = saliency_figure(
        onehot, sal, tracks, ["DNASE"], start, "CTCF saliency", (start + 40, start + 80), hit
    )
    axes = fig.axes
    zoomed = length > ZOOM_BP
    assert len(axes) == (4 if zoomed else 3)  # [overview,] forward, reverse, DNASE
    fwd, rev, dnase = axes[-3:]
    assert fig._suptitle.get_text() == "CTCF saliency"
    assert "forward" in fwd.get_ylabel() and "reverse" in rev.get_ylabel()
    assert "DNASE" in dnase.get_ylabel() and "cuts per bp" in dnase.get_ylabel()
    assert dnase.get_xlabel().startswith("genomic position")
    # the letter rows share their x range (strands aligned), ZOOM_BP wide and over the salient site
    assert fwd.get_xlim() == rev.get_xlim() == dnase.get_xlim()
    lo, hi = fwd.get_xlim()
    assert hi - lo == (ZOOM_BP if zoomed else length) and lo <= hit[0] and hit[1] <= hi
    # letters: one compound path per base type; negatives clipped (nothing below 0 on the forward row)
    letters = [p for p in fwd.patches if isinstance(p, PathPatch)]
    assert 1 <= len(letters) <= 4 and fwd.get_ylim()[0] == 0 and rev.get_ylim()[1] == 0
    shown = onehot[int(lo - start + 0.5) : int(hi - start + 0.5)]
    vertices = sum(len(p.get_path().vertices) for p in letters)
    assert vertices > 10 * int(
        (sal[int(lo - start + 0.5) : int(hi - start + 0.5)] > 0).sum()
    )  # drawn letters
    assert shown.shape[0] == hi - lo
    legend = [t.get_text() for t in fwd.get_legend().get_texts()]
    assert legend[:2] == ["query region", "best CTCF_f2 match (+ strand)"] and legend[-4:] == list("ACGT")
    if zoomed:
        assert "whole 1000 bp" in axes[0].get_title(loc="left") and "most salient" in fwd.get_title(
            loc="left"
        )


def test_pwm_logo_axes_and_letters():
    from matplotlib.patches import PathPatch

    from factornet_core.logos import pwm_logo_figure

    pwm = np.array([[1, 0, 0, 0], [0, 0.5, 0.5, 0], [0.25] * 4])  # A (2 bits), C/G (1 bit), nothing
    ax = pwm_logo_figure(pwm, "kernel_00").axes[0]
    assert ax.get_xlabel() == "position in kernel (bp)" and ax.get_ylabel() == "bits"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3"]
    assert ax.get_title() == "kernel_00"
    assert len([p for p in ax.patches if isinstance(p, PathPatch)]) == 3  # A, C and G drawn; T never
