"""Hostile inputs against every subcommand, table-driven (issue 16): each gives exit 2 and ONE line on
stderr — file-descriptor level, so text that C libraries (libBigWig, htslib) print themselves counts —
naming the problem, and leaves no output behind.

Kinds covered here: numbers a column cannot hold (coordinates beyond int64, non-numeric starts), text
that is not UTF-8 (Latin-1, binary), names that cannot be written (non-ASCII chromosomes), damaged
bigWigs, model files Keras safe mode refuses, duplicated records, out-of-range signal, refused option
values and ``-`` as an output path.
"""

from __future__ import annotations

import gzip
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from testdata import write_bed, write_bigwig, write_fasta

from factornet_tools import cli

MODEL = Path(__file__).parent / "data" / "model-0.1.0.keras"  # seq_len 200, tracks DNASE + MAPABILITY
HUGE = "99999999999999999999"  # > 2**63
PRED = "chr\tstart\tstop\tCTCF\nchr1\t0\t200\t0.1\nchr1\t50\t250\t0.9\nchr1\t100\t300\t0.4\n"
LABELS = "chr\tstart\tstop\tK562\nchr1\t0\t200\tB\nchr1\t50\t250\tU\nchr1\t100\t300\tU\n"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """Small valid inputs every case starts from; a case replaces one of them with its hostile version."""
    d = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(3)
    seq = "".join(rng.choice(list("ACGT"), 3000))
    dnase = rng.gamma(0.5, 2.0, 3000)
    (d / "expression.tsv").write_text(
        "gene_id\tvalue\nSIMG00000001.1\t12.3\nSIMG00000002.1\t0.5\nSIMG00000003.1\t7.25\n"
    )
    (d / "sizes").write_text("chr1\t3000\nchr2\t3000\n")
    files = {
        "dir": d,
        "genome": write_fasta(d / "genome.fa", {"chr1": seq, "chr2": seq[::-1]}),
        "DNASE": write_bigwig(d / "dnase.bw", {"chr1": dnase, "chr2": dnase}),
        "MAPABILITY": write_bigwig(d / "map.bw", {"chr1": np.ones(3000), "chr2": np.ones(3000)}),
        "expression": d / "expression.tsv",
        "sizes": d / "sizes",
        "peaks": write_bed(d / "peaks.bed", [("chr1", 1000, 1300), ("chr2", 500, 900)]),
        "pred": _gz(d / "pred.tsv.gz", PRED),
        "pred2": _gz(d / "pred2.tsv.gz", PRED),
        "labels": _gz(d / "labels.tsv.gz", LABELS),
    }
    sheet = d / "sheet.tsv"
    sheet.write_text(
        "cell_type\tkind\tname\tpath\n"
        f"K562\ttrack\tDNASE\t{files['DNASE']}\nK562\ttrack\tMAPABILITY\t{files['MAPABILITY']}\n"
        f"K562\tconservative\tCTCF\t{files['peaks']}\n"
    )
    files["sheet"] = sheet
    return files


def _gz(path: Path, text: str | bytes) -> Path:
    with gzip.open(path, "wb") as handle:
        handle.write(text.encode() if isinstance(text, str) else text)
    return path


def _tampered_model(path: Path, *edits: tuple[str, str]) -> Path:
    """The test model with each ``(old, new)`` replaced in its Keras ``config.json`` (card untouched)."""
    with zipfile.ZipFile(MODEL) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "config.json":
                for old, new in edits:
                    assert old.encode() in data
                    data = data.replace(old.encode(), new.encode())
            dst.writestr(item, data)
    return path


def _tampered_card(path: Path, card: bytes) -> Path:
    with zipfile.ZipFile(MODEL) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, card if item.filename == "factornet_card.json" else src.read(item))
    return path


STRAND_FLIP = '"module": "factornet_core.model", "class_name": "StrandFlip"'


def _predict(f, tmp: Path, *extra: str, model: Path = MODEL, dnase: Path | None = None) -> list[str]:
    return [
        "predict", "--model", str(model), "--genome", str(f["genome"]), "--chroms", "chr1",
        "--track", f"DNASE={dnase or f['DNASE']}", "--track", f"MAPABILITY={f['MAPABILITY']}",
        "--expression", str(f["expression"]), "-o", str(tmp / "out.tsv.gz"), "--quiet", *extra,
    ]  # fmt: skip


