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
        motif = card.motif_init_summary()
        if motif:  # cards written before motif initialisation was the default do not say
            lines.append(f"motif init     {motif}")
    print("\n".join(lines))
    return 0
