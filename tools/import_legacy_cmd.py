"""``factornet import-legacy DIR --out MODEL.keras``: convert an original FactorNet (Keras 1) model."""

from __future__ import annotations

import sys

from factornet_core.atomic import check_replaceable
from factornet_core.legacy import import_legacy
from factornet_core.wording import plural
from factornet_tools import common


def register(sub) -> None:
    p = common.add_subparser(
        sub,
        "import-legacy",
        run,
        help="convert an original FactorNet model folder (Keras 1.1 / Theano) to a .keras model",
        description="Read an original FactorNet model folder (model.json, best_model.hdf5 or final_model.hdf5, "
        "bigwig.txt, chip.txt, feature.txt, meta.txt) and write one .keras model with its card, ready for "
        "'factornet predict' and 'factornet interpret'. Inputs are hg19 with UCSC chromosome names.",
    )
    p.add_argument("folder", metavar="DIR", help="original FactorNet model folder")
    p.add_argument("-o", "--out", required=True, help="model file to write (.keras)")
    p.add_argument(
        "--weights", help="weights HDF5 to use (default: DIR/best_model.hdf5, else DIR/final_model.hdf5)"
    )
    p.add_argument("--force", action="store_true", help="replace an existing --out model")


def run(args) -> int:
    check_replaceable(args.out, args.force, "-o/--out")
    common.require_files(args.weights, what="weights")
    result = import_legacy(args.folder, args.out, weights=args.weights)
    card = result.card
    cfg = card.config
    print(
        f"wrote {args.out}: {', '.join(card.tfs)} from {result.weights_file.name} "
        f"({plural(result.n_weights, 'weight')}; tracks {', '.join(card.track_names) or 'none'}; "
        f"k={cfg['kernels']} w={cfg['kernel_width']} pool={cfg['pool']} r={cfg['lstm_units']} "
        f"d={cfg['dense_units']}; metadata {card.n_meta})",
        file=sys.stderr,
    )
    return 0