def _bigwig_with(tmp: Path, values: dict[int, float]) -> Path:
    signal = np.ones(3000)
    for pos, value in values.items():
        signal[pos] = value
    return write_bigwig(tmp / "odd.bw", {"chr1": signal, "chr2": signal})


# Each case: (id, build(inputs, tmp) -> argv, words the one line must contain)
Case = tuple[str, Callable[[dict, Path], list[str]], tuple[str, ...]]
CASES: list[Case] = [
    # ---- numbers a column cannot hold
    ("bin-peaks-int64", lambda f, t: ["bin", "--chrom-sizes", str(f["sizes"]), "--conservative",
        str(write_bed(t / "p.bed", [("chr1", HUGE, HUGE + "1")])), "--out-labels", str(t / "out.tsv")],
        ("p.bed:1", "integer")),
    ("predict-bins-int64", lambda f, t: _predict(f, t, "--bins",
        str(write_bed(t / "b.bed", [("chr1", 0, 200), ("chr1", HUGE, HUGE)]))), ("b.bed:2",)),
    ("evaluate-pred-int64", lambda f, t: ["evaluate", "--predictions",
        str(_gz(t / "p.tsv.gz", PRED + f"chr1\t{HUGE}\t{HUGE}\t0.5\n")), "--labels", str(f["labels"]),
        "--out-prefix", str(t / "out")], ("p.tsv.gz:5", "start")),
    ("bag-pred-int64", lambda f, t: ["bag", str(f["pred"]),
        str(_gz(t / "p.tsv.gz", PRED.replace("\t0\t200", f"\t{HUGE}\t{HUGE}"))), "--out", str(t / "out.tsv")],
        ("p.tsv.gz:2",)),
    ("merge-pred-int64", lambda f, t: ["merge", str(f["pred"]),
        str(_gz(t / "p.tsv.gz", PRED.replace("chr1", "chr2").replace("\t0\t200", f"\t{HUGE}\t{HUGE}"))),
        "--out", str(t / "out.tsv")], ("p.tsv.gz:2",)),
    ("call-pred-int64", lambda f, t: ["call", str(_gz(t / "p.tsv.gz", PRED + f"chr1\t{HUGE}\t{HUGE}\t0.5\n")),
        "--threshold", "0.5", "-o", str(t / "out.narrowPeak")], ("p.tsv.gz:5",)),
    ("evaluate-labels-int64", lambda f, t: ["evaluate", "--predictions", str(f["pred"]), "--labels",
        str(_gz(t / "l.tsv.gz", LABELS + f"chr1\t{HUGE}\t{HUGE}\tU\n")), "--out-prefix", str(t / "out")],
        ("l.tsv.gz:5", "start")),
    ("evaluate-labels-nonnumeric", lambda f, t: ["evaluate", "--predictions", str(f["pred"]), "--labels",
        str(_gz(t / "l.tsv.gz", LABELS.replace("\t50\t", "\tfifty\t"))), "--out-prefix", str(t / "out")],
        ("l.tsv.gz:3", "'fifty'")),
    # ---- text that is not UTF-8, names that cannot be written
    ("bin-sizes-latin1", lambda f, t: ["bin", "--chrom-sizes", str(_write(t / "s", "chr1\t3000\nchr\xe9\t9\n",
        "latin-1")), "--out-labels", str(t / "out.tsv")], ("s:2", "not UTF-8", "0xe9")),
    ("bin-sizes-binary", lambda f, t: ["bin", "--chrom-sizes", str(_write(t / "s", bytes(range(256)) * 4)),
        "--out-labels", str(t / "out.tsv")], ("s:2", "not UTF-8")),
    ("bin-nonascii-chrom", lambda f, t: ["bin", "--chrom-sizes", str(_write(t / "s", "chr\xe9\t3000\n")),
        "--out-bins", str(t / "out.bed")], ("'chr\xe9'", "ASCII")),
    ("bin-sheet-latin1", lambda f, t: ["bin", "--chrom-sizes", str(f["sizes"]), "--samplesheet",
        str(_write(t / "sheet.tsv", f["sheet"].read_text().replace("K562", "K\xe9562"), "latin-1")),
        "--out-labels", str(t / "out.tsv")], ("sheet.tsv:2", "not UTF-8")),
    ("evaluate-labels-latin1", lambda f, t: ["evaluate", "--predictions", str(f["pred"]), "--labels",
        str(_gz(t / "l.tsv.gz", LABELS.replace("K562", "K\xe9562").encode("latin-1"))),
        "--out-prefix", str(t / "out")], ("l.tsv.gz:1", "not UTF-8")),
    ("evaluate-labels-binary", lambda f, t: ["evaluate", "--predictions", str(f["pred"]), "--labels",
        str(_write(t / "l.tsv", bytes(range(256)) * 8)), "--out-prefix", str(t / "out")], ("l.tsv:", "not UTF-8")),
    # ---- damaged bigWigs: libBigWig's own lines must not show
    ("predict-bigwig-garbage", lambda f, t: _predict(f, t, dnase=_write(t / "g.bw", bytes(range(256)) * 12)),
        ("track 'DNASE'", "g.bw", "not a bigWig file")),
    ("predict-bigwig-empty", lambda f, t: _predict(f, t, dnase=_write(t / "e.bw", b"")),
        ("e.bw", "empty file")),
    ("predict-bigwig-truncated", lambda f, t: _predict(f, t, dnase=_write(t / "t.bw",
        f["DNASE"].read_bytes()[:2000])), ("t.bw", "truncated")),
    ("prepare-bigwig-garbage", lambda f, t: ["prepare", "--bigwig", str(_write(t / "g.bw", bytes(range(256)))),
        "--chrom-sizes", str(f["sizes"]), "-o", str(t / "out.bw"), "--quiet"], ("g.bw", "not a bigWig file")),
    ("train-bigwig-truncated", lambda f, t: ["train", "--samplesheet", str(_sheet_with(f, t, _write(t / "t.bw",
        f["DNASE"].read_bytes()[:2000]))), "--genome", str(f["genome"]), "-v", "chr2", "-o", str(t / "m.keras"),
        "-e", "1"], ("track 'DNASE'", "t.bw", "truncated")),
    ("motifs-bigwig-empty", lambda f, t: ["interpret", "motifs", "--model", str(MODEL), "--genome",
        str(f["genome"]), "--track", f"DNASE={_write(t / 'e.bw', b'')}", "--track", f"MAPABILITY={f['MAPABILITY']}",
        "--regions", str(write_bed(t / "r.bed", [("chr1", 900, 1100)])), "--out-dir", str(t / "mot")],
        ("e.bw", "empty file")),
    # ---- out-of-range signal, refused before work
    ("predict-negative-signal", lambda f, t: _predict(f, t, dnase=_bigwig_with(t, {7: -2.5})),
        ("track 'DNASE'", "-2.5", "negative")),
    ("predict-infinite-signal", lambda f, t: _predict(f, t, dnase=_bigwig_with(t, {7: np.inf})),
        ("track 'DNASE'", "inf")),
    ("train-float16-overflow", lambda f, t: ["train", "--samplesheet", str(_sheet_with(f, t,
        _bigwig_with(t, {7: 220000.0}))), "--genome", str(f["genome"]), "-v", "chr2", "-o",
        str(t / "m.keras"), "--mixed-precision", "-e", "1"], ("track 'DNASE'", "220000", "65504")),
    # ---- model files Keras safe mode refuses: one line, not a config dump
    ("predict-model-os-system", lambda f, t: _predict(f, t, model=_tampered_model(t / "m.keras",
        (STRAND_FLIP, '"module": "os", "class_name": "system"'), ('"factornet>StrandFlip"', '"os>system"'))),
        ("m.keras", "refused")),
    ("predict-model-unknown-class", lambda f, t: _predict(f, t, model=_tampered_model(t / "m.keras",
        ("factornet>StrandFlip", "evil>Layer"))), ("m.keras", "refused")),
    # ---- duplicated records
    ("predict-bins-duplicate", lambda f, t: _predict(f, t, "--bins", str(write_bed(t / "b.bed",
        [("chr1", 0, 200), ("chr1", 50, 250), ("chr1", 0, 200)]))), ("chr1:0-200", "b.bed", "rows 1 and 3")),
    ("evaluate-pred-duplicate", lambda f, t: ["evaluate", "--predictions",
        str(_gz(t / "p.tsv.gz", PRED + "chr1\t50\t250\t0.9\n")), "--labels", str(f["labels"]),
        "--out-prefix", str(t / "out")], ("chr1:50-250", "p.tsv.gz:5", "twice")),
    ("bag-pred-duplicate", lambda f, t: ["bag", str(f["pred"]), str(_gz(t / "p.tsv.gz",
        PRED + "chr1\t0\t200\t0.3\n")), "--out", str(t / "out.tsv")], ("chr1:0-200", "p.tsv.gz:5")),
    ("merge-pred-duplicate", lambda f, t: ["merge", str(_gz(t / "p.tsv.gz", PRED + "chr1\t0\t200\t0.3\n")),
        "--out", str(t / "out.tsv")], ("chr1:0-200", "p.tsv.gz:5")),
    ("call-pred-duplicate", lambda f, t: ["call", str(_gz(t / "p.tsv.gz", PRED + "chr1\t100\t300\t0.2\n")),
        "--threshold", "0.3", "-o", str(t / "out.narrowPeak")], ("chr1:100-300", "p.tsv.gz:5")),
    ("evaluate-labels-duplicate", lambda f, t: ["evaluate", "--predictions", str(f["pred"]), "--labels",
        str(_gz(t / "l.tsv.gz", LABELS + "chr1\t0\t200\tU\n")), "--out-prefix", str(t / "out")],
        ("chr1:0-200", "l.tsv.gz:5", "twice")),
    ("saliency-regions-duplicate", lambda f, t: ["interpret", "saliency", "--model", str(MODEL), "--genome",
        str(f["genome"]), "--track", f"DNASE={f['DNASE']}", "--track", f"MAPABILITY={f['MAPABILITY']}",
        "--expression", str(f["expression"]), "--regions", str(write_bed(t / "r.bed", [("chr1", 900, 1100, "a"),
        ("chr1", 900, 1100, "b")])), "--out-dir", str(t / "sal")], ("r.bed", "chr1:900-1100", "twice")),
    ("motifs-regions-int64", lambda f, t: ["interpret", "motifs", "--model", str(MODEL), "--genome",
        str(f["genome"]), "--track", f"DNASE={f['DNASE']}", "--track", f"MAPABILITY={f['MAPABILITY']}",
        "--regions", str(write_bed(t / "r.bed", [("chr1", HUGE, HUGE)])), "--out-dir", str(t / "mot")],
        ("r.bed:1", "integer")),
    ("impute-bigwig-garbage", lambda f, t: ["impute", "--models", str(MODEL), "--genome", str(f["genome"]),
        "--track", f"DNASE={_write(t / 'g.bw', bytes(range(256)) * 12)}", "--track",
        f"MAPABILITY={f['MAPABILITY']}", "--expression", str(f["expression"]), "-o", str(t / "out.tsv"),
        "--quiet"], ("g.bw", "not a bigWig file")),
    ("inspect-card-not-json", lambda f, t: ["inspect", str(_tampered_card(t / "m.keras", b"{oops"))],
        ("m.keras", "card")),
    ("inspect-card-list", lambda f, t: ["inspect", str(_tampered_card(t / "m.keras", b"[]"))],
        ("m.keras", "card")),
    # ---- option values that must be refused
    ("train-lr-zero", lambda f, t: ["train", "--samplesheet", str(f["sheet"]), "--genome", str(f["genome"]),
        "-o", str(t / "m.keras"), "-lr", "0"], ("-lr", "positive")),
    ("train-lr-negative", lambda f, t: ["train", "--samplesheet", str(f["sheet"]), "--genome",
        str(f["genome"]), "-o", str(t / "m.keras"), "-lr", "-0.01"], ("-lr", "positive")),
    ("train-seq-len-huge", lambda f, t: ["train", "--samplesheet", str(f["sheet"]), "--genome",
        str(f["genome"]), "-o", str(t / "m.keras"), "-L", "1000000000"], ("-L", "100000")),
    ("train-model-to-stdout", lambda f, t: ["train", "--samplesheet", str(f["sheet"]), "--genome",
        str(f["genome"]), "-o", "-"], ("--out '-'", "standard output")),
    ("evaluate-prefix-to-stdout", lambda f, t: ["evaluate", "--predictions", str(f["pred"]), "--labels",
        str(f["labels"]), "--out-prefix", "-"], ("--out-prefix '-'", "standard output")),
]  # fmt: skip


