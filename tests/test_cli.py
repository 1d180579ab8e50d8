"""factornet_tools.cli: exit codes, one-line errors without tracebacks, --version."""

from __future__ import annotations

import pytest

from factornet_core import __version__
from factornet_tools.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"factornet {__version__}"


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["bin", "--chrom-sizes", "{tmp}/missing.sizes"],
            "chromosome sizes file '{tmp}/missing.sizes' does not exist",
        ),
        (
            [
                "evaluate",
                "--predictions",
                "{tmp}/p.tsv",
                "--labels",
                "{tmp}/l.tsv",
                "--out-prefix",
                "{tmp}/e",
            ],
            "does not exist",
        ),
        (["bag", "{tmp}/a.tsv", "{tmp}/b.tsv", "--out", "{tmp}/c.tsv"], "does not exist"),
        (["inspect", "{tmp}/m.keras"], "does not exist"),
        (
            [
                "predict",
                "--model",
                "{tmp}/m.keras",
                "--genome",
                "{tmp}/g.fa",
                "-o",
                "{tmp}/o.tsv",
                "--cell",
                "A",
            ],
            "model file '{tmp}/m.keras' does not exist",
        ),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(tmp_path, capsys, argv, message):
    argv = [a.format(tmp=tmp_path) for a in argv]
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1, err  # one line, no traceback
    assert err[0].startswith(f"factornet {argv[0]}: error: ")
    assert message.format(tmp=tmp_path) in err[0]


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["inspect", "m.keras", "--no-such-flag"])
    assert exc.value.code == 2
    assert "factornet inspect: error: unrecognized arguments: --no-such-flag" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--samplesheet", "{tmp}/s.tsv", "--genome", "{tmp}/g.fa", "-o", "{tmp}/m.keras"],
        ["import-legacy", "{tmp}/legacy", "-o", "{tmp}/m.keras"],
    ],
)
def test_an_existing_model_is_not_replaced_without_force(tmp_path, capsys, argv):
    """A model costs hours to make: -o refuses an existing file (as folders refuse without --force)."""
    model = tmp_path / "m.keras"
    model.write_bytes(b"a model trained yesterday")
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"factornet {argv[0]}: error: -o/--out {str(model)!r} exists: use --force to replace it, or choose "
        "another path"
    ]
    assert model.read_bytes() == b"a model trained yesterday"
    # with --force the check passes and the run goes on to its next (here: missing input) error
    assert main([*argv, "--force"]) == 2
    assert "exists: use --force" not in capsys.readouterr().err
    assert model.read_bytes() == b"a model trained yesterday"  # nothing replaced by a failed run


def test_resuming_an_interrupted_retraining_needs_no_force(tmp_path, capsys):
    (tmp_path / "m.keras").write_bytes(b"old model")
    argv = ["train", "--samplesheet", f"{tmp_path}/s.tsv", "--genome", f"{tmp_path}/g.fa", "-o"]
    assert main([*argv, str(tmp_path / "m.keras"), "--resume"]) == 2  # no checkpoint folder: refused
    assert "exists: use --force" in capsys.readouterr().err
    (tmp_path / "m.keras.resume").mkdir()
    assert main([*argv, str(tmp_path / "m.keras"), "--resume"]) == 2  # next error: the missing samplesheet
    assert "samplesheet file" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["evaluate", "--predictions", "a", "--peaks", "b", "--out-prefix", "x", "--bogus"],
                                  ["bag", "a", "b", "--out", "c", "--zzz"]])  # fmt: skip
def test_unknown_option_is_reported_by_the_subcommand(argv, capsys):
    """An option the subcommand lacks is its usage error ("factornet evaluate: error: ..."), not the top
    level's ("factornet: error: ...", with the top-level usage that does not show the subcommand's options)."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.strip().splitlines()[-1] == f"factornet {argv[0]}: error: unrecognized arguments: {argv[-1]}"
    assert err.startswith(f"usage: factornet {argv[0]} ")


# ------------------------------------------------------------------- interpret: the cell type in titles
@pytest.fixture(scope="module")
def interpret_files(tmp_path_factory):
    from test_motifs import planted_genome, save_small_model, small_model

    tmp = tmp_path_factory.mktemp("interpret")
    net, cfg = small_model()
    model = save_small_model(net, cfg, tmp / "m.keras")
    fasta, bw, bed, _, _ = planted_genome(tmp, n_sites=3, length=4000)
    sheet = tmp / "samples.tsv"
    sheet.write_text(f"cell_type\tkind\tname\tpath\nK562\ttrack\tDNASE\t{bw}\n")
    return {"model": model, "fasta": fasta, "bw": bw, "bed": bed, "sheet": sheet}


def _png_title(path) -> str:
    from PIL import Image

    with Image.open(path) as image:
        return image.text["Title"]


@pytest.mark.parametrize(
    "cell_args, where",
    [
        (["--track", "DNASE={bw}", "--cell-name", "HepG2 (liver)"], "HepG2 (liver)"),
        (["--track", "DNASE={bw}"], "tracks dnase.bw"),  # no name: the track files
        (["--samplesheet", "{sheet}", "--cell", "K562"], "K562"),
        (["--samplesheet", "{sheet}", "--cell", "K562", "--cell-name", "K-562 "], "K-562"),
    ],
)
def test_interpret_motifs_titles_name_the_cell_type(interpret_files, tmp_path, cell_args, where):
    f = interpret_files
    out = tmp_path / "out"
    argv = ["interpret", "motifs", "--model", str(f["model"]), "--genome", str(f["fasta"])]
    argv += ["--regions", str(f["bed"]), "--out-dir", str(out)]
    argv += [a.format(bw=f["bw"], sheet=f["sheet"]) for a in cell_args]
    assert main(argv) == 0
    subject = f"CTCF model m.keras in {where}: 3 regions of {f['bed'].name}"
    assert _png_title(out / "kernels_heatmap.png").startswith(f"{subject}; ")
    assert _png_title(out / "kernel_track_profiles.png").startswith(f"{subject}; ")
    assert _png_title(out / "logos" / "kernel_00.png").startswith(f"{subject}; kernel_00: IC ")


def test_interpret_saliency_cell_name_titles_every_region(interpret_files, tmp_path):
    f = interpret_files
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t1000\t1100\tpeak1\n")
    out = tmp_path / "out"
    argv = ["interpret", "saliency", "--model", str(f["model"]), "--genome", str(f["fasta"])]
    argv += [
        "--track",
        f"DNASE={f['bw']}",
        "--cell-name",
        "HepG2",
        "--regions",
        str(bed),
        "--out-dir",
        str(out),
    ]
    assert main(argv) == 0
    assert _png_title(out / "saliency.peak1.png").startswith(
        "CTCF model m.keras in HepG2: saliency, gradient × input (negatives drawn as 0): peak1 chr1:1000-1100, "
        "model score "
    )


def test_no_motif_init_help_says_the_motif_is_the_default():
    """It read as if random kernels were the default ('... instead of from the TF's motif (the default)')."""
    from factornet_tools.cli import build_parser

    parser = build_parser(["train"])
    train = parser.get_default("_subparsers")["train"]
    (action,) = [a for a in train._actions if "--no-motif-init" in a.option_strings]
    assert (
        action.help
        == "single-task: start every kernel at random (by default kernels 0/1 start from the TF's motif)"
    )
