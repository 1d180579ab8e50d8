"""factornet_core.regions: centres (BED midpoint, narrowPeak summit) and narrowPeak strength order."""

from __future__ import annotations

import pytest

from factornet_core.errors import FactorNetError
from factornet_core.regions import centred_windows, read_regions


def test_narrowpeak_centre_is_the_summit_and_rows_go_strongest_first(make_bed):
    rows = [
        ("chr1", 100, 300, "a", 0, ".", 5.0, -1, -1, 40),  # summit 40 → centre 140
        ("chr1", 1000, 1200, "b", 0, ".", 9.0, -1, -1, -1),  # no summit → midpoint 1100
        ("chr2", 500, 601, "c", 0, ".", 5.0, -1, -1, 0),  # ties keep file order; summit 0 → start
        ("chr2", 700, 900, "d"),  # a BED4 line: no signal (last), midpoint
    ]
    regions = read_regions(make_bed(rows, "peaks.narrowPeak.gz"), peaks=True)
    table = regions.table
    assert table["name"].tolist() == ["b", "a", "c", "d"]
    assert table["centre"].tolist() == [1100, 140, 500, 800]
    assert list(table.columns) == ["chrom", "start", "end", "name", "centre"]
    windows = centred_windows(table, 100)
    assert (
        windows["start"].tolist() == [1050, 90, 450, 750] and (windows["end"] - windows["start"] == 100).all()
    )


def test_bed_keeps_file_order_and_centres_on_the_midpoint(make_bed):
    rows = [("chr1", 1000, 1201, "x", 0, ".", 1.0, -1, -1, 10), ("chr1", 0, 100)]
    table = read_regions(make_bed(rows)).table  # BED: the summit column is not read
    assert table["centre"].tolist() == [1100, 50] and table["start"].tolist() == [1000, 0]


def test_no_regions_is_one_line_error(make_bed):
    with pytest.raises(FactorNetError, match="no regions in the narrowPeak file"):
        read_regions(make_bed([], "empty.narrowPeak"), peaks=True)