def _write(path: Path, content: str | bytes, encoding: str = "utf-8") -> Path:
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return path


def _sheet_with(f, tmp: Path, dnase: Path) -> Path:
    sheet = tmp / "sheet.tsv"
    sheet.write_text(f["sheet"].read_text().replace(str(f["DNASE"]), str(dnase)))
    return sheet


@pytest.mark.parametrize("build, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_input_is_one_line_and_no_output(inputs, tmp_path, capfd, build, words):
    argv = build(inputs, tmp_path)
    before = set(tmp_path.iterdir())
    rc = cli.main(argv)
    out, err = capfd.readouterr()
    lines = err.strip("\n").splitlines()
    assert rc == 2, err
    assert len(lines) == 1, err
    sub = " ".join(argv[:2]) if argv[0] in ("interpret", "models") else argv[0]
    assert lines[0].startswith(f"factornet {sub}: error: "), err
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert out == ""
    assert set(tmp_path.iterdir()) == before  # nothing written, not even a temporary file


# --------------------------------------------------------------------------------------------- "-" = stdout
def test_dash_output_writes_the_table_to_stdout(inputs, tmp_path, capfd):
    """bag/merge/call/bin with ``-`` print exactly the bytes the same run writes to a plain file."""
    runs = {
        "bag": ["bag", str(inputs["pred"]), str(inputs["pred2"]), "--out"],
        "merge": ["merge", str(inputs["pred"]), "--out"],
        "call": ["call", str(inputs["pred"]), "--threshold", "0.3", "-o"],
        "bin": ["bin", "--chrom-sizes", str(inputs["sizes"]), "--conservative", str(inputs["peaks"]),
                "--out-labels"],
    }  # fmt: skip
    for name, argv in runs.items():
        assert cli.main([*argv, str(tmp_path / f"{name}.txt")]) == 0
        capfd.readouterr()
        assert cli.main([*argv, "-"]) == 0
        out, err = capfd.readouterr()
        assert "factornet-stdout" not in err  # messages name the output as the user gave it
        want = (tmp_path / f"{name}.txt").read_text()
        assert want.count("\n") >= 1 and out == want, name
    assert not (Path.cwd() / "-").exists()
    assert cli.main([*runs["call"], "-"]) == 0
    assert "wrote standard output" in capfd.readouterr().err


def test_duplicated_peaks_count_once(inputs, tmp_path):
    """Peaks are unions of intervals (bin labels, evaluate --peaks, blacklists): a peak given twice
    labels exactly as when given once."""
    once = write_bed(tmp_path / "once.bed", [("chr1", 1000, 1300)])
    twice = write_bed(tmp_path / "twice.bed", [("chr1", 1000, 1300), ("chr1", 1000, 1300)])
    for name, peaks in (("once", once), ("twice", twice)):
        argv = ["bin", "--chrom-sizes", str(inputs["sizes"]), "--conservative", str(peaks)]
        assert cli.main([*argv, "--out-labels", str(tmp_path / f"{name}.tsv")]) == 0
    once_t, twice_t = (pd.read_csv(tmp_path / f"{n}.tsv", sep="\t") for n in ("once", "twice"))
    assert (once_t["CELL"] == "B").sum() == 5 and once_t.equals(twice_t)


def test_tampered_keras_config_is_not_json(tmp_path, capfd):
    bad = tmp_path / "m.keras"
    with zipfile.ZipFile(MODEL) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, b"{not json" if item.filename == "config.json" else src.read(item))
    assert json.loads(zipfile.ZipFile(MODEL).read("config.json"))  # the original is fine
    from factornet_core import FactorNetError
    from factornet_core.modelfile import load_model

    with pytest.raises(FactorNetError) as info:
        load_model(bad)
    assert "\n" not in str(info.value) and "m.keras" in str(info.value)
