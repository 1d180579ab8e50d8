"""factornet_core.catalogue / ``factornet models list|fetch``: the published models, never the network.

Real downloads come from a local mirror built from shared/data/legacy-models (skipped when absent); the
checksum, offline and name paths use a tiny fake mirror made here, so they run everywhere.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from testdata import LEGACY_MODELS, build_mirror, needs_legacy_models

from factornet_core import catalogue as cat
from factornet_core.errors import FactorNetError
from factornet_core.modelfile import read_card
from factornet_tools.cli import main


# ------------------------------------------------------------------------------ the shipped table
def test_catalogue_lists_the_fifteen_released_models_with_weights():
    entries = cat.load_catalogue()
    assert len(entries) == 15
    foxa1 = entries["FOXA1__onePeak_DGF"]
    assert (foxa1.tf, foxa1.variant, foxa1.assembly, foxa1.input_length) == (
        "FOXA1",
        "onePeak_DGF",
        "hg19",
        1002,
    )
    assert foxa1.tracks == ("DGF",) and foxa1.features == () and foxa1.metadata == ()
    gabpa = entries["GABPA__metaGENCODE_RNAseq_Unique35_DGF"]
    assert gabpa.tracks == ("Unique35", "DGF")
    assert gabpa.features == ("meta", "gencode") and gabpa.metadata == tuple(f"GEPC{i}" for i in range(1, 9))
    assert gabpa.path(gabpa.weights) == "models/GABPA/metaGENCODE_RNAseq_Unique35_DGF/final_model.hdf5"
    # every entry fetches its architecture, weights, TF and flags; never the pickled history
    for entry in entries.values():
        names = {f.name for f in entry.files}
        assert {"model.json", "final_model.hdf5", "chip.txt", "feature.txt"} <= names
        assert "history.pkl" not in names and all(len(f.sha256) == 64 for f in entry.files)
    assert "Permission is hereby granted, free of charge" in cat.licence_notice()
    assert "Copyright (c) 2017 Computational Biology and Computational Learning @ UCI" in cat.licence_notice()


@pytest.mark.shared
@needs_legacy_models
def test_catalogue_agrees_with_the_released_files():
    """Sizes and sha256 equal CATALOGUE.tsv (the original repository's facts); tracks and metadata equal
    the folders' text files."""
    with open(LEGACY_MODELS / "CATALOGUE.tsv") as handle:
        released = {(r["model"], r["file"]): r for r in csv.DictReader(handle, delimiter="\t")}
    for entry in cat.load_catalogue().values():
        for file in entry.files:
            row = released[(entry.name, file.name)]
            assert (file.size, file.sha256) == (int(row["bytes"]), row["sha256"])
            assert row["path_in_original_repository"] == entry.path(file)
        folder = LEGACY_MODELS / entry.name
        if folder.is_dir():
            assert entry.tracks == tuple((folder / "bigwig.txt").read_text().split())
            if entry.metadata:
                assert entry.metadata == tuple((folder / "meta.txt").read_text().split())


def test_resolve_full_names_unique_tfs_and_close_matches():
    entries = cat.load_catalogue()
    assert [e.name for e in cat.resolve(["FOXA1", "EGR1__onePeak_DGF"], entries)] == [
        "FOXA1__onePeak_DGF",
        "EGR1__onePeak_DGF",
    ]
    with pytest.raises(FactorNetError, match="did you mean FOXA1__onePeak_DGF"):
        cat.resolve(["FOXA1__onePeak_DFG"], entries)
    with pytest.raises(FactorNetError, match="GABPA has 2 models.*GABPA__meta_RNAseq_Unique35_DGF"):
        cat.resolve(["GABPA"], entries)


def _cache_with(folder: Path, names: list[str]) -> Path:
    """A model cache holding tiny stand-ins for the catalogue models ``names`` (their weights' sha256
    in the card, which is what makes a cached file count as that model)."""
    from factornet_core.card import Features, make_card
    from factornet_core.model import ModelConfig, build_model
    from factornet_core.modelfile import save_model

    entries = cat.load_catalogue()
    folder.mkdir()
    cfg = ModelConfig(seq_len=100, track_names=("DGF",), kernel_width=5, kernels=2, pool=3, lstm_units=2,
                      dense_units=2)  # fmt: skip
    for name in names:
        card = make_card(cfg.to_dict(), [entries[name].tf], mode="single-task", features=Features(),
                         metadata_names=(), chrom_naming="ucsc",
                         provenance={"weights_sha256": entries[name].weights.sha256})  # fmt: skip
        save_model(build_model(cfg), card, folder / f"{name}.keras")
    return folder


def test_a_tf_is_ambiguous_only_among_cached_models(tmp_path):
    entries = cat.load_catalogue()
    one = _cache_with(tmp_path / "one", ["NANOG__onePeak_Unique35_DGF"])
    assert cat.resolve_cached("NANOG", one, entries).name == "NANOG__onePeak_Unique35_DGF"
    assert cat.resolve_cached("FOXA1", one, entries).name == "FOXA1__onePeak_DGF"  # one in the catalogue
    both = _cache_with(tmp_path / "both", ["NANOG__onePeak_Unique35_DGF", "NANOG__GENCODE_Unique35_DGF"])
    with pytest.raises(FactorNetError) as err:
        cat.resolve_cached("NANOG", both, entries)
    assert str(err.value) == (
        f"NANOG has 2 models in the cache {str(both)!r}: choose one of "
        "NANOG__GENCODE_Unique35_DGF, NANOG__onePeak_Unique35_DGF"
    )
    with pytest.raises(FactorNetError) as err:
        cat.resolve_cached("NANOG", tmp_path / "none", entries)
    assert str(err.value) == (
        f"no NANOG model is in the cache {str(tmp_path / 'none')!r}: fetch one of "
        "NANOG__GENCODE_Unique35_DGF, NANOG__onePeak_Unique35_DGF, e.g. "
        f"'factornet models fetch NANOG__GENCODE_Unique35_DGF --model-cache {tmp_path / 'none'}'"
    )


def test_default_cache_dir_precedence(tmp_path):
    assert cat.default_cache_dir({"FACTORNET_MODELS": "/m", "XDG_CACHE_HOME": "/x"}) == Path("/m")
    assert cat.default_cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/factornet/models")
    assert cat.default_cache_dir({}) == Path.home() / ".cache" / "factornet" / "models"


def test_source_url_upstream_and_mirrors(tmp_path):
    entry = cat.load_catalogue()["FOXA1__onePeak_DGF"]
    weights = entry.weights
    assert cat.source_url(entry, weights) == (
        "https://raw.githubusercontent.com/uci-cbcl/FactorNet/master/models/FOXA1/onePeak_DGF/final_model.hdf5"
    )
    assert cat.source_url(entry, weights, "https://example.org/fn/") == (
        "https://example.org/fn/models/FOXA1/onePeak_DGF/final_model.hdf5"
    )
    flat = tmp_path / "FOXA1__onePeak_DGF"
    flat.mkdir()
    (flat / "final_model.hdf5").write_bytes(b"x")
    assert cat.source_url(entry, weights, tmp_path) == (flat / "final_model.hdf5").resolve().as_uri()
    # a file:// URL of the same folder reads the same layouts (it used to require the repository layout)
    assert cat.source_url(entry, weights, tmp_path.as_uri()) == (flat / "final_model.hdf5").resolve().as_uri()
    # what a per-model folder lacks is named in that layout, not the repository's
    assert cat.missing_from_mirror(entry, tmp_path.as_uri()) == [
        f"FOXA1__onePeak_DGF/{f.name}" for f in entry.files if f.name != "final_model.hdf5"
    ]
    with pytest.raises(FactorNetError, match="neither a folder nor"):
        cat.source_url(entry, weights, tmp_path / "absent")


# ------------------------------------------------------------------------------ fake mirrors
def _fake_catalogue(tmp_path: Path, good: dict[str, bytes], bad: dict[str, bytes]) -> tuple[dict, Path]:
    """A one-model catalogue whose ``bad`` files differ from what the mirror serves."""
    mirror = tmp_path / "mirror"
    folder = mirror / "models" / "XX" / "onePeak_DGF"
    folder.mkdir(parents=True)
    files = []
    for name, content in {**good, **bad}.items():
        (folder / name).write_bytes(content)
        claimed = content if name in good else b"what the catalogue expected"
        files.append(cat.SourceFile(name, len(claimed), hashlib.sha256(claimed).hexdigest()))
    entry = cat.CatalogueEntry(
        "XX__onePeak_DGF", "XX", "onePeak_DGF", "hg19", 1002, ("DGF",), (), (), tuple(files)
    )
    return {entry.name: entry}, mirror


def test_checksum_mismatch_deletes_the_download_and_names_the_file(tmp_path):
    catalogue, mirror = _fake_catalogue(
        tmp_path,
        {"chip.txt": b"XX\n", "model.json": b"{}"},
        {"final_model.hdf5": b"not the released weights"},
    )
    dest = tmp_path / "cache"
    result = cat.fetch(["XX__onePeak_DGF"], dest=dest, mirror=mirror, catalogue=catalogue)
    assert result.fetched == {} and result.converted == []
    why = result.failed["XX__onePeak_DGF"]
    assert "checksum mismatch for final_model.hdf5" in why and "deleted" in why
    assert list(dest.iterdir()) == []  # no .keras, no download folder, no partial file


def test_checksum_mismatch_cli_one_line_exit_2(tmp_path, capsys):
    """The shipped catalogue's FOXA1 entry against a mirror serving a damaged model.json."""
    mirror = tmp_path / "mirror" / "FOXA1__onePeak_DGF"
    mirror.mkdir(parents=True)
    for file in cat.load_catalogue()["FOXA1__onePeak_DGF"].files:
        (mirror / file.name).write_text("stand-in")
    (mirror / "model.json").write_text('{"damaged": true}')
    dest = tmp_path / "cache"
    rc = main(
        ["models", "fetch", "FOXA1", "--mirror", str(mirror.parent), "--model-cache", str(dest), "--quiet"]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert "checksum mismatch for model.json" in err[0] and err[0].startswith(
        "factornet models fetch: error:"
    )
    assert list(dest.iterdir()) == []


def test_offline_without_mirror_names_the_url(tmp_path, capsys, monkeypatch):
    # a closed local port stands in for the upstream repository with "no network"; nothing leaves this machine
    monkeypatch.setattr(cat, "UPSTREAM", "http://127.0.0.1:9")
    rc = main(["models", "fetch", "EGR1__onePeak_DGF", "FOXA1", "--model-cache", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert "cannot download http://127.0.0.1:9/models/EGR1/onePeak_DGF/model.json" in err[0]
    assert err[0].count("point --mirror at a local or institutional copy") == 1
    assert err[0].endswith("not tried after that: FOXA1__onePeak_DGF")  # not a second time-out
    assert list(tmp_path.iterdir()) == []


def test_models_a_mirror_lacks_are_named_once_with_what_to_do(tmp_path, capsys):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    dest = tmp_path / "cache"
    argv = [
        "models",
        "fetch",
        "FOXA1",
        "EGR1__onePeak_DGF",
        "--mirror",
        str(mirror),
        "--model-cache",
        str(dest),
    ]
    assert main([*argv, "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(
        "factornet models fetch: error: 2 of 2 requested models not fetched — 2 models not in the mirror "
        f"{str(mirror)!r} (FOXA1__onePeak_DGF, EGR1__onePeak_DGF; e.g. no models/FOXA1/onePeak_DGF/"
    )
    assert err[0].endswith("by running the same command without --mirror")
    assert (
        "point --mirror" not in err[0] and "cannot download" not in err[0]
    )  # no advice to add what was given
    assert list(dest.iterdir()) == []


def test_an_unreachable_source_is_tried_once_not_once_per_model(tmp_path):
    one, _ = _fake_catalogue(tmp_path / "a", {"final_model.hdf5": b"w"}, {})
    two, _ = _fake_catalogue(tmp_path / "b", {"final_model.hdf5": b"v"}, {})
    entry = next(iter(two.values()))
    other = cat.CatalogueEntry("YY__onePeak_DGF", "YY", *[getattr(entry, f) for f in ("variant", "assembly",
        "input_length", "tracks", "features", "metadata", "files")])  # fmt: skip
    catalogue = {**one, other.name: other}
    result = cat.fetch(None, dest=tmp_path / "cache", mirror="http://127.0.0.1:9", catalogue=catalogue)
    assert list(result.failed) == ["XX__onePeak_DGF"] and result.not_tried == ["YY__onePeak_DGF"]
    assert "is the mirror reachable" in result.failed["XX__onePeak_DGF"]
    assert result.missing == ["XX__onePeak_DGF", "YY__onePeak_DGF"] and result.fetched == {}


def test_model_cache_is_one_option_name_and_dest_a_hidden_deprecated_alias(tmp_path, capsys):
    from factornet_tools import cli

    def options(*path):
        parser = cli.build_parser(list(path))
        for name in path:
            sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            parser = sub.choices[name]
        return parser

    for path in (("models", "list"), ("models", "fetch"), ("impute",)):
        parser = options(*path)
        assert "--model-cache" in parser.format_help() and "--dest" not in parser.format_help(), path
    assert main(["models", "list", "--json", "--dest", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip() == "factornet models list: warning: --dest is deprecated, use --model-cache"
    assert len(json.loads(captured.out)) == 15


def test_unknown_name_cli_lists_close_matches(tmp_path, capsys):
    rc = main(["models", "fetch", "REST__GENCODE", "--model-cache", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert "unknown catalogue model 'REST__GENCODE'" in err[0] and "REST__GENCODE_Unique35_DGF" in err[0]


def test_list_json_reports_every_model(capsys, tmp_path):
    assert main(["models", "list", "--json", "--model-cache", str(tmp_path)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 15 and not any(r["cached"] for r in rows)
    by = {r["name"]: r for r in rows}
    assert by["EGR1__onePeak_DGF"]["tracks"] == ["DGF"] and by["EGR1__onePeak_DGF"]["input_length"] == 1002
    assert by["TAF1__GENCODE_Unique35_DGF"]["features"] == ["gencode"]
    assert by["TAF1__GENCODE_Unique35_DGF"]["source"].endswith("models/TAF1/GENCODE_Unique35_DGF")
    assert by["TAF1__GENCODE_Unique35_DGF"]["licence"].startswith("MIT")


# ------------------------------------------------------------------------------ real files, local mirror
class _Counter(cat.FetchProgress):
    def __init__(self):
        self.files, self.bytes = [], 0

    def start(self, label, total_bytes):
        self.files.append(label)

    def advance(self, n_bytes):
        self.bytes += n_bytes


@pytest.mark.shared
@needs_legacy_models
def test_fetch_converts_verifies_and_second_fetch_downloads_nothing(tmp_path):
    from factornet_core.legacy import import_legacy
    from factornet_core.modelfile import load_model

    mirror = build_mirror(tmp_path / "mirror", ["EGR1__onePeak_DGF"])
    dest = tmp_path / "cache"
    first = _Counter()
    result = cat.fetch(["EGR1__onePeak_DGF"], dest=dest, mirror=mirror, progress=first)
    path = dest / "EGR1__onePeak_DGF.keras"
    assert result.fetched == {"EGR1__onePeak_DGF": path} and result.converted == ["EGR1__onePeak_DGF"]
    entry = cat.load_catalogue()["EGR1__onePeak_DGF"]
    assert sorted(first.files) == sorted(f.name for f in entry.files)
    assert first.bytes == sum(f.size for f in entry.files)
    assert sorted(p.name for p in dest.iterdir()) == ["EGR1__onePeak_DGF.keras"]  # raw downloads removed
    card = read_card(path)
    assert card.tfs == ("EGR1",) and card.track_names == ("DGF",)
    assert card.provenance["weights_sha256"] == entry.weights.sha256
    # same weights as a direct import of the shared folder
    direct = tmp_path / "direct.keras"
    import_legacy(LEGACY_MODELS / "EGR1__onePeak_DGF", direct)
    for a, b in zip(load_model(path).model.get_weights(), load_model(direct).model.get_weights()):
        np.testing.assert_array_equal(a, b)

    # idempotent: nothing is read from the mirror the second time (it is even gone)
    mtime = path.stat().st_mtime_ns
    again = _Counter()
    result = cat.fetch(
        ["EGR1__onePeak_DGF"], dest=dest, mirror=tmp_path / "empty-mirror-never-read", progress=again
    )
    assert result.converted == [] and result.fetched == {"EGR1__onePeak_DGF": path}
    assert again.files == [] and again.bytes == 0 and path.stat().st_mtime_ns == mtime


@contextlib.contextmanager
def _served(folder: Path):
    """``folder`` over HTTP on 127.0.0.1 (a thread; the request log kept off stderr); yields the base URL."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.shared
@needs_legacy_models
@pytest.mark.parametrize("kind", ["folder", "file_url", "http"])
def test_fetch_says_copied_from_a_local_mirror_downloaded_from_an_http_one(
    tmp_path, capsys, monkeypatch, kind
):
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    mirror = build_mirror(tmp_path / "mirror", ["EGR1__onePeak_DGF"])
    dest = tmp_path / "cache"
    with _served(mirror) if kind == "http" else contextlib.nullcontext() as url:
        source = {"folder": str(mirror), "file_url": mirror.as_uri(), "http": url}[kind]
        rc = main(
            [
                "models",
                "fetch",
                "EGR1__onePeak_DGF",
                "--mirror",
                source,
                "--model-cache",
                str(dest),
                "--quiet",
            ]
        )
    err = capsys.readouterr().err.strip().splitlines()
    how = "downloaded from the mirror" if kind == "http" else "copied from the mirror"
    assert rc == 0, err
    assert err == [
        f"EGR1__onePeak_DGF: {how}, sha256 verified, converted: {dest / 'EGR1__onePeak_DGF.keras'}"
    ]


def test_local_copy_errors_name_the_path_and_a_copy(tmp_path):
    """A damaged file in a local mirror is named by its path, and what was deleted is a copy."""
    catalogue, mirror = _fake_catalogue(tmp_path, {"chip.txt": b"XX\n"}, {"final_model.hdf5": b"damaged"})
    result = cat.fetch(None, dest=tmp_path / "cache", mirror=mirror.as_uri(), catalogue=catalogue)
    path = mirror / "models" / "XX" / "onePeak_DGF" / "final_model.hdf5"
    why = result.failed["XX__onePeak_DGF"]
    assert why.startswith(f"checksum mismatch for final_model.hdf5 from {path.resolve()}: sha256 ")
    assert "the copy was deleted" in why and "download" not in why and "file://" not in why
    assert cat.is_local_mirror(mirror) and cat.is_local_mirror(mirror.as_uri())
    assert not cat.is_local_mirror(None) and not cat.is_local_mirror("https://example.org/fn")


@pytest.mark.shared
@needs_legacy_models
def test_fetch_all_cli_from_a_folder_of_original_model_folders(tmp_path, capsys, monkeypatch):
    """``--mirror`` pointing at the shared folder itself (TF__variant/ layout), cache from $FACTORNET_MODELS:
    every model there is fetched; the two missing ones are named in one error line."""
    monkeypatch.setenv("FACTORNET_MODELS", str(tmp_path / "cache"))
    rc = main(["models", "fetch", "--all", "--mirror", str(LEGACY_MODELS), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    fetched = sorted(p.stem for p in (tmp_path / "cache").glob("*.keras"))
    assert fetched == sorted(p.name for p in LEGACY_MODELS.iterdir() if p.is_dir())
    missing = "NANOG__GENCODE_Unique35_DGF, REST__GENCODE_Unique35_DGF"
    assert err[-1] == (
        f"factornet models fetch: error: 2 of 15 requested models not fetched — 2 models not in the mirror "
        f"{str(LEGACY_MODELS)!r} ({missing}; e.g. no models/NANOG/GENCODE_Unique35_DGF/model.json): add their "
        "files there (models/TF/variant/FILE or TF__variant/FILE), or fetch them from the original repository "
        "by running the same command without --mirror; the other 13 models are in the cache"
    )
    assert sum("copied from the mirror, sha256 verified, converted" in line for line in err) == 13
    assert main(["models", "list", "--json"]) == 0
    cached = {r["name"] for r in json.loads(capsys.readouterr().out) if r["cached"]}
    assert cached == set(fetched)

    # a rerun: the 13 cached models are skipped (not read again), the 2 missing ones named once, same status
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").glob("*.keras")}
    rc = main(["models", "fetch", "--all", "--mirror", str(LEGACY_MODELS), "--quiet"])
    again = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(again) == 14
    assert all(line.split(": ")[1].startswith("already cached") for line in again[:-1])
    assert again[-1] == err[-1]
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").glob("*.keras")} == mtimes
    # asking only for what the mirror has: exit 0
    assert main(["models", "fetch", "EGR1__onePeak_DGF", "FOXA1", "--mirror", str(LEGACY_MODELS)]) == 0
