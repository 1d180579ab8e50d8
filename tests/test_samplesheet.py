"""factornet_core.samplesheet: the TSV samplesheet and the original FactorNet folder layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from factornet_core.errors import FactorNetError
from factornet_core.samplesheet import read_samplesheet, write_samplesheet

HEADER = "cell_type\tkind\tname\tpath\n"


def _touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("x\n")


def _sheet(folder: Path, body: str, header: str = HEADER) -> Path:
    path = folder / "samples.tsv"
    path.write_text(header + body)
    return path


@pytest.fixture
def data(tmp_path) -> Path:
    _touch(
        tmp_path,
        "HepG2.dnase.bw",
        "shared/map.bw",
        "K562.dnase.bw",
        "HepG2.CTCF.cons.bed.gz",
        "HepG2.CTCF.relaxed.bed.gz",
        "K562.CTCF.cons.bed.gz",
        "HepG2.REST.cons.bed.gz",
        "HepG2.expr.tsv",
        "K562.expr.tsv",
        "HepG2.CTCF.labels.tsv.gz",
    )
    return tmp_path


GOOD = (
    "# comment line\n"
    "HepG2\ttrack\tDNASE\tHepG2.dnase.bw\n"
    "HepG2\ttrack\tMAPABILITY\tshared/map.bw\n"
    "HepG2\tconservative\tCTCF\tHepG2.CTCF.cons.bed.gz\n"
    "HepG2\trelaxed\tCTCF\tHepG2.CTCF.relaxed.bed.gz\n"
    "HepG2\tconservative\tREST\tHepG2.REST.cons.bed.gz\n"
    "HepG2\tlabels\tCTCF\tHepG2.CTCF.labels.tsv.gz\n"
    "HepG2\texpression\t.\tHepG2.expr.tsv\n"
    "\n"
    "K562\ttrack\tMAPABILITY\tshared/map.bw\n"  # other order: the first cell type's order wins
    "K562\ttrack\tDNASE\tK562.dnase.bw\n"
    "K562\tconservative\tCTCF\tK562.CTCF.cons.bed.gz\n"
    "K562\texpression\t.\tK562.expr.tsv\n"
)


def test_good_sheet_with_relative_paths(data, monkeypatch, tmp_path_factory):
    path = _sheet(data, GOOD)
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))  # paths are relative to the sheet, not the cwd
    sheet = read_samplesheet(path)
    assert list(sheet.cells) == ["HepG2", "K562"]
    assert sheet.track_names == ["DNASE", "MAPABILITY"]
    assert sheet.tfs == ["CTCF", "REST"]
    assert sheet.cells_with_tf("CTCF") == ["HepG2", "K562"]
    assert sheet.cells_with_tf("REST") == ["HepG2"]
    hep, k562 = sheet.cell("HepG2"), sheet.cell("K562")
    assert hep.tracks == {"DNASE": data / "HepG2.dnase.bw", "MAPABILITY": data / "shared" / "map.bw"}
    assert list(k562.tracks) == ["DNASE", "MAPABILITY"]
    assert k562.tracks["DNASE"] == data / "K562.dnase.bw"
    assert hep.relaxed == {"CTCF": data / "HepG2.CTCF.relaxed.bed.gz"}
    assert hep.labels == {"CTCF": data / "HepG2.CTCF.labels.tsv.gz"}
    assert hep.expression == data / "HepG2.expr.tsv"
    assert hep.tfs == ["CTCF", "REST"] and k562.relaxed == {}
    with pytest.raises(
        FactorNetError, match=r"cell type 'GM12878' is not in samplesheet .*\(it has: HepG2, K562\)"
    ):
        sheet.cell("GM12878")


def test_write_samplesheet_round_trip(data):
    rows = [("C", "track", "DNASE", "HepG2.dnase.bw"), ("C", "conservative", "CTCF", "K562.CTCF.cons.bed.gz")]
    write_samplesheet(data / "w.tsv", rows)
    assert (data / "w.tsv").read_text() == HEADER + "".join("\t".join(r) + "\n" for r in rows)
    sheet = read_samplesheet(data / "w.tsv")
    assert sheet.cells["C"].conservative == {"CTCF": data / "K562.CTCF.cons.bed.gz"}


def test_rows_give_every_entry_back_in_order_and_by_kind(data):
    _touch(data, "K562.rep1.bam", "K562.rep2.bam")
    reps = "K562\tbam\tDNASE\tK562.rep1.bam\nK562\tbam\tDNASE\tK562.rep2.bam\n"
    sheet = read_samplesheet(_sheet(data, GOOD + reps))
    d = data
    assert sheet.rows() == [
        ("HepG2", "track", "DNASE", d / "HepG2.dnase.bw"),
        ("HepG2", "track", "MAPABILITY", d / "shared" / "map.bw"),
        ("HepG2", "conservative", "CTCF", d / "HepG2.CTCF.cons.bed.gz"),
        ("HepG2", "conservative", "REST", d / "HepG2.REST.cons.bed.gz"),
        ("HepG2", "relaxed", "CTCF", d / "HepG2.CTCF.relaxed.bed.gz"),
        ("HepG2", "labels", "CTCF", d / "HepG2.CTCF.labels.tsv.gz"),
        ("HepG2", "expression", ".", d / "HepG2.expr.tsv"),
        ("K562", "track", "DNASE", d / "K562.dnase.bw"),  # the first cell type's track order
        ("K562", "track", "MAPABILITY", d / "shared" / "map.bw"),
        ("K562", "bam", "DNASE", d / "K562.rep1.bam"),  # replicates in samplesheet order
        ("K562", "bam", "DNASE", d / "K562.rep2.bam"),
        ("K562", "conservative", "CTCF", d / "K562.CTCF.cons.bed.gz"),
        ("K562", "expression", ".", d / "K562.expr.tsv"),
    ]
    assert [r[3].name for r in sheet.rows("bam")] == ["K562.rep1.bam", "K562.rep2.bam"]
    assert sheet.rows("relaxed", "labels") == [sheet.rows()[4], sheet.rows()[5]]
    assert sheet.cell("K562").rows("expression") == [("K562", "expression", ".", d / "K562.expr.tsv")]
    write_samplesheet(d / "again.tsv", sheet.rows())  # what write_samplesheet takes: the same sheet back
    assert read_samplesheet(d / "again.tsv").cells == sheet.cells
    with pytest.raises(ValueError, match="unknown samplesheet kind 'peaks'"):
        sheet.rows("peaks")


@pytest.mark.parametrize(
    "header, body, message",
    [
        (
            "cell_type\tkind\tpath\n",
            "HepG2\ttrack\tHepG2.dnase.bw\n",
            r"samples.tsv:1: missing column name; the header must be: cell_type kind name path",
        ),
        (
            HEADER,
            "HepG2\ttrack\tDNASE\tHepG2.dnase.bw\nHepG2\ttrack\tDNASE\tK562.dnase.bw\n",
            r"samples.tsv:3: duplicate entry track 'DNASE' for cell type 'HepG2'",
        ),
        (
            HEADER,
            "HepG2\ttrack\tDNASE\tHepG2.dnase.bw\nK562\ttrack\tDNASE\tK562.dnase.bw\n"
            "K562\ttrack\tMAPABILITY\tshared/map.bw\n",
            r"cell type 'K562' has tracks \['DNASE', 'MAPABILITY'\] but 'HepG2' has \['DNASE'\]: "
            "every cell type needs the same track names",
        ),
        (
            HEADER,
            "HepG2\ttrack\tDNASE\tHepG2.dnase.bw\nHepG2\tpeaks\tCTCF\tHepG2.CTCF.cons.bed.gz\n",
            r"samples.tsv:3: kind 'peaks' is not one of track, conservative, relaxed, expression, labels",
        ),
        (
            HEADER,
            "HepG2\ttrack\tDNASE\tnot_there.bw\n",
            r"samples.tsv:2: file 'not_there.bw' does not exist \(paths are relative to the samplesheet\)",
        ),
        (
            HEADER,
            "HepG2\ttrack\tDNASE\tHepG2.dnase.bw\nHepG2\trelaxed\tCTCF\tHepG2.CTCF.relaxed.bed.gz\n",
            r"cell type 'HepG2' has relaxed peaks for CTCF but no conservative peaks",
        ),
        (
            HEADER,
            "HepG2\ttrack\tDNASE\tHepG2.dnase.bw\nHepG2\tconservative\tCTCF\n",
            r"samples.tsv:3: expected 4 tab-separated fields, got 3",
        ),
        (
            HEADER,
            "HepG2\ttrack\tDNASE\tHepG2.dnase.bw\nHepG2\texpression\t.\tHepG2.expr.tsv\n"
            "K562\ttrack\tDNASE\tK562.dnase.bw\n",
            r"cell type K562 lacks an expression table while others have one",
        ),
        (
            HEADER,
            "HepG2\tconservative\tCTCF\tHepG2.CTCF.cons.bed.gz\n",
            "cell type 'HepG2' has no track rows",
        ),
        (HEADER, "", "samples.tsv: no cell types"),
        ("", "", "samples.tsv: empty"),
    ],
)
def test_bad_sheets_each_give_a_helpful_error(data, header, body, message):
    with pytest.raises(FactorNetError, match=message):
        read_samplesheet(_sheet(data, body, header))


def test_missing_files_allowed_without_check(data):
    sheet = read_samplesheet(_sheet(data, "C\ttrack\tDNASE\tlater.bw\n"), check_files=False)
    assert sheet.cells["C"].tracks == {"DNASE": data / "later.bw"}
    with pytest.raises(FactorNetError, match="does not exist"):
        read_samplesheet(data / "no_sheet.tsv")


def test_legacy_folder_layout(tmp_path):
    (tmp_path / "bigwig.txt").write_text("DNASE\nMAPABILITY\n")
    (tmp_path / "chip.txt").write_text("HepG2\tCTCF\nK562\tCTCF\n\n")
    _touch(
        tmp_path,
        "HepG2.DNASE.bigWig",
        "K562.DNASE.bigWig",
        "MAPABILITY.bigWig",  # shared across cells
        "ChIPseq.HepG2.CTCF.conservative.train.narrowPeak.gz",
        "ChIPseq.HepG2.CTCF.relaxed.narrowPeak.gz",
        "ChIPseq.K562.CTCF.conservative.train.narrowPeak.gz",
    )
    sheet = read_samplesheet(tmp_path)
    assert list(sheet.cells) == ["HepG2", "K562"]
    assert sheet.track_names == ["DNASE", "MAPABILITY"]
    assert sheet.tfs == ["CTCF"]
    hep, k562 = sheet.cells["HepG2"], sheet.cells["K562"]
    assert hep.tracks == {
        "DNASE": tmp_path / "HepG2.DNASE.bigWig",
        "MAPABILITY": tmp_path / "MAPABILITY.bigWig",
    }
    assert k562.tracks["MAPABILITY"] == tmp_path / "MAPABILITY.bigWig"
    assert hep.conservative == {"CTCF": tmp_path / "ChIPseq.HepG2.CTCF.conservative.train.narrowPeak.gz"}
    assert hep.relaxed == {"CTCF": tmp_path / "ChIPseq.HepG2.CTCF.relaxed.narrowPeak.gz"}
    assert k562.relaxed == {}


def test_legacy_folder_errors(tmp_path):
    with pytest.raises(FactorNetError, match="bigwig.txt is missing"):
        read_samplesheet(tmp_path)
    (tmp_path / "bigwig.txt").write_text("DNASE\n")
    (tmp_path / "chip.txt").write_text("HepG2 CTCF extra\n")
    with pytest.raises(FactorNetError, match=r"chip.txt:1: expected '<CELL> <TF>'"):
        read_samplesheet(tmp_path)
    (tmp_path / "chip.txt").write_text("HepG2\tCTCF\n")
    with pytest.raises(FactorNetError, match="DNASE.bigWig is missing"):
        read_samplesheet(tmp_path)


# ------------------------------------------------------------------------------------------- selection
def _selection_sheet(tmp_path: Path) -> Path:
    _touch(tmp_path, "a.bw", "b.bw", "a.ctcf", "a.ctcf.rel", "b.ctcf", "a.gabpa")
    return _sheet(
        tmp_path,
        "A\ttrack\tDNASE\ta.bw\nB\ttrack\tDNASE\tb.bw\nA\tconservative\tCTCF\ta.ctcf\n"
        "A\trelaxed\tCTCF\ta.ctcf.rel\nB\tconservative\tCTCF\tb.ctcf\nA\tconservative\tGABPA\ta.gabpa\n",
    )


def test_select_tf_rules(tmp_path):
    from factornet_core.samplesheet import select_tf

    sheet = read_samplesheet(_selection_sheet(tmp_path))
    sel = select_tf(sheet, "CTCF")
    assert sel.cells == ("A", "B") and sel.tfs == ("CTCF",) and not sel.multi_task
    assert sel.peaks("A", "CTCF") == (tmp_path / "a.ctcf", tmp_path / "a.ctcf.rel")
    assert sel.peaks("B", "CTCF") == (tmp_path / "b.ctcf", None)
    assert sel.tracks("B") == {"DNASE": tmp_path / "b.bw"}
    assert select_tf(sheet, "GABPA").cells == ("A",)
    assert select_tf(sheet, "CTCF", valid_cell="B").all_cells == ["A", "B", "B"]
    with pytest.raises(FactorNetError, match=r"several TFs \(CTCF, GABPA\): choose one with --tf"):
        select_tf(sheet, None)
    with pytest.raises(FactorNetError, match="TF 'REST' has no conservative peaks in the samplesheet"):
        select_tf(sheet, "REST")
    with pytest.raises(FactorNetError, match="cell type 'B' has no conservative peaks for GABPA"):
        select_tf(sheet, "GABPA", cells=["B"])
    with pytest.raises(FactorNetError, match="validation cell type 'B' has no conservative peaks for GABPA"):
        select_tf(sheet, "GABPA", valid_cell="B")


def test_select_multi_task_rules(tmp_path):
    from factornet_core.samplesheet import select_multi_task

    sheet = read_samplesheet(_selection_sheet(tmp_path))
    sel = select_multi_task(sheet, ["A"])
    assert sel.tfs == ("CTCF", "GABPA") and sel.multi_task
    assert select_multi_task(sheet, ["B"]).multi_task  # one TF is still a multi-task run
    with pytest.raises(FactorNetError, match="uses one cell type; the samplesheet has 2"):
        select_multi_task(sheet)
    with pytest.raises(FactorNetError, match="validation cell type 'B' lacks peaks for GABPA"):
        select_multi_task(sheet, ["A"], valid_cell="B")


def test_cell_inputs_overrides_and_errors(tmp_path):
    from factornet_core.samplesheet import cell_inputs

    path = _selection_sheet(tmp_path)
    tracks, expression = cell_inputs(path, "A")
    assert tracks == {"DNASE": str(tmp_path / "a.bw")} and expression is None
    # a --track next to a samplesheet cell replaced (or added to) that cell's tracks silently
    with pytest.raises(FactorNetError, match=r"--track DNASE, EXTRA and --samplesheet/--cell A both give"):
        cell_inputs(path, "A", {"DNASE": "b.bw", "EXTRA": "x.bw"})
    assert cell_inputs(None, None, {"DNASE": "y.bw"}, "e.tsv") == ({"DNASE": "y.bw"}, "e.tsv")
    with pytest.raises(FactorNetError, match="--samplesheet needs --cell"):
        cell_inputs(path, None)
    with pytest.raises(FactorNetError, match="--cell needs --samplesheet"):
        cell_inputs(None, "A")
    with pytest.raises(FactorNetError, match="no tracks"):
        cell_inputs(None, None)


def test_a_listed_files_fault_names_its_samplesheet_row(tmp_path, capsys):
    """`factornet bin` on a samplesheet whose peak file is empty, or malformed: the error names the
    samplesheet line, cell type, kind, TF and the path as written there (not only the absolute path)."""
    from factornet_tools.cli import main

    (tmp_path / "chrom.sizes").write_text("chr1\t1000\n")
    (tmp_path / "ok.bed").write_text("chr1\t100\t300\n")
    (tmp_path / "peaks").mkdir()
    (tmp_path / "peaks" / "empty.bed").write_text("")
    (tmp_path / "bad.bed").write_text("chr1\t0\t10\nchr1\t20\n")
    sheet = tmp_path / "ss.tsv"
    for broken, message in [
        (
            "peaks/empty.bed",
            "'peaks/empty.bed'): no intervals in narrowPeak file; give a file with at least one interval",
        ),
        ("bad.bed", "'bad.bed'): bad.bed:2: narrowPeak line needs at least 3 columns (chrom, start, end)"),
    ]:
        sheet.write_text(
            f"cell_type\tkind\tname\tpath\nCellA\tconservative\tCTCF\tok.bed\nCellB\tconservative\tCTCF\t{broken}\n"
        )
        rc = main(["bin", "--samplesheet", str(sheet), "--chrom-sizes", str(tmp_path / "chrom.sizes"),
                   "--out-labels", str(tmp_path / "l.tsv")])  # fmt: skip
        err = capsys.readouterr().err
        assert rc == 2 and err.count("\n") == 1 and not (tmp_path / "l.tsv").exists()
        assert err.startswith(f"factornet bin: error: samplesheet {sheet}:3 (cell CellB, conservative CTCF, ")
        assert err.rstrip().endswith(message)


def test_a_cell_specific_track_copied_to_another_cell_type_is_refused(data):
    """Two of three cell types with one DNASE file is a copy-paste slip; one mapability file for all is not."""
    _touch(data, "GM12878.dnase.bw")
    body = (
        "HepG2\ttrack\tDNASE\tHepG2.dnase.bw\nHepG2\ttrack\tMAPABILITY\tshared/map.bw\n"
        "K562\ttrack\tDNASE\tK562.dnase.bw\nK562\ttrack\tMAPABILITY\tshared/map.bw\n"
        "GM12878\ttrack\tDNASE\t{}\nGM12878\ttrack\tMAPABILITY\tshared/map.bw\n"
    )
    assert list(read_samplesheet(_sheet(data, body.format("GM12878.dnase.bw"))).cells) == [
        "HepG2",
        "K562",
        "GM12878",
    ]
    with pytest.raises(FactorNetError) as err:
        read_samplesheet(_sheet(data, body.format("K562.dnase.bw")))
    assert str(err.value).endswith(
        "samples.tsv: cell types K562, GM12878 give the same DNASE file "
        f"'{data / 'K562.dnase.bw'}' while other cell types have their own: give each cell type its own DNASE "
        "bigWig (only a track every cell type shares, like mapability, may be one file)"
    )
    (data / "link.bw").symlink_to(data / "K562.dnase.bw")  # a link to it is the same file
    with pytest.raises(FactorNetError, match="cell types K562, GM12878 give the same DNASE file"):
        read_samplesheet(_sheet(data, body.format("link.bw")))
