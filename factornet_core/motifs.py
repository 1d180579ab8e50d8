"""First-layer kernels as motifs (original FactorNet paper Fig. 3B/C, after DeepBind/DanQ).

For every kernel of ``conv_motifs`` (the shared strand model) the subsequences whose **activation**
reaches ``threshold × the kernel's maximum activation`` are collected and counted into a position
frequency matrix (A/C/G/T counts; N contributes nothing), then normalised into a PWM.

* Activation = the convolution output **including the bias**, as DeepBind and DanQ used it. Because the
  cut-off is a positive fraction of a positive maximum, taking the output before or after the ReLU
  selects exactly the same sites; a kernel whose maximum is ≤ 0 never fires and gets no sites
  (uniform PWM, ``nsites 0``).
* Both strands: each scanned span is read as given and as :func:`factornet_core.dna.reverse_strand`
  (what the Siamese model's second branch sees); a site's letters are those of the strand the kernel
  read, so a kernel that learnt the reverse complement of a motif reports that reverse complement.
* Scanned spans: the model-input windows (``seq_len`` bp centred on each region's centre, or on the
  narrowPeak summit), clipped to the chromosome and merged where they overlap, so no genomic site is
  counted twice.
* The convolution is computed in NumPy from the layer's weights (an im2col matrix product, exact up to
  float32 summation order; ``tests/test_motifs.py`` checks it against the Keras layer).

Track means (e.g. DNase) are averaged over the same sites, per kernel position (profile) and overall.
Known motifs are matched with Tomtom (memelite's implementation: p-values, q-values per kernel), either
strand, with a minimum overlap; only matches with q < :data:`MATCH_Q` count as significant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from factornet_core import dna
from factornet_core.atomic import atomic_folder
from factornet_core.errors import FactorNetError
from factornet_core.inputs import CellInputs, CellType, PathLike, model_on_cell
from factornet_core.meme import Motif, read_meme, write_meme
from factornet_core.regions import centred_windows, read_regions
from factornet_core.wording import plural

SCAN_CHUNK = 20_000  # positions per im2col block: bounds memory for long merged spans
FLANK = 50  # bp of track signal kept on each side of a site for the footprints (paper Fig. 3A)


# ------------------------------------------------------------------------------------ pure array functions
def conv_scan(x: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Valid 1-D convolution of one input with a Conv1D kernel, bias included, no activation.

    Parameters
    ----------
    x : (length, channels) float32 model input (one-hot + tracks).
    weights : (width, channels, n_kernels) Keras Conv1D kernel.
    bias : (n_kernels,) bias.

    Returns
    -------
    (length - width + 1, n_kernels) float32; empty if ``length < width``.
    """
    width, channels, n_kernels = weights.shape
    n_out = x.shape[0] - width + 1
    if n_out <= 0:
        return np.zeros((0, n_kernels), dtype=np.float32)
    flat = np.ascontiguousarray(weights, dtype=np.float32).reshape(width * channels, n_kernels)
    out = np.empty((n_out, n_kernels), dtype=np.float32)
    for lo in range(0, n_out, SCAN_CHUNK):
        hi = min(lo + SCAN_CHUNK, n_out)
        # (hi - lo, channels, width) view → (hi - lo, width * channels), row order matching ``flat``
        cols = np.lib.stride_tricks.sliding_window_view(x[lo : hi + width - 1], width, axis=0)
        cols = cols.transpose(0, 2, 1).reshape(hi - lo, width * channels)
        out[lo:hi] = cols @ flat
    out += np.asarray(bias, dtype=np.float32)
    return out


