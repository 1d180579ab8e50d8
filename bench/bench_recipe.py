"""The measured recipe: held-out auPR of FactorNet (3 seeds per setting) against the four baselines.

On the project's own simulation (:func:`factornet_core.recipe.prepare`: 4 chromosomes x 1 Mb, 400 bound
CTCF sites per Mb, open unbound elements outnumbering bound sites), CTCF is trained in CellA and CellB
(chr1-chr2 train, chr3 validates) and scored in CellC on chr4, never trained on:

* **random init**: one model per seed, kernels initialised at random;
* **motif init**: two kernels initialised from the planted CTCF motif (forward and reverse complement);
* **bagged**: the rank average of the motif-initialised seeds;
* the baselines ``pwm``, ``accessibility``, ``pwm_x_accessibility`` and ``gbm`` (one run each; gbm is
  deterministic given its seed).

Prints one table: setting, auPR mean ± sd over seeds (and each seed's value), auROC mean.

Usage::

    python bench/bench_recipe.py [--out DIR] [--seeds 1,2,3] [--epochs 12] [--settings random,motif]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    from factornet_core import bagging, recipe

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="work folder (default: a temporary one)")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--settings", default="random,motif", help="which initialisations to train")
    parser.add_argument("--sites-per-mb", type=float, default=None)
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="bench_recipe_"))
    out.mkdir(parents=True, exist_ok=True)
    s = recipe.RecipeSettings()
    if args.epochs is not None:
        s.epochs = args.epochs
    if args.sites_per_mb is not None:
        s.sites_per_mb = args.sites_per_mb
    seeds = [int(x) for x in args.seeds.split(",")]
    t0 = time.perf_counter()
    p = recipe.prepare(out, s)
    files = dict(recipe.baselines(p, out, s))
    groups: dict[str, list[str]] = {m: [m] for m in recipe.BASELINES}
    for setting in args.settings.split(","):
        preds = []
        for seed in seeds:
            t = time.perf_counter()
            _, pred, res = recipe.train_and_predict(p, out, s, seed, motif_init=setting == "motif")
            name = f"{setting} init, seed {seed}"
            files[name] = pred
            preds.append(pred)
            groups.setdefault(f"{setting} init", []).append(name)
            single = recipe.score(p, {name: pred}, out / f"eval.{setting}.seed{seed}", s).table
            best = res.history[res.best_epoch - 1]
            print(
                f"{name}: held-out auPR {single['auprc'].iloc[0]:.3f}, {time.perf_counter() - t:.0f} s, "
                f"{res.n_train} samples/epoch; best epoch {res.best_epoch} (val_auPR {best['val_auPR']:.3f}, "
                f"val_loss {best['val_loss']:.3f})",
                flush=True,
            )
        bagged = out / f"{setting}.bagged.tsv.gz"
        bagging.bag_prediction_files(preds, bagged)
        files[f"{setting} bagged"] = bagged
        groups[f"{setting} bagged ({len(seeds)} seeds)"] = [f"{setting} bagged"]
    table = recipe.score(p, files, out / "recipe", s).table.set_index("model")
    print(f"\nheld-out: CTCF in {s.target_cell} on {s.test_chrom}; {s.epochs} epochs, batch {s.batch_size}, "
          f"lr {s.learning_rate}, negatives {s.negatives} (open {s.open_negatives}), {s.arch}")  # fmt: skip
    print(f"{'setting':32s} {'auPR mean ± sd':>16s}  {'auROC':>6s}  per seed")
    for group, names in groups.items():
        a = table.loc[names, "auprc"].to_numpy()
        r = table.loc[names, "auroc"].to_numpy()
        sd = f"{a.std(ddof=1):.3f}" if a.size > 1 else "  -  "
        each = " ".join(f"{v:.3f}" for v in a) if a.size > 1 else ""
        print(f"{group:32s} {a.mean():8.3f} ± {sd}  {r.mean():6.3f}  {each}")
    print(f"total {time.perf_counter() - t0:.0f} s; outputs in {out}")


if __name__ == "__main__":
    main()
