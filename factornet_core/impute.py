"""``factornet impute``: many models, one cell type → one prediction file with a column per model.

The paper's headline (Quang & Xie 2019, Abstract): "a researcher can perform a single sequencing
assay, such as DNase-seq, on a cell type and computationally impute dozens of TF binding profiles".
This module is the peer of :mod:`factornet_core.predict` for that use:

* every model card is read and checked against the cell type *before any work*; a model needing an
  input the user did not give (a track such as ``Unique35``, expression PCs / ``--meta-values``,
  annotation features) is refused with the full list of what is missing, or skipped
  (``skip_incompatible``);
* the genome and the union of the models' tracks are opened once (:class:`~factornet_core.inputs.CellData`);
  each span of windows is read ONCE and handed to every model with the same window length, each
  taking its own track channels in its own order (:func:`factornet_core.fastpredict.predict_bins_shared`);
* each model's metadata comes from :class:`~factornet_core.inputs.Metadata`, as in ``predict``, so a
  model's column is bit-identical to that model's own ``factornet predict`` output;
* columns: ``TF`` when the TF is predicted by one model, ``TF.variant`` when several models predict it
  (variant from the catalogue name ``TF__variant`` / the original folder name, else the file name).

Bins, blacklist, sharding (``chroms``) and bigWig outputs behave as in ``predict``.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from factornet_core import fastpredict, intervals
from factornet_core.atomic import OutputSet
from factornet_core.card import ModelCard
from factornet_core.errors import FactorNetError
from factornet_core.inputs import CellData, CellType, Metadata, PathLike, check_genome
from factornet_core.predict import (
    PredictOptions,
    Progress,
    ScoreBigWigs,
    apply_model,
    bin_groups,
    check_bigwig_names,
    grid_count,
    write_chrom,
)
from factornet_core.wording import noun, plural


# ------------------------------------------------------------------------------ which models
def resolve_models(specs: Sequence[str | os.PathLike], cache: PathLike | None = None) -> list[Path]:
    """Model files from ``specs``: ``.keras`` files, folders (their ``*.keras``, sorted) or catalogue
    names (``TF__variant``, or a TF with one model in ``cache``) already fetched into ``cache``.

    Raises :class:`FactorNetError` for a folder without models, an unknown catalogue name (with close
    matches), a TF with several cached models (lists them) and a catalogue model not fetched yet (with
    the command that fetches it).
    """
    from factornet_core import catalogue

    out: list[Path] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            found = sorted(path.glob("*.keras"))
            if not found:
                raise FactorNetError(f"model folder {str(path)!r} holds no .keras file")
            out.extend(found)
        elif path.is_file():
            out.append(path)
        elif path.suffix == ".keras" or os.sep in str(spec):
            raise FactorNetError(f"model file {str(spec)!r} does not exist")
        else:
            entry = catalogue.resolve_cached(str(spec), cache)
            cached = catalogue.cached_path(entry, cache)
            if not catalogue.is_cached(entry, cache):
                # the cache this run looked in, named in the advice unless it is the default one
                where = "" if cache is None else f" --model-cache {shlex.quote(str(cache))}"
                raise FactorNetError(
                    f"catalogue model {entry.name} is not in the cache {str(cached.parent)!r}: "
                    f"run 'factornet models fetch {entry.name}{where}' first"
                )
            out.append(cached)
    if not out:
        raise FactorNetError("no models given")
    return out


def variant_of(path: Path, card: ModelCard) -> str:
    """The model's variant name: from ``TF__variant`` (catalogue name or original folder) in its
    provenance, else the file name without ``.keras`` (and without a leading ``TF__``)."""
    prov = dict(card.provenance or {})
    for key in ("catalogue_name", "source_folder"):
        name = str(prov.get(key) or "")
        if "__" in name:
            return name.split("__", 1)[1]
    stem = path.name[: -len(".keras")] if path.name.endswith(".keras") else path.stem
    return stem.split("__", 1)[1] if "__" in stem else stem


def column_names(models: Sequence[tuple[Path, ModelCard]]) -> list[list[str]]:
    """Output column names, per model in order, per TF of the model: ``TF`` if one model predicts the
    TF, else ``TF.variant``.

    Raises :class:`FactorNetError` when two models predict the same TF with the same variant.
    """
    seen: dict[tuple[str, str], Path] = {}
    count: dict[str, int] = {}
    for path, card in models:
        variant = variant_of(path, card)
        for tf in card.tfs:
            if (tf, variant) in seen:
                raise FactorNetError(
                    f"two models predict {tf} with variant {variant!r}: {seen[(tf, variant)]} and {path}; "
                    "give each model once"
                )
            seen[(tf, variant)] = path
            count[tf] = count.get(tf, 0) + 1
    return [
        [tf if count[tf] == 1 else f"{tf}.{variant_of(path, card)}" for tf in card.tfs]
        for path, card in models
    ]


def missing_inputs(card: ModelCard, cell: CellType) -> list[str]:
    """What ``cell`` lacks for ``card`` (empty: compatible), each as the option that would supply it."""
    missing = [f"track {t} (--track {t}=BIGWIG)" for t in card.track_names if t not in cell.tracks]
    if card.features.expression:
        if card.expression_source == "meta_values" and cell.meta_values is None:
            missing.append("the cell type's expression PCs as published with the model (--meta-values)")
        elif cell.expression is None and cell.meta_values is None:
            missing.append("an expression table (--expression)")
    if card.features.gencode and cell.annotations is None:
        missing.append("annotation features (--annotation-beds, or --gtf and --cpg)")
    return missing


@dataclass
class ModelPlan:
    """One model in an impute run: file, card, output columns, its cell type (tracks restricted to
    the card's) and reader channels."""

    path: Path
    card: ModelCard
    columns: list[str]
    cell: CellType
    channels: list[int] = field(default_factory=list)


def plan_models(
    models: Sequence[PathLike], cell: CellType, skip_incompatible: bool = False
) -> tuple[list[ModelPlan], dict[str, list[str]]]:
    """Read every card, check it against the cell type, name the columns — no model is loaded.

    Returns the runnable models and, when ``skip_incompatible``, ``{model path: what is missing}``.

    Raises
    ------
    FactorNetError
        A file that is not a FactorNet model (names it); models needing inputs not given (lists every
        model and what it lacks) unless ``skip_incompatible``; none left to run; two models with the
        same TF and variant; models on different bin grids.
    """
    from factornet_core.modelfile import read_card

    cards = [(Path(p), read_card(p)) for p in models]
    skipped: dict[str, list[str]] = {}
    usable = []
    for path, card in cards:
        lacks = missing_inputs(card, cell)
        if lacks:
            skipped[str(path)] = lacks
        else:
            usable.append((path, card))
    if skipped and not skip_incompatible:
        detail = "; ".join(f"{Path(p).name} needs {', '.join(m)}" for p, m in skipped.items())
        others = len(cards) - len(skipped)
        if len(cards) == 1:
            who = "the model needs"
        elif not others:
            who = f"all {plural(len(cards), 'model')} need"
        else:
            who = f"{len(skipped)} of {plural(len(cards), 'model')} {noun(skipped, 'needs', 'need')}"
        rest = "the other model" if others == 1 else f"the other {plural(others, 'model')}"
        # with every model incompatible there is nothing else to run: only the inputs to give
        advice = f"give them, or --skip-incompatible to run {rest}" if others else "give them"
        raise FactorNetError(f"{who} inputs that were not given — {detail} ({advice})")
    if not usable:
        raise FactorNetError("no model can run on the inputs given (all skipped as incompatible)")
    grids = {(c.bin_size, c.bin_stride) for _, c in usable}
    if len(grids) > 1:
        raise FactorNetError(f"the models score different bin grids {sorted(grids)}: impute them separately")
    names = column_names(usable)
    plans = []
    for (path, card), cols in zip(usable, names):
        own = dataclasses.replace(cell, tracks={t: cell.tracks[t] for t in card.track_names})
        plans.append(ModelPlan(path, card, cols, own))
    return plans, skipped


# ------------------------------------------------------------------------------ the run
@dataclass
class ImputeResult:
    """Bins scored (incl. blacklisted), bins blacklisted, wall time (s), output columns in order,
    models skipped (path → what they lacked)."""

    n_bins: int
    n_blacklisted: int
    seconds: float
    columns: list[str]
    skipped: dict[str, list[str]]


class _LengthGroup:
    """Models with one window length and the same track normalisations: one reader over the union of their tracks, one span read per
    window run for all of them."""

    def __init__(self, plans: list[ModelPlan], cell: CellType, batch_size: int, naive: bool):
        from factornet_core.modelfile import load_model, read_arrays

        card = plans[0].card
        union = list(dict.fromkeys(t for p in plans for t in p.card.track_names))
        self.plans = plans
        self.data = CellData(dataclasses.replace(cell, tracks={t: cell.tracks[t] for t in union}), union,
                             card.seq_len, card.bin_size, card.track_norms)  # fmt: skip
        try:
            for plan in plans:
                check_genome(plan.card, self.data.chrom_sizes)
                plan.channels = [0, 1, 2, 3] + [4 + union.index(t) for t in plan.card.track_names]
            self.metadata = [Metadata.for_model(p.card, read_arrays(p.path), p.cell) for p in plans]
            self.nets = [load_model(p.path).model for p in plans]
        except BaseException:
            self.data.close()
            raise
        self.fast = [
            fastpredict.SharedConvPredictor(net, batch_size=batch_size)
            if not naive and fastpredict.supports(net)
            else None
            for net in self.nets
        ]
        self.batch_size = batch_size

    def score(self, chrom: str, starts: np.ndarray) -> list[np.ndarray]:
        """Per model ``(n, n_tfs) float32`` scores of bins starting at ``starts``."""
        out: list[np.ndarray | None] = [None] * len(self.plans)
        metas = [m.rows(chrom, starts) for m in self.metadata]
        fast = [i for i, f in enumerate(self.fast) if f is not None]
        if fast:
            parts = fastpredict.predict_bins_shared(
                [self.fast[i] for i in fast],
                self.data.reader,
                chrom,
                starts,
                [metas[i] for i in fast],
                [self.plans[i].channels for i in fast],
            )
            for i, part in zip(fast, parts):
                out[i] = part
        slow = [i for i, f in enumerate(self.fast) if f is None]
        if slow:
            x = self.data.reader.windows(chrom, starts)  # read once for every per-window model
            for i in slow:
                xi = x[..., self.plans[i].channels]
                out[i] = apply_model(
                    self.nets[i], xi if metas[i] is None else (xi, metas[i]), self.batch_size
                )
        return out

    def close(self) -> None:
        self.data.close()


def impute(
    models: Sequence[PathLike],
    cell: CellType,
    out_path: PathLike,
    options: PredictOptions | None = None,
    skip_incompatible: bool = False,
    progress: Progress | None = None,
) -> ImputeResult:
    """Score every bin of one cell type with several models; write one prediction file.

    Parameters
    ----------
    models : ``.keras`` model files with FactorNet cards (see :func:`resolve_models` for folders and
        catalogue names).
    cell : the cell type's genome, tracks (the union of what the models need: e.g. ``DGF`` = DNase-seq
        cut-site signal, ``Unique35`` = 35-mer mapability for the published models), and, as models
        require, metadata values / expression table / annotation features.
    out_path : prediction TSV(.gz), header ``chr start stop <column>...`` (one column per model TF).
    options : bins (``bins_bed``/``chroms``), ``blacklist``, ``bigwig_prefix`` (``PREFIX.<column>.bw``),
        ``batch_size``, ``chunk_bins``, ``naive`` — as :class:`~factornet_core.predict.PredictOptions`;
        ``tf`` and ``dream`` are refused.
    skip_incompatible : run the models whose inputs are all given, report the others.
    progress : display hooks, called with numbers of bins.

    Raises
    ------
    FactorNetError
        Before any work, as :func:`plan_models`; chromosomes or bins outside the genome or the tracks.
        Nothing is written on error.
    """
    options = options or PredictOptions()
    if options.tf is not None or options.dream:
        raise FactorNetError("impute writes every model's TFs with a header: --tf and --dream do not apply")
    progress = progress or Progress()
    plans, skipped = plan_models(models, cell, skip_incompatible)
    check_bigwig_names(options, [c for p in plans for c in p.columns], [p.path for p in plans], cell)
    # one reader per window length and per set of track normalisations (a track read raw for one
    # model and scaled for another cannot share one read)
    by_length: dict[tuple, list[ModelPlan]] = {}
    for plan in plans:
        norms = tuple(sorted((t, r) for t, r in plan.card.track_norms.items() if r != "none"))
        by_length.setdefault((plan.card.seq_len, norms), []).append(plan)
    groups: list[_LengthGroup] = []
    try:
        for members in by_length.values():
            groups.append(_LengthGroup(members, cell, options.batch_size, options.naive))
        return _run(plans, groups, out_path, options, progress, skipped)
    finally:
        for group in groups:
            group.close()


def _run(plans, groups, out_path, options: PredictOptions, progress: Progress, skipped) -> ImputeResult:
    card = plans[0].card
    sizes_all = groups[0].data.chrom_sizes
    chrom_groups, bins = bin_groups(options, card, sizes_all)
    for group in groups:
        group.data.check_chroms([c for c, _ in chrom_groups])
    black = None
    if options.blacklist is not None:
        black = intervals.read_bed(options.blacklist, what="blacklist BED", allow_empty=True)
        black = intervals.check_in_genome(black, sizes_all, options.blacklist, what="blacklist")
    columns = [c for p in plans for c in p.columns]
    # output column slice of each model, per length group
    offsets, k = {}, 0
    for plan in plans:
        offsets[id(plan)] = slice(k, k + len(plan.columns))
        k += len(plan.columns)
    sizes = {c: sizes_all[c] for c, _ in chrom_groups}
    total = sum(len(idx) if idx is not None else grid_count(sizes[c], card) for c, idx in chrom_groups)
    t0 = time.perf_counter()
    n_black = 0
    progress.start(total)
    from factornet_core.scores import PredictionWriter

    with OutputSet() as outs:
        writer = PredictionWriter(outs.path(out_path), columns)
        bw = None
        if options.bigwig_prefix is not None:
            bw = ScoreBigWigs(outs, options.bigwig_prefix, columns, sizes, card)
        with writer:
            for chrom, idx in chrom_groups:
                chunk_df = (
                    intervals.tile_bins(sizes_all, [chrom], card.bin_size, card.bin_stride)
                    if idx is None
                    else bins.iloc[idx]
                )
                starts = chunk_df["start"].to_numpy()
                skip = (
                    intervals.overlap_mask(chunk_df, black)
                    if black is not None
                    else np.zeros(len(starts), bool)
                )
                n_black += int(skip.sum())
                scores = np.zeros((len(starts), len(columns)), dtype=np.float32)
                # the same chunks as predict's scorer, so each model sees exactly predict's inputs
                for lo in range(0, len(starts), options.chunk_bins):
                    hi = min(lo + options.chunk_bins, len(starts))
                    run = np.flatnonzero(~skip[lo:hi]) + lo
                    if run.size:
                        for group in groups:
                            for plan, part in zip(group.plans, group.score(chrom, starts[run])):
                                scores[run, offsets[id(plan)]] = part
                    progress.advance(hi - lo)
                write_chrom(writer, bw, chrom, chunk_df, scores)
        if bw is not None:
            bw.close()
    progress.finish()
    return ImputeResult(total, n_black, time.perf_counter() - t0, columns, skipped)