def site_sums(
    x: np.ndarray, act: np.ndarray, cutoff: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sum the input windows where each kernel's activation reaches its cut-off.

    Parameters
    ----------
    x : (length, channels) input that produced ``act``.
    act : (length - width + 1, n_kernels) activations (:func:`conv_scan`).
    cutoff : (n_kernels,) per-kernel activation cut-off; ``inf`` for kernels that never fire.

    Returns
    -------
    sums : (n_kernels, width, channels) float64 — channel sums over the sites (counts for one-hot).
    n : (n_kernels,) int64 — number of sites.
    """
    n_kernels = act.shape[1]
    pos, ker = np.nonzero(act >= cutoff[None, :])
    sums = np.zeros((n_kernels, width, x.shape[1]), dtype=np.float64)
    if pos.size == 0:
        return sums, np.zeros(n_kernels, dtype=np.int64)
    windows = x[pos[:, None] + np.arange(width)[None, :]].reshape(pos.size, -1).astype(np.float64)
    member = np.zeros((n_kernels, pos.size), dtype=np.float64)
    member[ker, np.arange(pos.size)] = 1.0
    sums += (member @ windows).reshape(sums.shape)
    return sums, np.bincount(ker, minlength=n_kernels).astype(np.int64)


def counts_to_pwm(counts: np.ndarray) -> np.ndarray:
    """``(..., width, 4)`` counts → probabilities; a column with no counts becomes uniform."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=-1, keepdims=True)
    return np.where(total > 0, counts / np.where(total > 0, total, 1.0), 0.25)


def information_content(pwm: np.ndarray, per_position: bool = False) -> np.ndarray | float:
    """Information content in bits against a uniform background: Σ_i (2 + Σ_b p log2 p)."""
    p = np.asarray(pwm, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    ic = 2.0 + plogp.sum(axis=-1)
    return ic if per_position else float(ic.sum())


# ----------------------------------------------------------------------------------------- results
@dataclass
class KernelMotifs:
    """What the kernel scan found.

    counts : (k, width, 4) base counts at the activating sites (N excluded).
    n_sites : (k,) number of activating sites (both strands).
    max_activation : (k,) largest activation seen (conv output incl. bias).
    track_profile : (k, width, n_tracks) mean track value per kernel position over the sites (NaN: no sites).
    track_mean : (k, n_tracks) mean over sites and positions.
    background_mean : (n_tracks,) mean track value over all scanned positions (for comparison).
    flank_profile : (k, flank + width + flank, n_tracks) mean track value from ``flank`` bp before each
        site to ``flank`` bp after it, in the kernel's reading direction (positions beyond a scanned
        span are left out of that position's mean; NaN: no sites).
    """

    counts: np.ndarray
    n_sites: np.ndarray
    max_activation: np.ndarray
    track_profile: np.ndarray
    track_mean: np.ndarray
    background_mean: np.ndarray
    track_names: tuple[str, ...]
    threshold: float
    flank_profile: np.ndarray | None = None
    flank: int = FLANK

    @property
    def pwms(self) -> np.ndarray:
        return counts_to_pwm(self.counts)

    @property
    def names(self) -> list[str]:
        digits = max(2, len(str(self.counts.shape[0] - 1)))
        return [f"kernel_{i:0{digits}d}" for i in range(self.counts.shape[0])]

    def information(self) -> np.ndarray:
        return np.array([information_content(p) if n else 0.0 for p, n in zip(self.pwms, self.n_sites)])

    def meme_motifs(self) -> list[Motif]:
        return [Motif(name, "", pwm, int(n)) for name, pwm, n in zip(self.names, self.pwms, self.n_sites)]


def scan_kernels(
    spans: Iterable[np.ndarray] | Callable[[], Iterable[np.ndarray]],
    weights: np.ndarray,
    bias: np.ndarray,
    track_names: Sequence[str],
    threshold: float = 0.5,
    sequence_only: bool = False,
) -> KernelMotifs:
    """Kernel motifs from input spans, both strands.

    Parameters
    ----------
    spans : the inputs ``(length_i, 4 + n_tracks) float32`` (lengths may differ), or a function
        returning a fresh iterator over them (two passes are made: maximum, then sites; a function lets
        the caller re-read files instead of holding every span in memory).
    weights, bias : the ``conv_motifs`` kernel ``(width, 4 + n_tracks, k)`` and bias ``(k,)``.
    threshold : fraction of each kernel's maximum activation a site must reach, in (0, 1].
    sequence_only : activations from the DNA channels only (track weights set to 0). Track weights
        can keep a sequence detector below zero on real inputs (e.g. a negative weight on a constant
        mapability track); this view shows what the kernel's DNA part detects. Track means are still
        taken from the real tracks.
    """
    if not 0.0 < threshold <= 1.0:
        raise FactorNetError(f"--threshold must be in (0, 1], got {threshold}")
    width, channels, n_kernels = weights.shape
    track_names = tuple(track_names)
    if channels != 4 + len(track_names):
        raise FactorNetError(
            f"the kernel has {channels} channels, expected 4 + {plural(len(track_names), 'track')}"
        )
    if sequence_only:
        weights = np.array(weights, copy=True)
        weights[:, 4:, :] = 0.0

    def strands() -> Iterator[np.ndarray]:
        for x in spans() if callable(spans) else spans:
            if x.shape[1] != channels:
                raise FactorNetError(f"input has {x.shape[1]} channels, the model {channels}")
            yield x
            yield dna.reverse_strand(x, track_names)

    peak = np.full(n_kernels, -np.inf)
    track_sum = np.zeros(len(track_names))
    n_positions = 0
    for i, x in enumerate(strands()):
        act = conv_scan(x, weights, bias)
        if act.shape[0]:
            peak = np.maximum(peak, act.max(axis=0))
        if i % 2 == 0:  # forward strand only: each position once
            track_sum += x[:, 4:].sum(axis=0, dtype=np.float64)
            n_positions += x.shape[0]
    if n_positions == 0 or not np.isfinite(peak).any():
        raise FactorNetError(
            f"no region is long enough to scan with {width} bp kernels: give regions inside the genome"
        )
    # a kernel whose best activation is ≤ 0 never passes its ReLU: no sites
    cutoff = np.where(peak > 0, threshold * peak, np.inf)
    sums = np.zeros((n_kernels, width, channels))
    n_sites = np.zeros(n_kernels, dtype=np.int64)
    span = width + 2 * FLANK
    flank_sum = np.zeros((n_kernels, span, len(track_names)))
    flank_n = np.zeros((n_kernels, span, len(track_names)))
    for x in strands():
        act = conv_scan(x, weights, bias)
        s, n = site_sums(x, act, cutoff, width)
        sums += s
        n_sites += n
        _flank_sums(x[:, 4:], act, cutoff, span, flank_sum, flank_n)
    with np.errstate(invalid="ignore", divide="ignore"):
        profile = sums[:, :, 4:] / n_sites[:, None, None]
    profile[n_sites == 0] = np.nan
    return KernelMotifs(
        counts=sums[:, :, :4],
        n_sites=n_sites,
        max_activation=peak,
        track_profile=profile,
        track_mean=profile.mean(axis=1),
        background_mean=track_sum / n_positions,
        track_names=track_names,
        threshold=threshold,
        flank_profile=np.where(flank_n > 0, flank_sum / np.maximum(flank_n, 1), np.nan),
        flank=FLANK,
    )


def _flank_sums(
    tracks: np.ndarray, act: np.ndarray, cutoff: np.ndarray, span: int, total: np.ndarray, count: np.ndarray
) -> None:
    """Add each site's track values from ``FLANK`` bp before to ``FLANK`` after it into ``total``
    (``count``: how many sites had that position inside the span)."""
    if not tracks.shape[1]:
        return
    padded = np.pad(tracks.astype(np.float64), ((FLANK, span), (0, 0)), constant_values=np.nan)
    for k in range(act.shape[1]):
        pos = np.nonzero(act[:, k] >= cutoff[k])[0]
        for lo in range(0, pos.size, 2000):
            win = padded[pos[lo : lo + 2000, None] + np.arange(span)[None, :]]  # (sites, span, tracks)
            total[k] += np.nansum(win, axis=0)
            count[k] += np.isfinite(win).sum(axis=0)


#: a known-motif match is reported as significant (and labelled in the heatmap) below this Tomtom q-value
MATCH_Q = 0.05


def match_known(
    found: Mapping[str, np.ndarray], known: Mapping[str, Motif], min_overlap: int = 5
) -> pd.DataFrame:
    """Best known motif for every found motif (``name → (width, 4) PWM``) by Tomtom (``memelite``).

    Every kernel is compared with every known motif on both strands (Tomtom's complete score, Euclidean
    column distance; Gupta et al. 2007); alignments overlapping fewer than ``min_overlap`` columns are
    ignored. ``p_value``: Tomtom's p-value of the best alignment; ``e_value``: ``p × number of known
    motifs``; ``q_value``: Benjamini–Hochberg over the kernel's comparisons with all known motifs (as
    MEME's Tomtom reports per query). ``significant``: ``q_value < MATCH_Q``. ``offset``, ``strand``,
    ``overlap`` describe the best alignment as memelite reports it (strand ``-``: the known motif's
    reverse complement).

    Tomtom's null distribution is built from the known motifs' columns, so with a small file
    (memelite warns below 25 motifs) p-values depend on which motifs it holds; the table's
    ``attrs["n_known"]`` gives that count.

    Columns: ``kernel, known_motif, known_alt_name, p_value, e_value, q_value, significant, offset,
    strand, overlap``.
    """
    import warnings

    from memelite import tomtom

    names, targets = list(found), list(known.values())
    columns = ["kernel", "known_motif", "known_alt_name", "p_value", "e_value", "q_value", "significant",
               "offset", "strand", "overlap"]  # fmt: skip
    if not names or not targets:
        return pd.DataFrame(columns=columns)
    queries = [np.ascontiguousarray(np.asarray(found[n], dtype=np.float64).T) for n in names]
    ts = [np.ascontiguousarray(np.asarray(m.pwm, dtype=np.float64).T) for m in targets]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the small-file caveat is in the docstring and attrs
        p, _, offsets, overlaps, strands = tomtom(queries, ts, n_jobs=1)
    need = np.minimum.outer([q.shape[1] for q in queries], [t.shape[1] for t in ts]).clip(max=min_overlap)
    p = np.where(overlaps >= need, np.clip(p, 0.0, 1.0), 1.0)
    rows = []
    for i, name in enumerate(names):
        j = int(np.argmin(p[i]))
        q = _bh(p[i])[j]
        rows.append(
            {
                "kernel": name,
                "known_motif": targets[j].name,
                "known_alt_name": targets[j].alt_name or ".",
                "p_value": float(p[i, j]),
                "e_value": float(p[i, j] * len(targets)),
                "q_value": float(q),
                "significant": bool(q < MATCH_Q),
                "offset": int(offsets[i, j]),
                "strand": "-" if strands[i, j] else "+",
                "overlap": int(overlaps[i, j]),
            }
        )
    table = pd.DataFrame(rows, columns=columns)
    table.attrs["n_known"] = len(targets)
    return table


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg q-values (monotone, at most 1)."""
    p = np.asarray(p, dtype=np.float64)
    order = np.argsort(p)
    ranked = p[order] * p.size / np.arange(1, p.size + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(q)
    out[order] = np.minimum(q, 1.0)
    return out


# ------------------------------------------------------------------------------------------- spans
def merged_spans(windows: pd.DataFrame, chrom_sizes: Mapping[str, int]) -> pd.DataFrame:
    """Windows clipped to their chromosome and merged where they overlap or touch (genome order)."""
    rows = []
    for chrom in [c for c in chrom_sizes if c in set(windows["chrom"])]:
        sub = windows[windows["chrom"] == chrom]
        lo = np.clip(sub["start"].to_numpy(), 0, chrom_sizes[chrom])
        hi = np.clip(sub["end"].to_numpy(), 0, chrom_sizes[chrom])
        order = np.argsort(lo, kind="stable")
        cur_lo = cur_hi = None
        for s, e in zip(lo[order], hi[order]):
            if cur_hi is not None and s <= cur_hi:
                cur_hi = max(cur_hi, e)
                continue
            if cur_hi is not None and cur_hi > cur_lo:
                rows.append((chrom, cur_lo, cur_hi))
            cur_lo, cur_hi = s, e
        if cur_hi is not None and cur_hi > cur_lo:
            rows.append((chrom, cur_lo, cur_hi))
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])


# ------------------------------------------------------------------------------------------ entry point
@dataclass
class MotifSummary:
    out_dir: Path
    n_regions: int
    n_spans: int
    scanned_bp: int
    motifs: KernelMotifs
    known_matches: pd.DataFrame | None


def interpret_motifs(
    model_path: PathLike,
    cell: CellType,
    regions_path: PathLike,
    out_dir: PathLike,
    *,
    peaks: bool = False,
    known: PathLike | None = None,
    threshold: float = 0.5,
    max_regions: int | None = None,
    min_overlap: int = 5,
    sequence_only: bool = False,
    force: bool = False,
    cell_name: str | None = None,
) -> MotifSummary:
    """``factornet interpret motifs``: kernel PWMs, logos, track profiles and known-motif matches.

    Implements the first-layer kernel analysis of Quang & Xie (2019), Fig. 3B/C (after DeepBind and
    DanQ), as described in the module docstring.

    Parameters
    ----------
    model_path : ``.keras`` model with a FactorNet card.
    cell : genome and tracks (named as in the card); metadata files are not needed.
    regions_path : BED (windows centred on midpoints) or, with ``peaks``, narrowPeak (centred on
        summits, strongest first).
    out_dir : folder to write (all or nothing): ``kernels.meme``, ``kernels.tsv``,
        ``kernel_track_profiles.tsv`` (+ ``.png``), ``kernels_heatmap.png``, ``logos/kernel_XX.png``
        and, with ``known``, ``known_matches.tsv``.
    known : MEME file of known motifs to match every kernel against.
    threshold : fraction in (0, 1] of a kernel's maximum activation a site must reach.
    max_regions : scan only the first (BED) / strongest (narrowPeak) regions.
    min_overlap : fewest aligned columns (bp) for a known-motif match.
    sequence_only : activations from the DNA channels only (see :func:`scan_kernels`).
    force : replace an existing non-empty ``out_dir``.
    cell_name : the cell type whose tracks these are, for the figure titles (default: the track files).

    Returns
    -------
    MotifSummary

    Raises
    ------
    FactorNetError
        Before any work: a bad ``threshold``/``max_regions``, unreadable MEME or region files,
        tracks or chromosome naming that do not match the card, regions outside the genome or tracks;
        an existing ``out_dir`` without ``force``.
    """
    if not 0.0 < threshold <= 1.0:
        raise FactorNetError(f"--threshold must be in (0, 1], got {threshold}")
    if max_regions is not None and max_regions < 1:
        raise FactorNetError(f"--max-regions must be ≥ 1, got {max_regions}")
    known_motifs = read_meme(known) if known is not None else None
    regions = read_regions(regions_path, peaks=peaks)
    table = regions.table if max_regions is None else regions.table.head(max_regions)
    with CellInputs.open(model_path, cell, metadata=False) as inputs:
        inputs.data.check_regions(table, regions.path)
        found, spans = _scan(inputs, table, threshold, sequence_only)
    matches = None
    if known_motifs is not None:
        matches = match_known(
            {n: p for n, p, k in zip(found.names, found.pwms, found.n_sites) if k > 0},
            known_motifs,
            min_overlap,
        )
    subject = figure_subject(inputs.card, model_path, cell, cell_name, len(table), regions.path)
    _write_outputs(out_dir, force, found, matches, subject)
    return MotifSummary(
        Path(out_dir), len(table), len(spans), int((spans["end"] - spans["start"]).sum()), found, matches
    )


def _scan(
    inputs: CellInputs, table: pd.DataFrame, threshold: float, sequence_only: bool
) -> tuple[KernelMotifs, pd.DataFrame]:
    """Scan the merged windows around the regions with the model's ``conv_motifs`` kernels."""
    from factornet_core.model import strand_model

    weights, bias = strand_model(inputs.model).get_layer("conv_motifs").get_weights()
    spans = merged_spans(centred_windows(table, inputs.card.seq_len), inputs.chrom_sizes)

    def read_spans() -> Iterator[np.ndarray]:
        for row in spans.itertuples(index=False):
            yield inputs.reader.region(row.chrom, int(row.start), int(row.end))

    return scan_kernels(read_spans, weights, bias, inputs.card.track_names, threshold, sequence_only), spans


def figure_subject(
    card, model_path: PathLike, cell: CellType, cell_name: str | None, n_regions: int, regions_path: PathLike
) -> str:
    """What an interpretation figure shows, for its title: ``"CTCF model ctcf.keras (trained on CellA,
    CellB) in CellC: 200 regions of peaks.bed"``."""
    what = plural(n_regions, "region")
    return f"{model_on_cell(card, model_path, cell, cell_name)}: {what} of {Path(regions_path).name}"


def _write_outputs(
    out_dir: PathLike, force: bool, found: KernelMotifs, matches: pd.DataFrame | None, subject: str = ""
) -> None:
    from factornet_core import logos

    names = found.names
    ic = found.information()
    table_out = kernel_table(found, ic, matches)
    with atomic_folder(out_dir, force, what="--out-dir") as tmp:
        write_meme(tmp / "kernels.meme", found.meme_motifs())
        table_out.to_csv(tmp / "kernels.tsv", sep="\t", index=False, float_format="%.6g", na_rep="NA")
        profile_table(found).to_csv(
            tmp / "kernel_track_profiles.tsv", sep="\t", index=False, float_format="%.6g", na_rep="NA"
        )
        if matches is not None:
            matches.to_csv(tmp / "known_matches.tsv", sep="\t", index=False, float_format="%.6g")
        (tmp / "logos").mkdir()
        for name, pwm, n, info in zip(names, found.pwms, found.n_sites, ic):
            logos.save_pwm_logo(
                tmp / "logos" / f"{name}.png",
                pwm,
                f"{subject}\n{name}: IC {info:.1f} bits, {plural(n, 'site')}",
            )
        logos.save_kernel_heatmap(
            tmp / "kernels_heatmap.png", table_out, list(found.track_names), MATCH_Q, subject
        )
        logos.save_footprints(tmp / "kernel_track_profiles.png", found, ic, subject=subject)


def kernel_table(found: KernelMotifs, ic: np.ndarray, matches: pd.DataFrame | None) -> pd.DataFrame:
    """One row per kernel: IC, sites, maximum activation, mean track values (sites and background)."""
    df = pd.DataFrame(
        {
            "kernel": found.names,
            "information_content": np.round(ic, 4),
            "n_sites": found.n_sites,
            "max_activation": found.max_activation,
            "consensus": [_consensus(p) if n else "." for p, n in zip(found.pwms, found.n_sites)],
        }
    )
    for j, track in enumerate(found.track_names):
        df[f"mean_{track}"] = found.track_mean[:, j]
        df[f"background_{track}"] = found.background_mean[j]
    if matches is not None:
        m = matches.set_index("kernel")
        df["known_motif"] = df["kernel"].map(m["known_motif"]).fillna(".")
        df["known_q_value"] = df["kernel"].map(m["q_value"])
        df["known_significant"] = df["kernel"].map(m["significant"]).fillna(False).astype(bool)
    return df


def profile_table(found: KernelMotifs) -> pd.DataFrame:
    """Long format ``kernel, track, position, in_kernel, mean``: mean track value from ``flank`` bp
    before each activating site to ``flank`` bp after it (``position`` relative to the site's first base
    in the kernel's reading direction; ``in_kernel``: inside the kernel's span)."""
    prof = found.flank_profile if found.flank_profile is not None else found.track_profile
    flank = found.flank if found.flank_profile is not None else 0
    k, span, n_tracks = prof.shape
    width = found.counts.shape[1]
    position = np.arange(span) - flank
    return pd.DataFrame(
        {
            "kernel": np.repeat(found.names, span * n_tracks),
            "track": np.tile(np.repeat(list(found.track_names), span), k),
            "position": np.tile(position, k * n_tracks),
            "in_kernel": np.tile((position >= 0) & (position < width), k * n_tracks),
            "mean": prof.transpose(0, 2, 1).reshape(-1),
        }
    )


def _consensus(pwm: np.ndarray) -> str:
    """Most likely base per column; lower case where it has less than half the probability."""
    best = np.asarray(list(dna.ALPHABET))[pwm.argmax(axis=1)]
    return "".join(b if p >= 0.5 else b.lower() for b, p in zip(best, pwm.max(axis=1)))
