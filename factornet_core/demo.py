"""``factornet demo``: the whole chain on built-in simulated data, in minutes on a laptop CPU.

simulate → bin (labels) → train (CTCF, one cell type, two seeds) → predict (another cell type, on a
chromosome never used in training) → bag (rank average of the seeds) → evaluate → interpret (kernel
motifs against the planted motif; saliency of one bound site).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from factornet_core.errors import FactorNetError
from factornet_core.inputs import CellType

# A small architecture (the paper's shape, fewer units) so two seeds train in a few minutes on 2 cores.
DEMO_ARCH = {"seq_len": 1000, "kernel_width": 26, "kernels": 32, "lstm_units": 16, "dense_units": 64}


@dataclass
class DemoResult:
    out_dir: Path
    metrics: list[dict] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    table: object = None  # pandas DataFrame of the metrics rows
    best_motif_match: tuple[str, str, float] | None = None


def run_demo(out_dir: str | os.PathLike, seed: int = 1, epochs: int = 10, log=lambda msg: None) -> DemoResult:
    """Run the chain into ``out_dir`` (created; must be empty or absent). ``log`` receives step messages."""
    import pandas as pd

    from factornet_core import bagging, binning, evaluation, predict, training
    from factornet_core.simulate import simulate_dataset

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise FactorNetError(f"demo folder {str(out)!r} is not empty: remove it or choose another with --out")
    out.mkdir(parents=True, exist_ok=True)
    result = DemoResult(out)

    log("1/7 simulate: 3 chromosomes x 1 Mb, 3 cell types, CTCF and GABPA")
    sim = simulate_dataset(out / "data", seed=seed)
    sheet = Path(sim.samplesheet)
    genome = Path(sim.genome)
    train_cell, target_cell, valid_chrom, test_chrom = "CellA", "CellC", "chr2", "chr3"

    log(f"2/7 bin: labels for CTCF on {test_chrom}")
    from factornet_core.samplesheet import read_samplesheet

    cells = read_samplesheet(sheet).cells
    peaks = {c: binning.PeakFiles(cells[c].conservative["CTCF"], cells[c].relaxed.get("CTCF")) for c in cells}
    from factornet_core.genome import Genome

    with Genome(genome) as g:
        sizes = g.chrom_sizes
    labels = out / "CTCF.labels.tsv.gz"
    bins_bed = out / f"{test_chrom}.bins.bed.gz"
    binning.run_bin(sizes, peaks, labels, bins_bed, chroms=[test_chrom], blacklist=sim.blacklist)

    preds = []
    for s in (seed, seed + 1):
        model = out / f"CTCF.seed{s}.keras"
        log(f"3/7 train: CTCF in {train_cell}, seed {s}, validation {valid_chrom}, {test_chrom} held out")
        settings = training.TrainSettings(
            tf="CTCF",
            cells=[train_cell],
            valid_chroms=[valid_chrom],
            exclude_chroms=[test_chrom],
            valid_cell="CellB",
            epochs=epochs,
            patience=4,
            seed=s,
            **DEMO_ARCH,
        )
        res = training.train(sheet, genome, model, settings, blacklist=sim.blacklist)
        log(
            f"    best epoch {res.best_epoch}: within-cell validation auPR {res.history[res.best_epoch - 1]['val_auPR']:.3f}"
        )
        pred = out / f"CTCF.{target_cell}.seed{s}.tsv.gz"
        log(f"4/7 predict: {target_cell} (never trained on), {test_chrom}")
        predict.predict(
            model,
            CellType(genome, cells[target_cell].tracks),
            pred,
            predict.PredictOptions(chroms=[test_chrom], blacklist=sim.blacklist),
        )
        preds.append(pred)

    log("5/7 bag: rank average of the two seeds")
    bagged = out / f"CTCF.{target_cell}.bagged.tsv.gz"
    bagging.bag_prediction_files(preds, bagged)

    log("6/7 evaluate against the held-out labels")
    for name, path in [("seed1", preds[0]), ("seed2", preds[1]), ("bagged", bagged)]:
        evaluated = evaluation.evaluate(
            path, out / f"eval.{name}", labels=labels, cell=target_cell, name=name
        )
        result.metrics.extend(evaluated.table.to_dict(orient="records"))
        result.table = (
            pd.concat([result.table, evaluated.table]) if result.table is not None else evaluated.table
        )
    (out / "demo_metrics.json").write_text(json.dumps(result.metrics, indent=1))

    log("7/7 interpret: kernel motifs (vs the planted motifs) and a saliency map of a bound site")
    from factornet_core import intervals, motifs, saliency

    model = out / f"CTCF.seed{seed}.keras"
    summary = motifs.interpret_motifs(
        model,
        CellType(genome, cells[train_cell].tracks),
        cells[train_cell].conservative["CTCF"],
        out / "motifs",
        peaks=True,
        known=sim.motifs,
        sequence_only=True,
    )
    if summary.known_matches is not None and len(summary.known_matches):
        best = summary.known_matches.sort_values("similarity", ascending=False).iloc[0]
        result.best_motif_match = (str(best["kernel"]), str(best["known_motif"]), float(best["similarity"]))
        log(f"    best kernel match: {best['kernel']} ~ {best['known_motif']} (r = {best['similarity']:.2f})")
    target_peaks = intervals.read_bed(cells[target_cell].conservative["CTCF"], what="narrowPeak")
    on_test = target_peaks[target_peaks["chrom"] == test_chrom].head(1)
    site = out / "saliency_site.bed"
    site.write_text("".join(f"{r.chrom}\t{r.start}\t{r.end}\n" for r in on_test.itertuples()))
    saliency.interpret_saliency(
        model, CellType(genome, cells[target_cell].tracks), site, out / "saliency", positive_only=True
    )
    return result
