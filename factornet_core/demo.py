"""``factornet demo``: FactorNet against the reference predictors on built-in simulated data, in minutes.

simulate (genome, peaks and each cell type's DNase-seq BAM) → prepare (BAM → cut-site bigWig, as a user's
alignments go) → bin (held-out labels) → baselines (pwm, accessibility, their rank product, gbm) → train
(CTCF in two cell types, motif-initialised, two seeds) → predict (a third cell type, never trained on,
on a chromosome never trained on) → bag (rank average of the seeds) → evaluate (every file side by side)
→ interpret (kernel motifs against the planted motifs; saliency of one bound site).

Data size and training budget: :class:`factornet_core.recipe.RecipeSettings`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from factornet_core.errors import FactorNetError
from factornet_core.wording import plural


@dataclass
class DemoResult:
    out_dir: Path
    metrics: list[dict] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    table: object = None  # pandas DataFrame: one row per prediction file (models, bag, baselines)
    best_motif_match: tuple[str, str, float] | None = None  # kernel, known motif, Tomtom q-value
    figures: dict[str, Path] = field(default_factory=dict)  # what each PNG shows → its path


def run_demo(
    out_dir: str | os.PathLike, seed: int = 1, epochs: int | None = None, log=lambda msg: None
) -> DemoResult:
    """Run the chain into ``out_dir`` (created; must be empty or absent). ``log`` receives step messages.

    ``seed`` seeds the dataset and the first model (the second uses ``seed + 1``); ``epochs`` overrides
    the recipe's training epochs.
    """
    from factornet_core import bagging, recipe

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise FactorNetError(f"demo folder {str(out)!r} is not empty: remove it or choose another with --out")
    out.mkdir(parents=True, exist_ok=True)
    result = DemoResult(out)
    s = recipe.RecipeSettings(sim_seed=seed)
    if epochs is not None:
        s.epochs = epochs
    cells = ", ".join(s.train_cells)

    log(
        f"1/7 simulate: {plural(s.n_chroms, 'chromosome')} x {s.chrom_length // 1_000_000} Mb, 3 cell types, "
        "CTCF and GABPA; DNase-seq reads as BAM\n    prepare: 5' cut sites from each BAM "
        "(factornet prepare --normalize none)"
    )
    p = recipe.prepare(out, s, from_reads=True, log=log)
    log(f"2/7 bin: held-out labels, CTCF in {s.target_cell} on {s.test_chrom}")

    files: dict[str, Path] = {}
    log(f"3/7 baselines: {', '.join(recipe.BASELINES)} (gbm trained on {cells})")
    baselines = recipe.baselines(p, out, s, seed=seed)

    preds = []
    for k, model_seed in enumerate((seed, seed + 1)):
        log(
            f"4/7 train: CTCF in {cells}, motif-initialised, seed {model_seed} ({s.epochs} epochs), "
            f"{s.valid_chrom} validates, {s.test_chrom} held out; predict {s.target_cell} on {s.test_chrom}"
        )
        model, pred, res = recipe.train_and_predict(p, out, s, model_seed, motif_init=True)
        preds.append(pred)
        files[f"factornet seed {model_seed}"] = pred
        if k == 0:
            first_model = model
    log("5/7 bag: rank average of the two seeds")
    bagged = out / f"CTCF.{s.target_cell}.bagged.tsv.gz"
    bagging.bag_prediction_files(preds, bagged)
    files = {"factornet bagged": bagged, **files, **baselines}

    log(f"6/7 evaluate: every file on the held-out labels ({s.target_cell}, {s.test_chrom})")
    evaluated = recipe.score(p, files, out / "comparison", s)
    result.table = evaluated.table
    result.metrics = evaluated.table.to_dict(orient="records")
    (out / "demo_metrics.json").write_text(json.dumps(result.metrics, indent=1))
    result.figures = {
        "precision-recall curves, every model and baseline": out / "comparison.pr.png",
        "ROC curves": out / "comparison.roc.png",
        "auPR bars": out / "comparison.aupr.png",
    }

    log("7/7 interpret: kernel motifs (vs the planted motifs) and a saliency map of a bound site")
    _interpret(first_model, p, s, out, result, log)
    return result


def _interpret(first_model, p, s, out: Path, result: DemoResult, log) -> None:
    """Step 7: the first model's kernel motifs (matched to the planted ones) and the saliency of one
    bound site on the test chromosome; records the best match and the figure folders in ``result``."""
    from factornet_core import intervals, motifs, saliency
    from factornet_core.inputs import CellType
    from factornet_core.samplesheet import read_samplesheet

    sim = p.sim
    sheet = read_samplesheet(sim.samplesheet).cells
    summary = motifs.interpret_motifs(
        first_model,
        CellType(sim.genome, sheet[s.train_cells[0]].tracks),
        sheet[s.train_cells[0]].conservative["CTCF"],
        out / "motifs",
        peaks=True,
        known=sim.motifs,
        sequence_only=True,
        cell_name=s.train_cells[0],
    )
    if summary.known_matches is not None and len(summary.known_matches):
        best = summary.known_matches.sort_values("p_value", kind="stable").iloc[0]
        result.best_motif_match = (str(best["kernel"]), str(best["known_motif"]), float(best["q_value"]))
        log(
            f"    best kernel match: {best['kernel']} ~ {best['known_motif']} (Tomtom q = {best['q_value']:.2g})"
        )
    target_peaks = intervals.read_bed(sheet[s.target_cell].conservative["CTCF"], what="narrowPeak")
    on_test = target_peaks[target_peaks["chrom"] == s.test_chrom].head(1)
    site = out / "saliency_site.bed"
    site.write_text("".join(f"{r.chrom}\t{r.start}\t{r.end}\n" for r in on_test.itertuples()))
    saliency.interpret_saliency(
        first_model,
        CellType(sim.genome, sheet[s.target_cell].tracks),
        site,
        out / "saliency",
        positive_only=True,
        cell_name=s.target_cell,
    )
    result.figures["kernel logos and their best matches"] = out / "motifs"
    result.figures["saliency of one bound site"] = out / "saliency"
