"""``factornet inspect MODEL``: print a model's FactorNet card."""

from __future__ import annotations

import sys

from factornet_core.modelfile import read_card
from factornet_tools import common


def register(sub) -> None:
    p = common.add_subparser(
        sub,
        "inspect",
        run,
        help="print a model file's FactorNet card",
        description="Print the card stored in a .keras model: tracks, TFs, sequence length, features, training.",
    )
    p.add_argument("model", help="model file (.keras)")
    p.add_argument("--json", action="store_true", help="print the whole card as JSON")


def run(args) -> int:
    common.require_files(args.model, what="model")
    card = read_card(args.model)
    if args.json:
        sys.stdout.write(card.to_json() + "\n")
        return 0
    cfg = card.config
    training = card.training
    lines = [
        f"model          {args.model}",
        f"made by        factornet {card.factornet_version} ({card.provenance.get('created_by', '?')})",
        f"card           version {card.card_version}",
        f"mode           {card.mode}",
        f"TFs            {', '.join(card.tfs)}",
        f"tracks         {', '.join(card.track_names)}",
        f"track norms    {', '.join(f'{t}={r}' for t, r in card.track_norms.items())} (per cell type)",
        f"sequence       {card.seq_len} bp; bins {card.bin_size} bp stepping {card.bin_stride} bp",
        f"architecture   k={cfg.get('kernels')} w={cfg.get('kernel_width')} pool={cfg.get('pool')} "
        f"r={cfg.get('lstm_units')} d={cfg.get('dense_units')} dropout={cfg.get('dropout')}",
        f"metadata       {', '.join(card.metadata_names) or 'none'}",
        f"chromosomes    {card.chrom_naming or 'unknown'} naming",
    ]
    if training:
        lines += [
            f"trained on     {', '.join(training.get('cells', []))}; chromosomes {', '.join(training.get('train_chroms', []))}",
            f"validation     {', '.join(training.get('valid_chroms', []))}"
            f"{'; cell ' + training['valid_cell'] if training.get('valid_cell') else ''}",
            f"epochs         best {training.get('best_epoch')} of {training.get('epochs_run')}"
            f"{' (stopped early)' if training.get('stopped_early') else ''}; seed {training.get('seed')}",
        ]
        if "motif_init" in training:  # cards written before motif initialisation was the default lack it
            lines.append(f"motif init     {_motif_init(training)}")
    print("\n".join(lines))
    return 0


def _motif_init(training) -> str:
    """Where kernels 0/1 started: the motif (JASPAR matrix ID, name, release, or a MEME file) or random."""
    if not training.get("motif_init"):
        return "none, random kernels" + (
            f" ({training['motif_init_note']})" if training.get("motif_init_note") else ""
        )
    src = training.get("motif_source") or {}
    if src.get("source") == "JASPAR":
        return f"kernels 0/1 from JASPAR {src.get('matrix_id')} {src.get('name')} ({src.get('release')})"
    return f"kernels 0/1 from {src.get('name')} in {src.get('file')}"
