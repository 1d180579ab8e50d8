"""A deterministic ground-truth dataset: genome, planted motif sites, cell-specific chromatin, peaks.

The model of binding (what makes the science testable):

* every TF has **bound** sites: its PWM (sampled, either strand) at the centre of a regulatory element.
  A bound site is bound in a cell **iff** it is accessible there; accessibility differs between cell
  types (some elements are open everywhere, others in a random subset of cells);
* **weak** sites (a PWM flattened towards the background) bound where accessible but only in the
  relaxed peaks: their bins are ambiguous (``A``);
* decoys, so that neither sequence alone nor accessibility alone predicts binding:
  **decoy_closed** (the TF's motif in chromatin closed in every cell, never bound),
  **open_nomotif** (accessible elements without any planted motif) and **decoy_motif** (open elements
  carrying another factor's motif, e.g. JUND/CEBPB, that no simulated TF binds);
* DNase-like signal: Poisson cut counts over a background that follows mapability, a broad peak at every
  accessible element and a footprint (a dip over the motif, raised flanks) where a TF is bound.

Random numbers come from one generator per (seed, component, chromosome / cell), so the same seed
gives byte-identical files. Writing happens in :mod:`factornet_core.simulate_writers`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from factornet_core import intervals, tracks
from factornet_core import simulate_writers as w
from factornet_core.atomic import atomic_folder
from factornet_core.errors import FactorNetError
from factornet_core.meme import Motif, read_meme
from factornet_core.samplesheet import write_samplesheet
from factornet_core.simulate_genome import (  # noqa: F401  (BACKGROUND and the motif helpers re-exported)
    BACKGROUND,
    SLOT,
    _chromosome,
    _rng,
    log_odds,
    merge_intervals,
    paint,
    revcomp_codes,
    sample_motif,
    score_codes,
)
from factornet_core.simulate_reads import write_cut_bam
from factornet_core.wording import plural

DEFAULT_TFS = ("CTCF", "GABPA")
DECOY_MOTIFS = ("JUND_f1", "CEBPB_f1")
MIN_CHROM_LENGTH = 20_000
KINDS = ("bound", "weak", "decoy_closed", "open_nomotif", "decoy_motif")
_AMPLITUDE = {"bound": 2.0, "weak": 1.1, "open_nomotif": 2.0, "decoy_motif": 2.0, "decoy_closed": 0.0}


@dataclass
class SimulationSummary:
    """What :func:`simulate_dataset` wrote (absolute paths into the final folder) and the headline numbers."""

    out_dir: Path
    seed: int
    cells: list[str]
    tfs: list[str]
    chrom_sizes: dict[str, int]
    genome: Path
    chrom_sizes_file: Path
    samplesheet: Path
    truth: Path
    motifs: Path
    gtf: Path
    cpg: Path
    blacklist: Path
    mapability: Path
    readme: Path
    dnase: dict[str, Path] = field(default_factory=dict)
    bams: dict[str, Path] = field(default_factory=dict)
    expression: dict[str, Path] = field(default_factory=dict)
    conservative: dict[tuple[str, str], Path] = field(default_factory=dict)
    relaxed: dict[tuple[str, str], Path] = field(default_factory=dict)
    labels: dict[str, Path] = field(default_factory=dict)
    n_peaks: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    n_sites: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- motifs
def packaged_motifs_path() -> Path:
    """The MEME file shipped with the package (HOCOMOCO v9 subset, see ``data/README.md``)."""
    return Path(str(resources.files("factornet_core") / "data" / "motifs.meme"))


def resolve_tfs(motifs: dict[str, Motif], tfs: Sequence[str]) -> list[Motif]:
    """TF names (``CTCF``) or motif names (``CTCF_f2``), case-insensitive → their motifs."""
    by_key = {}
    for motif in motifs.values():
        by_key.setdefault(motif.tf.upper(), motif)
        by_key[motif.name.upper()] = motif
    chosen = []
    for tf in tfs:
        motif = by_key.get(tf.strip().upper())
        if motif is None:
            known = ", ".join(dict.fromkeys(m.tf for m in motifs.values()))
            raise FactorNetError(f"unknown TF {tf!r}: the motif file has {known}; pick from these with --tfs")
        if motif in chosen:
            raise FactorNetError(f"TF {tf!r} is given twice in --tfs")
        chosen.append(motif)
    if not chosen:
        raise FactorNetError("--tfs is empty: name at least one TF, e.g. --tfs CTCF,GABPA")
    return chosen


# --------------------------------------------------------------------------------------------- cells
def _accessibility(rng: np.random.Generator, kinds: np.ndarray, n_cells: int) -> np.ndarray:
    """``(n, cells) bool``: a third open everywhere, the rest in a random non-empty subset; decoy_closed never."""
    n = kinds.size
    openness = np.linspace(0.35, 0.65, n_cells)[rng.permutation(n_cells)]
    acc = rng.random((n, n_cells)) < openness[None, :]
    acc[rng.random(n) < 0.35] = True
    none = ~acc.any(axis=1)
    acc[np.flatnonzero(none), rng.integers(0, n_cells, int(none.sum()))] = True
    acc[kinds == "decoy_closed"] = False
    return acc


def _dnase(
    rng: np.random.Generator,
    chrom_data: dict,
    el: pd.DataFrame,
    acc: np.ndarray,
    label: np.ndarray,
    depth: float,
    background: float = 1.0,
) -> np.ndarray:
    """Poisson cut counts ``(length,) float32`` for one cell on one chromosome.

    ``el`` holds the chromosome's elements (with ``amp``), ``acc``/``label`` their state in this cell.
    ``depth`` scales every expected count (sequencing depth); ``background`` scales the background
    only (more cuts outside accessible elements: a lower signal-to-noise, as in the paper's liver).
    """
    mapability = chrom_data["mapability"]
    length = mapability.size
    blocks = rng.lognormal(0.0, 0.4, length // 5_000 + 1)
    lam = 0.03 * depth * background * np.repeat(blocks, 5_000)[:length] * (0.3 + 0.7 * mapability)
    idx = np.flatnonzero(acc)
    if idx.size:
        amp = depth * el["amp"].to_numpy()[idx]
        sigma = rng.uniform(60, 130, idx.size)
        off = np.arange(-400, 401)
        pos = el["center"].to_numpy()[idx, None] + off[None, :]
        lam[pos] += amp[:, None] * np.exp(-0.5 * (off[None, :] / sigma[:, None]) ** 2)
    # footprints: a dip over the motif where a TF sits (deep if bound, shallow if weak), raised flanks
    for code, dip in ((intervals.B, 0.15), (intervals.A, 0.5)):
        for s, e in zip(el["start"].to_numpy()[label == code], el["end"].to_numpy()[label == code]):
            lam[s - 12 : s] *= 1.25
            lam[e : e + 12] *= 1.25
            lam[s:e] *= dip
    b_s, b_e = chrom_data["blacklist"]
    paint(lam, b_s, b_e, 4.0 * depth)  # artefactual high signal, as real blacklisted regions have
    lam[mapability == 0] = 0.0
    return rng.poisson(lam).astype(np.float32)


def _peaks(rng: np.random.Generator, el: pd.DataFrame, label: np.ndarray, tf: str) -> pd.DataFrame:
    """narrowPeak rows for one (cell, TF): every B or A site of ``tf``; ``conservative`` marks B."""
    idx = np.flatnonzero((el["tf"].to_numpy() == tf) & (label != intervals.U))
    center = el["center"].to_numpy()[idx]
    start = center - rng.integers(100, 201, idx.size)
    end = center + rng.integers(100, 201, idx.size)
    cons = label[idx] == intervals.B
    signal = np.round(el["amp"].to_numpy()[idx] * np.where(cons, 12, 4) * rng.lognormal(0, 0.2, idx.size), 3)
    return pd.DataFrame(
        {"chrom": el["chrom"].to_numpy()[idx], "start": start, "end": end, "name": "."}
        | {"score": np.minimum(1000, (signal * 30).astype(np.int64)), "strand": ".", "signal": signal}
        | {"p": np.round(signal * 2.5, 3), "q": np.round(signal * 2.0, 3)}
        | {"summit": center + rng.integers(-10, 11, idx.size) - start, "conservative": cons}
    )


# --------------------------------------------------------------------------------------------- entry point
def _check_params(
    reads: str | None,
    seed: int,
    n_chroms: int,
    chrom_length: int,
    n_cells: int,
    sites_per_mb: float,
    genes_per_mb: float,
) -> None:
    """Reject parameters out of the ranges :func:`simulate_dataset` documents."""
    if reads not in (None, "single", "paired"):
        raise FactorNetError(f"--reads must be 'single' or 'paired', got {reads!r}")
    if seed < 0:
        raise FactorNetError(f"--seed must be ≥ 0, got {seed}")
    if not 1 <= n_chroms <= 100:
        raise FactorNetError(f"--chroms must be between 1 and 100, got {n_chroms}")
    if chrom_length < MIN_CHROM_LENGTH:
        raise FactorNetError(
            f"--chrom-length {chrom_length} is too small: use at least {MIN_CHROM_LENGTH} bp per chromosome"
        )
    if chrom_length > 100_000_000:
        raise FactorNetError(f"--chrom-length {chrom_length} is too large (at most 100000000)")
    if not 1 <= n_cells <= 26:
        raise FactorNetError(f"--cells must be between 1 and 26, got {n_cells}")
    if not 0 < sites_per_mb <= 500 or not 0 < genes_per_mb <= 200:
        raise FactorNetError("--sites-per-mb must be in (0, 500] and --genes-per-mb in (0, 200]")


@dataclass
class _Truth:
    """Every element (one row, with its signal amplitude ``amp``) and its state in every cell."""

    elements: pd.DataFrame
    acc: np.ndarray  # (n_elements, n_cells) bool: accessible
    label: np.ndarray  # (n_elements, n_cells) int8: intervals.U / B / A


def _cell_states(rng: np.random.Generator, elements: pd.DataFrame, n_cells: int) -> _Truth:
    """Accessibility and binding of every element per cell; adds the elements' ``amp`` column."""
    acc = _accessibility(rng, elements["kind"].to_numpy(), n_cells)
    kinds = elements["kind"].to_numpy()
    label = np.full(acc.shape, intervals.U, dtype=np.int8)
    label[acc & (kinds == "bound")[:, None]] = intervals.B
    label[acc & (kinds == "weak")[:, None]] = intervals.A
    elements["amp"] = np.vectorize(_AMPLITUDE.get)(kinds) * rng.lognormal(0, 0.3, kinds.size)
    return _Truth(elements, acc, label)


def _named_genes(
    rng: np.random.Generator, data: dict, motifs: dict[str, Motif]
) -> tuple[list[dict], np.ndarray, np.ndarray]:
    """All genes with ids and names (some named like the motifs' factors) → (genes, mean log expression
    level, is-a-factor's-gene mask)."""
    genes = [g for d in data.values() for g in d["genes"]]
    for k, g in enumerate(genes, 1):
        g["gene_id"], g["transcript_id"], g["name"] = f"SIMG{k:08d}.1", f"SIMT{k:08d}.1", f"GENE{k:05d}"
    named = list(dict.fromkeys(m.tf for m in motifs.values()))
    for g, name in zip([genes[i] for i in np.sort(rng.permutation(len(genes))[: len(named)])], named):
        g["name"] = name  # genes named like the TFs (and decoy factors)
    level = rng.normal(1.5, 2.0, len(genes))
    tf_gene = np.array([g["name"] in named for g in genes], dtype=bool)
    level[tf_gene] = np.maximum(level[tf_gene], 2.5)
    return genes, level, tf_gene


def _write_genome_files(summary: SimulationSummary, data: dict, motif_file: Path, genes: list[dict]) -> None:
    """The cell-independent files: genome, chrom sizes, motifs, GTF, CpG islands, blacklist, mapability."""
    chrom_sizes = summary.chrom_sizes
    w.write_fasta(summary.genome, [(c, d["seq"]) for c, d in data.items()])
    w.write_text(summary.chrom_sizes_file, "".join(f"{c}\t{n}\n" for c, n in chrom_sizes.items()))
    shutil.copyfile(motif_file, summary.motifs)
    w.write_gtf(summary.gtf, genes)
    w.write_bed(summary.cpg, [(c, s, e, "CpG_island") for c, d in data.items() for s, e in zip(*d["cpg"])])
    w.write_bed(summary.blacklist, [(c, s, e) for c, d in data.items() for s, e in zip(*d["blacklist"])])
    tracks.write_bigwig(summary.mapability, chrom_sizes, {c: d["mapability"] for c, d in data.items()})


def _write_cell_dnase(
    summary: SimulationSummary,
    tmp: Path,
    j: int,
    data: dict,
    truth: _Truth,
    depth: float,
    background: float,
    reads: str | None,
) -> list[tuple[str, str, str, str]]:
    """Cell ``j``'s DNase bigWig (and cut BAM with ``reads``) → its samplesheet rows."""
    cell, seed, el = summary.cells[j], summary.seed, truth.elements
    signal = {}
    for i, (c, d) in enumerate(data.items()):
        on = (el["chrom"] == c).to_numpy()
        signal[c] = _dnase(
            _rng(seed, 3, j, i), d, el[on], truth.acc[on, j], truth.label[on, j], depth, background
        )
    rows = []
    summary.dnase[cell] = tmp / f"{cell}.DNASE.bw"
    tracks.write_bigwig(summary.dnase[cell], summary.chrom_sizes, signal, skip_zeros=True)
    if reads is not None:
        summary.bams[cell] = tmp / f"{cell}.DNASE.bam"
        write_cut_bam(
            summary.bams[cell], summary.chrom_sizes, signal, _rng(seed, 5, j), paired=reads == "paired"
        )
        rows.append((cell, "bam", "DNASE", summary.bams[cell].name))
    return rows + [
        (cell, "track", "DNASE", f"{cell}.DNASE.bw"),
        (cell, "track", "MAPABILITY", "MAPABILITY.bw"),
    ]


def _write_cell_peaks(
    summary: SimulationSummary, tmp: Path, j: int, truth: _Truth, peaks: dict
) -> list[tuple[str, str, str, str]]:
    """Cell ``j``'s conservative and relaxed peaks per TF (kept in ``peaks``) → its samplesheet rows."""
    cell, rows = summary.cells[j], []
    for t, tf in enumerate(summary.tfs):
        pk = _peaks(_rng(summary.seed, 4, j, t), truth.elements, truth.label[:, j], tf)
        peaks[cell, tf] = pk
        for kind, part in (("conservative", pk[pk["conservative"]]), ("relaxed", pk)):
            name = f"{cell}.{tf}.{kind}.narrowPeak.gz"
            w.write_narrowpeak(tmp / name, part)
            getattr(summary, kind)[cell, tf] = tmp / name
            rows.append((cell, kind, tf, name))
        summary.n_peaks[cell, tf] = (int(pk["conservative"].sum()), len(pk))
    return rows


def _write_labels(summary: SimulationSummary, tmp: Path, peaks: dict) -> list[tuple[str, str, str, str]]:
    """One DREAM label file per TF over 200 bp bins, from every cell's peaks → samplesheet rows."""
    bins = intervals.tile_bins(summary.chrom_sizes)
    rows = []
    for tf in summary.tfs:
        summary.labels[tf] = tmp / f"{tf}.labels.tsv.gz"
        codes = {
            cell: intervals.label_bins(
                bins, peaks[cell, tf][peaks[cell, tf]["conservative"]], peaks[cell, tf]
            )
            for cell in summary.cells
        }
        intervals.write_labels(summary.labels[tf], bins, codes)
        rows += [(cell, "labels", tf, summary.labels[tf].name) for cell in summary.cells]
    return rows


def _truth_text(truth: _Truth, cells: list[str]) -> str:
    """``truth.tsv``: every element with its score, and its accessibility and binding per cell."""
    table = truth.elements.drop(columns=["amp", "center"])
    table["score"] = [f"{v:.3f}" if np.isfinite(v) else "NA" for v in table["score"]]
    for j, cell in enumerate(cells):
        table[f"acc_{cell}"] = truth.acc[:, j].astype(np.int8)
    for j, cell in enumerate(cells):
        table[f"bound_{cell}"] = intervals.LABEL_CHARS[truth.label[:, j]]
    return w.table_text(table, header=True)


def _point_to_final(summary: SimulationSummary, tmp: Path) -> None:
    """The folder was renamed: point the summary's paths into ``summary.out_dir``."""
    for name, value in vars(summary).items():
        if isinstance(value, Path) and value.parent == tmp:
            setattr(summary, name, summary.out_dir / value.name)
        elif isinstance(value, dict) and value and isinstance(next(iter(value.values())), Path):
            setattr(summary, name, {k: summary.out_dir / v.name for k, v in value.items()})


def simulate_dataset(
    out_dir: str | os.PathLike,
    seed: int = 1,
    n_chroms: int = 3,
    chrom_length: int = 1_000_000,
    n_cells: int = 3,
    tfs: Sequence[str] = DEFAULT_TFS,
    sites_per_mb: float = 120.0,
    genes_per_mb: float = 30.0,
    motifs_path: str | os.PathLike | None = None,
    force: bool = False,
    reads: str | None = None,
    cell_depth: Mapping[str, float] | None = None,
    cell_background: Mapping[str, float] | None = None,
) -> SimulationSummary:
    """Write the simulated ground-truth dataset into ``out_dir`` (created atomically) and describe it.

    The binding model (module docstring): a TF binds its planted PWM sites where they are accessible
    in a cell; weak sites make ambiguous bins; closed motif sites, open motif-free elements and
    other factors' motifs are decoys, so neither sequence nor accessibility alone predicts binding.
    It stands in for the ENCODE-DREAM data of Quang & Xie (2019) in tests and ``factornet demo``.

    Parameters
    ----------
    out_dir : folder to create (must not exist or be empty, unless ``force``).
    seed : ≥ 0; the same seed gives byte-identical files.
    n_chroms : 1–100 chromosomes ``chr1..chrN``.
    chrom_length : bp per chromosome, ``MIN_CHROM_LENGTH`` (20 000) to 100 000 000.
    n_cells : 1–26 cell types ``CellA, CellB, …``.
    tfs : TF names (or motif ids) found in the motif file; one planted motif each.
    sites_per_mb : bound sites per Mb per TF, in (0, 500]; a bit over half are accessible in a given
        cell. Weak, closed-decoy and other elements scale with it.
    genes_per_mb : genes per Mb in the GTF, in (0, 200].
    motifs_path : MEME file to draw motifs from (default: the packaged HOCOMOCO subset).
    force : replace an existing non-empty ``out_dir``.
    reads : ``"single"`` or ``"paired"`` also writes per cell type ``<CELL>.DNASE.bam`` whose reads'
        5′ ends are the DNase cuts (:mod:`factornet_core.simulate_reads`), listed as ``bam`` rows
        of the samplesheet; None writes bigWigs only.
    cell_depth : cell → factor multiplying that cell's DNase signal depth (peaks and background;
        each cell already has a random depth in 0.8–1.25). Unnamed cells are unchanged (the same seed
        gives the same files as without it).
    cell_background : cell → factor multiplying that cell's background cuts only.
        ``cell_depth={"CellC": 0.4}, cell_background={"CellC": 2.5}`` make a shallow, noisy cell whose
        peaks are 0.4× the others' over about the same background.

    Returns
    -------
    SimulationSummary
        Absolute paths of everything written (genome FASTA, chrom sizes, samplesheet, truth TSV,
        motifs, GTF, CpG BED, blacklist, MAPABILITY and per-cell DNASE bigWigs (cut counts per bp),
        expression tables, conservative/relaxed narrowPeaks, DREAM label files) and counts of peaks
        and sites.

    Raises
    ------
    FactorNetError
        A parameter out of range, a TF without a motif in the motif file, an existing non-empty
        ``out_dir`` without ``force``, an unwritable parent folder. Nothing is left behind on error.
    """
    _check_params(reads, seed, n_chroms, chrom_length, n_cells, sites_per_mb, genes_per_mb)
    cell_depth = _cell_factors(cell_depth, n_cells, "--cell-depth")
    cell_background = _cell_factors(cell_background, n_cells, "--cell-background")
    motif_file = Path(motifs_path) if motifs_path is not None else packaged_motifs_path()
    motifs = read_meme(motif_file)
    tf_motifs = resolve_tfs(motifs, tfs)
    decoys = [d for d in DECOY_MOTIFS if d in motifs and motifs[d] not in tf_motifs]
    out_dir = Path(out_dir)
    cells = [f"Cell{chr(ord('A') + i)}" for i in range(n_cells)]
    tf_names = [m.tf for m in tf_motifs]
    params = dict(seed=seed, sites_per_mb=sites_per_mb, genes_per_mb=genes_per_mb)
    params |= dict(tf_motifs=tf_motifs, decoys=decoys)

    chrom_sizes = {f"chr{i + 1}": chrom_length for i in range(n_chroms)}
    data = {c: _chromosome(i, c, n, params, motifs) for i, (c, n) in enumerate(chrom_sizes.items())}
    rng = _rng(seed, 2)  # draws in this order: cell states, depths, genes, then per cell expression
    truth = _cell_states(rng, pd.concat([d["elements"] for d in data.values()], ignore_index=True), n_cells)
    depth = rng.uniform(0.8, 1.25, n_cells)
    depth *= np.array([cell_depth.get(c, 1.0) for c in cells])
    background = [cell_background.get(c, 1.0) for c in cells]
    genes, level, tf_gene = _named_genes(rng, data, motifs)

    with atomic_folder(out_dir, force, what="--out") as tmp:
        summary = SimulationSummary(
            out_dir=out_dir.resolve(), seed=seed, cells=cells, tfs=tf_names, chrom_sizes=chrom_sizes,
            genome=tmp / "genome.fa", chrom_sizes_file=tmp / "chrom.sizes", samplesheet=tmp / "samplesheet.tsv",
            truth=tmp / "truth.tsv", motifs=tmp / "motifs.meme", gtf=tmp / "annotation.gtf", cpg=tmp / "cpg.bed",
            blacklist=tmp / "blacklist.bed", mapability=tmp / "MAPABILITY.bw", readme=tmp / "README.txt",
        )  # fmt: skip
        _write_genome_files(summary, data, motif_file, genes)
        rows: list[tuple[str, str, str, str]] = []
        peaks: dict[tuple[str, str], pd.DataFrame] = {}
        for j, cell in enumerate(cells):
            rows += _write_cell_dnase(summary, tmp, j, data, truth, depth[j], background[j], reads)
            rows += _write_cell_peaks(summary, tmp, j, truth, peaks)
            fpkm = np.exp(level + rng.normal(0, 1.0, len(genes))) * (rng.random(len(genes)) > 0.15 * ~tf_gene)
            summary.expression[cell] = tmp / f"{cell}.expression.tsv"
            w.write_expression(summary.expression[cell], [g["gene_id"] for g in genes], np.round(fpkm, 4))
            rows.append((cell, "expression", ".", f"{cell}.expression.tsv"))
        rows += _write_labels(summary, tmp, peaks)
        write_samplesheet(summary.samplesheet, rows)
        w.write_text(summary.truth, _truth_text(truth, cells))
        kinds = truth.elements["kind"].to_numpy()
        summary.n_sites = {k: int((kinds == k).sum()) for k in KINDS}
        w.write_text(summary.readme, _readme(summary, decoys, sites_per_mb, genes_per_mb))
    _point_to_final(summary, tmp)
    return summary


def _cell_factors(factors: Mapping[str, float] | None, n_cells: int, option: str) -> dict[str, float]:
    """Check per-cell factors: known cell names (CellA, CellB, ...), finite values > 0."""
    cells = [f"Cell{chr(ord('A') + i)}" for i in range(n_cells)]
    out = {}
    for cell, value in (factors or {}).items():
        if cell not in cells:
            raise FactorNetError(f"{option}: no cell type {cell!r} (the cells are {', '.join(cells)})")
        if not np.isfinite(value) or value <= 0:
            raise FactorNetError(f"{option}: the factor for {cell} must be > 0, got {value}")
        out[cell] = float(value)
    return out


def _readme(s: SimulationSummary, decoys: list[str], sites_per_mb: float, genes_per_mb: float) -> str:
    peaks = "\n".join(f"  {c} {t}: {n[0]} conservative, {n[1]} relaxed" for (c, t), n in s.n_peaks.items())
    sites = ", ".join(f"{k} {n}" for k, n in s.n_sites.items())
    return f"""Simulated FactorNet dataset (factornet simulate), seed {s.seed}.
The same seed and sizes give byte-identical files.

Genome: {plural(len(s.chrom_sizes), "chromosome")} x {next(iter(s.chrom_sizes.values()))} bp (genome.fa, chrom.sizes),
~41% GC with CpG depletion, GC-rich CpG islands (cpg.bed), soft-masked repeats, N runs at both ends.
Cell types: {", ".join(s.cells)}. TFs: {", ".join(s.tfs)}. Decoy motifs: {", ".join(decoys) or "none"}.
Motifs: motifs.meme (HOCOMOCO v9). Density: {sites_per_mb:g} bound sites/Mb/TF, {genes_per_mb:g} genes/Mb.
Planted elements ({sites}):
  bound         the TF's motif; bound (B) in every cell where it is accessible
  weak          a weakened motif; ambiguous (A, relaxed peaks only) where accessible
  decoy_closed  the TF's motif in chromatin closed in every cell; never bound
  open_nomotif  accessible without a planted motif; never bound
  decoy_motif   accessible with another factor's motif; never bound
truth.tsv lists every element: motif span, strand, kind, PWM log2-odds score, acc_<CELL> (0/1) and
bound_<CELL> (B/A/U).
Tracks: <CELL>.DNASE.bw (Poisson cut counts: background x mapability, a peak at accessible elements,
a footprint dip over bound motifs), MAPABILITY.bw (shared, 0..1). blacklist.bed: high-signal regions.
Peaks: <CELL>.<TF>.conservative/relaxed.narrowPeak.gz; labels: <TF>.labels.tsv.gz (DREAM layout,
200 bp bins, 50 bp stride). Annotation: annotation.gtf (genes GENE*, and genes named like the TFs).
Expression: <CELL>.expression.tsv (gene_id, FPKM-like). samplesheet.tsv ties it together.
Peaks per cell type and TF:
{peaks}
"""
