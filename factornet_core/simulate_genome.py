"""Simulate one chromosome of the ground-truth genome: genes, CpG islands, repeats, blacklist,
regulatory elements with planted motifs, sequence and mapability.

Part of :mod:`factornet_core.simulate` (which draws cell states and writes the files); the pure
motif and interval helpers here are array in, array out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from factornet_core import intervals
from factornet_core import simulate_writers as w
from factornet_core.meme import Motif

BACKGROUND = np.array([0.295, 0.205, 0.205, 0.295])  # A C G T, ~41 % GC after CpG depletion
SLOT = 1_200  # one regulatory element per slot: peaks (≤ 400 bp) and DNase peaks never touch
# elements per Mb per TF (bound = sites_per_mb) or per decoy motif / in all, relative to sites_per_mb
_PER_TF = {"bound": 1.0, "weak": 0.25, "decoy_closed": 0.35}
# Open-but-unbound elements outnumber bound sites, as in real cells (most DNase peaks are not bound by a
# given TF): without that, accessibility alone would look like binding.
_OPEN_NOMOTIF, _PER_DECOY = 1.5, 0.4
_BASES = np.frombuffer(b"ACGTN", dtype=np.uint8)


# --------------------------------------------------------------------------------------------- motifs
def sample_motif(probs: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` instances drawn position by position from a PWM → ``(n, width) uint8`` codes 0..3."""
    cum = np.cumsum(probs, axis=1)[None, :, :3]
    return (rng.random((n, probs.shape[0]))[:, :, None] > cum).sum(axis=2).astype(np.uint8)


def log_odds(probs: np.ndarray, background: np.ndarray = BACKGROUND, pseudo: float = 1e-3) -> np.ndarray:
    """PWM → ``(width, 4)`` log2 odds against ``background``."""
    return np.log2((probs + pseudo) / (1 + 4 * pseudo) / background[None, :])


def score_codes(codes: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Log-odds score of each row of ``codes`` ``(n, width)`` (N, code 4, scores 0) → ``(n,)``."""
    padded = np.vstack([lo.T, np.zeros((1, lo.shape[0]))])  # (5, width)
    return padded[codes, np.arange(lo.shape[0])[None, :]].sum(axis=1)


def revcomp_codes(codes: np.ndarray) -> np.ndarray:
    """Reverse complement of codes ``(..., width)`` (N stays N)."""
    comp = np.array([3, 2, 1, 0, 4], dtype=np.uint8)
    return comp[codes[..., ::-1]]


# --------------------------------------------------------------------------------------------- pure layout helpers
def merge_intervals(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cov = intervals.Coverage.from_intervals(starts, ends)
    return cov.starts, cov.ends


def paint(values: np.ndarray, starts: np.ndarray, ends: np.ndarray, fill: np.ndarray | float) -> None:
    """``values[s:e] = fill`` for each interval (``fill`` scalar or one value per interval)."""
    fill = np.broadcast_to(np.asarray(fill, dtype=values.dtype), starts.shape)
    for s, e, f in zip(starts.tolist(), ends.tolist(), fill.tolist()):
        values[s:e] = f


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng([seed, *key])


# --------------------------------------------------------------------------------------------- one chromosome
def _genes(rng: np.random.Generator, chrom: str, lo: int, hi: int, genes_per_mb: float) -> list[dict]:
    """Non-overlapping single-transcript coding genes between ``lo`` and ``hi``."""
    genes = []
    mean_gap = max(1e6 / genes_per_mb - 10_000, 2_000)  # a gene spans ~10 kb
    pos = lo + 2_000 + int(rng.exponential(mean_gap / 2))
    while True:
        n_ex = int(rng.integers(2, 9))
        lens = rng.integers(80, 400, n_ex)
        lens[0] += int(rng.integers(60, 300))
        lens[-1] += int(rng.integers(220, 1200))
        introns = np.minimum(rng.lognormal(np.log(1500), 0.8, n_ex - 1).astype(np.int64) + 80, 20_000)
        span = int(lens.sum() + introns.sum())
        if pos + span + 2_000 > hi:
            return genes
        strand = "+" if rng.random() < 0.5 else "-"
        offsets = np.concatenate([[0], np.cumsum(lens[:-1] + introns)])
        exons = np.stack([pos + offsets, pos + offsets + lens], axis=1)  # transcription order if '+'
        if strand == "-":
            exons = np.stack([pos + span - offsets - lens, pos + span - offsets], axis=1)
        tx_len = int(lens.sum())
        cds_s = int(rng.integers(20, lens[0] - 10))
        utr3 = int(rng.integers(50, lens[-1] - 10))
        cds_e = cds_s + 3 * ((tx_len - utr3 - cds_s) // 3)
        genes.append(
            dict(chrom=chrom, start=pos, end=pos + span, strand=strand, exons=exons, tx_len=tx_len)
            | dict(cds_start=cds_s, cds_end=cds_e, tss=pos if strand == "+" else pos + span)
        )
        pos += span + int(rng.exponential(mean_gap)) + 1_000


def _sequence(rng: np.random.Generator, length: int, cpg: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Background codes ``(length,) uint8``: ~44 % GC, then CpG depletion outside islands, GC-rich islands."""
    cum = np.cumsum([0.28, 0.22, 0.22])
    codes = np.searchsorted(cum, rng.random(length), side="right").astype(np.uint8)
    island = np.zeros(length, dtype=bool)
    paint(island, cpg[0], cpg[1], True)
    # CpG depletion (methyl-C deamination): CG → TG or CA, except in islands
    cg = np.flatnonzero((codes[:-1] == 1) & (codes[1:] == 2) & ~island[:-1])
    u = rng.random(cg.size)
    codes[cg[u < 0.4]] = 3
    codes[cg[(u >= 0.4) & (u < 0.8)] + 1] = 0
    n_island = int(island.sum())
    codes[island] = np.searchsorted(np.cumsum([0.17, 0.33, 0.33]), rng.random(n_island), side="right")
    return codes


def _cpg_islands(
    rng: np.random.Generator, genes: list[dict], lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray]:
    """CpG islands ``(starts, ends)``: most promoters, plus a few orphan islands."""
    tss = np.array([g["tss"] for g in genes], dtype=np.int64)
    tss = tss[rng.random(tss.size) < 0.6]
    n_orphan = rng.poisson(3 * (hi - lo) / 1e6)
    orphan = rng.integers(lo, hi - 2_000, n_orphan)
    cpg = merge_intervals(
        np.concatenate([tss - rng.integers(500, 1_000, tss.size), orphan]),
        np.concatenate(
            [tss + rng.integers(300, 1_200, tss.size), orphan + rng.integers(300, 1_500, n_orphan)]
        ),
    )
    return (np.clip(cpg[0], lo, hi), np.clip(cpg[1], lo, hi))


def _repeats(rng: np.random.Generator, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Repeats (soft-masked) ``(starts, ends, low)``; ``low`` marks the share that is poorly mappable."""
    n_rep = rng.poisson(120 * (hi - lo) / 1e6)
    rep_s = rng.integers(lo, hi - 5_000, n_rep)
    rep_e = rep_s + np.minimum(rng.lognormal(np.log(300), 0.8, n_rep).astype(np.int64) + 50, 5_000)
    low = rng.random(n_rep) < 0.4
    return rep_s, rep_e, low


def _blacklist(rng: np.random.Generator, length: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Blacklisted regions ``(starts, ends)``, about one per 500 kb."""
    n_black = max(1, round(length / 500_000))
    black_s = np.sort(rng.integers(lo, hi - 5_000, n_black))
    black_e = black_s + rng.integers(1_000, 4_000, n_black)
    return black_s, black_e


def _mapability(
    rng: np.random.Generator, length: int, lo: int, hi: int, low: tuple, black: tuple
) -> np.ndarray:
    """``(length,) float32`` mapability: 1, lower over ``low`` repeats, 0.1 on the blacklist, 0 at the ends."""
    mapability = np.ones(length, dtype=np.float32)
    paint(mapability, low[0], low[1], np.round(rng.uniform(0.0, 0.6, low[0].size), 2))
    paint(mapability, black[0], black[1], 0.1)
    mapability[:lo] = mapability[hi:] = 0.0
    return mapability


def _element_plan(rng: np.random.Generator, p: dict, n_free: int, mb: float) -> list[tuple[str, str, str]]:
    """``(kind, tf, motif name)`` of every element to plant, at most 85 % of the ``n_free`` slots."""
    plan: list[tuple[str, str, str]] = []
    for motif in p["tf_motifs"]:
        for kind, rate in _PER_TF.items():
            plan += [(kind, motif.tf, motif.name)] * round(rate * p["sites_per_mb"] * mb)
    plan += [("open_nomotif", ".", ".")] * round(_OPEN_NOMOTIF * p["sites_per_mb"] * mb)
    for name in p["decoys"]:
        plan += [("decoy_motif", ".", name)] * round(_PER_DECOY * p["sites_per_mb"] * mb)
    if len(plan) > 0.85 * n_free:  # too dense for this genome: keep a random subset of each kind
        plan = [plan[i] for i in np.sort(rng.permutation(len(plan))[: int(0.85 * n_free)])]
    return plan


def _place_elements(
    rng: np.random.Generator, plan: list, free: np.ndarray, motifs: dict[str, Motif]
) -> dict[str, np.ndarray]:
    """One element per randomly chosen free slot: ``center``, ``start``, ``width``, ``strand``, ``kind``,
    ``tf``, ``motif`` arrays (``start``/``width`` span the motif, 20 bp without one)."""
    n = len(plan)
    slots = np.sort(rng.choice(free, n, replace=False)) if n else free[:0]
    order = rng.permutation(n)  # kinds scattered along the chromosome
    plan = [plan[i] for i in order]
    centers = slots + SLOT // 2 + rng.integers(-150, 151, n)
    kind = np.array([k for k, _, _ in plan] or [], dtype=object)
    tf = np.array([t for _, t, _ in plan] or [], dtype=object)
    mname = np.array([m for _, _, m in plan] or [], dtype=object)
    strand = np.where(rng.random(n) < 0.5, "+", "-").astype(object)
    strand[mname == "."] = "."
    width = np.array([motifs[m].width if m != "." else 20 for m in mname], dtype=np.int64)
    start = centers - width // 2
    return dict(center=centers, start=start, width=width, strand=strand, kind=kind, tf=tf, motif=mname)


def _plant_codons(codes: np.ndarray, genes: list[dict]) -> None:
    """Write each gene's start and stop codon into ``codes`` (in place, on the gene's strand)."""
    for g in genes:
        for feat, s, _e, _ in w.gene_features(g):
            if feat in ("start_codon", "stop_codon"):
                word = [0, 3, 2] if feat == "start_codon" else [3, 0, 0]
                codes[s : s + 3] = word if g["strand"] == "+" else revcomp_codes(np.array(word, np.uint8))


def _plant_motifs(
    rng: np.random.Generator, codes: np.ndarray, el: dict[str, np.ndarray], motifs: dict[str, Motif]
) -> np.ndarray:
    """Sample each element's motif (flattened if weak) into ``codes`` in place → its log-odds score
    (NaN for elements without a motif)."""
    mname, kind, strand, start = el["motif"], el["kind"], el["strand"], el["start"]
    score = np.full(mname.size, np.nan)
    for name in dict.fromkeys(mname.tolist()):
        if name == ".":
            continue
        motif = motifs[name]
        for weak in (False, True):
            idx = np.flatnonzero((mname == name) & ((kind == "weak") == weak))
            probs = 0.35 * motif.pwm + 0.65 * BACKGROUND if weak else motif.pwm
            planted = sample_motif(probs, idx.size, rng)
            minus = strand[idx] == "-"
            score[idx] = score_codes(planted, log_odds(motif.pwm))
            planted[minus] = revcomp_codes(planted[minus])
            codes[start[idx, None] + np.arange(motif.width)[None, :]] = planted
    return score


def _to_bases(codes: np.ndarray, masked: tuple, lo: int, hi: int) -> np.ndarray:
    """Codes → ASCII bases ``(length,) uint8``, lowercase over ``masked`` ``(starts, ends)``, N outside lo..hi."""
    seq = _BASES[codes]
    soft = np.zeros(codes.size, dtype=bool)
    paint(soft, masked[0], masked[1], True)
    seq[soft] += 32  # lowercase
    seq[:lo] = seq[hi:] = ord("N")
    return seq


def _chromosome(ci: int, chrom: str, length: int, p: dict, motifs: dict[str, Motif]) -> dict:
    """Simulate one chromosome: genes, CpG islands, repeats, blacklist, elements, sequence, mapability."""
    rng = _rng(p["seed"], 1, ci)
    tel = min(10_000, length // 20)
    lo, hi = tel, length - tel
    genes = _genes(rng, chrom, lo, hi, p["genes_per_mb"])
    cpg = _cpg_islands(rng, genes, lo, hi)
    rep_s, rep_e, low = _repeats(rng, lo, hi)
    black_s, black_e = _blacklist(rng, length, lo, hi)
    mapability = _mapability(rng, length, lo, hi, (rep_s[low], rep_e[low]), (black_s, black_e))

    # regulatory elements, one per free slot
    slot_s = np.arange(lo, hi - SLOT + 1, SLOT, dtype=np.int64)
    bad = intervals.Coverage.from_intervals(
        np.concatenate([rep_s[low], black_s]), np.concatenate([rep_e[low], black_e])
    )
    free = slot_s[bad.overlap(slot_s, slot_s + SLOT) == 0]
    plan = _element_plan(rng, p, free.size, (hi - lo) / 1e6)
    el = _place_elements(rng, plan, free, motifs)

    # sequence: background, start/stop codons, planted motifs, soft-masking, N telomeres
    codes = _sequence(rng, length, cpg)
    _plant_codons(codes, genes)
    score = _plant_motifs(rng, codes, el, motifs)
    masked = (np.concatenate([rep_s, black_s]), np.concatenate([rep_e, black_e]))
    seq = _to_bases(codes, masked, lo, hi)

    start = el["start"]
    elements = pd.DataFrame(
        {
            "chrom": chrom,
            "start": start,
            "end": start + el["width"],
            "strand": el["strand"],
            "kind": el["kind"],
        }
        | {"tf": el["tf"], "motif": el["motif"], "score": np.round(score, 3), "center": el["center"]}
    )
    return dict(
        seq=seq, mapability=mapability, genes=genes, cpg=cpg, blacklist=(black_s, black_e), elements=elements
    )
