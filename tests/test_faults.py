"""Fault injection (issue 16): runs killed with SIGKILL, a full disk, two runs racing for one output.

Each test reproduces the user's situation from inputs made here and checks the contract: a failed or
killed run leaves no final output (only hidden ``.NAME.XXXX.part`` leftovers a later run ignores), the
next run succeeds, a full disk is one line and nothing partial, and concurrent writers never mix bytes.

SIGKILL during ``train`` followed by ``--resume`` (same final weights as an uninterrupted run) belongs to
the resume work (branch arch3): see :func:`test_sigkill_during_train_then_resume_is_exact`.
"""

from __future__ import annotations

import errno
import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyBigWig
import pytest
from testdata import needs_legacy_models, write_bed, write_bigwig, write_fasta

from factornet_core.scores import read_predictions
from factornet_tools import cli

MODEL = Path(__file__).parent / "data" / "model-0.1.0.keras"  # seq_len 200, DNASE + MAPABILITY, expression
EXPRESSION = "gene_id\tvalue\nSIMG00000001.1\t12.3\nSIMG00000002.1\t0.5\nSIMG00000003.1\t7.25\n"


# --------------------------------------------------------------------------------------------- helpers
def _factornet(*argv: object, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.Popen(
        [sys.executable, "-m", "factornet_tools.cli", *map(str, argv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        **kwargs,
    )


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 300) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` is true (polled every few ms); fail if it ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            assert proc.returncode == -signal.SIGKILL
            return
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(
                f"the run ended (rc {proc.returncode}) before the fault could be injected: {err[-500:]!r}"
            )
        time.sleep(0.003)
    proc.kill()
    pytest.fail("the run never reached the point where the fault is injected")


def _parts(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".") and ".part" in p.name]


def _finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err.decode()


@pytest.fixture(scope="module")
def predict_inputs(tmp_path_factory) -> dict[str, Path]:
    """Genome + tracks for the 0.1.0 test model: 2 × 60 kb, enough for a predict run of a few seconds."""
    d = tmp_path_factory.mktemp("predict_inputs")
    rng = np.random.default_rng(11)
    n = 60_000
    (d / "expression.tsv").write_text(EXPRESSION)
    return {
        "genome": write_fasta(
            d / "genome.fa", {c: "".join(rng.choice(list("ACGT"), n)) for c in ("chr1", "chr2")}
        ),
        "DNASE": write_bigwig(d / "dnase.bw", {c: rng.gamma(0.5, 2.0, n) for c in ("chr1", "chr2")}),
        "MAPABILITY": write_bigwig(d / "map.bw", {c: np.ones(n) for c in ("chr1", "chr2")}),
        "expression": d / "expression.tsv",
    }


def _predict_argv(f: dict[str, Path], out: Path) -> list[object]:
    return [
        "predict", "--model", MODEL, "--genome", f["genome"], "--track", f"DNASE={f['DNASE']}",
        "--track", f"MAPABILITY={f['MAPABILITY']}", "--expression", f["expression"], "-o", out, "--quiet",
    ]  # fmt: skip


def _bin_inputs(tmp_path: Path, length: int = 20_000_000) -> tuple[Path, Path]:
    sizes = tmp_path / "sizes"
    sizes.write_text(f"chr1\t{length}\n")
    return sizes, write_bed(
        tmp_path / "peaks.bed", [("chr1", 1000, 1300), ("chr1", length - 5000, length - 4000)]
    )


# --------------------------------------------------------------------------------------------- SIGKILL
@pytest.mark.slow
def test_sigkill_during_bin_then_rerun(tmp_path):
    sizes, peaks = _bin_inputs(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    argv = ["bin", "--chrom-sizes", sizes, "--conservative", peaks, "--out-labels", out / "labels.tsv"]
    proc = _factornet(*argv, "--out-bins", out / "bins.bed")
    _kill_when(proc, lambda: bool(_parts(out)))
    assert not (out / "labels.tsv").exists() and not (out / "bins.bed").exists()
    stale = _parts(out)
    assert stale  # what SIGKILL leaves: hidden temporaries only
    rc, err = _finish(_factornet(*argv, "--out-bins", out / "bins.bed"))
    assert rc == 0, err
    with open(out / "labels.tsv") as handle:
        n_lines = sum(1 for _ in handle)
    assert n_lines == 1 + (20_000_000 - 200) // 50 + 1
    assert (out / "bins.bed").stat().st_size > 0


@pytest.mark.slow
def test_sigkill_during_predict_then_rerun(tmp_path, predict_inputs):
    out = tmp_path / "pred.tsv.gz"
    proc = _factornet(*_predict_argv(predict_inputs, out))
    _kill_when(proc, lambda: bool(_parts(tmp_path)))
    assert not out.exists() and _parts(tmp_path)
    rc, err = _finish(_factornet(*_predict_argv(predict_inputs, out)))
    assert rc == 0, err
    bins, scores = read_predictions(out)
    assert len(bins) == 2 * ((60_000 - 200) // 50 + 1) and list(scores.columns) == ["CTCF"]


@pytest.mark.slow
def test_sigkill_during_prepare_then_rerun(tmp_path):
    """prepare re-normalising a dense 8 Mb bigWig: killed while writing its output bigWig."""
    n = 8_000_000
    src = tmp_path / "raw.bw"
    bw = pyBigWig.open(str(src), "w")
    bw.addHeader([("chr1", n)])
    values = (np.arange(n // 10) % 97 + 1).astype(np.float64)
    bw.addEntries("chr1", 0, values=values.tolist(), span=10, step=10)
    bw.close()
    sizes = tmp_path / "sizes"
    sizes.write_text(f"chr1\t{n}\n")
    out = tmp_path / "out"
    out.mkdir()
    argv = ["prepare", "--bigwig", src, "--chrom-sizes", sizes, "-o", out / "track.bw", "--quiet"]
    _kill_when(_factornet(*argv), lambda: bool(_parts(out)))
    assert not (out / "track.bw").exists() and not (out / "track.bw.qc.json").exists()
    rc, err = _finish(_factornet(*argv))
    assert rc == 0, err
    check = pyBigWig.open(str(out / "track.bw"))
    assert check.chroms() == {"chr1": n}
    got = check.values("chr1", 0, 100, numpy=True)
    check.close()
    assert np.all(np.diff(got[:10]) == 0) and got[0] > 0  # the run of 10 equal values is whole


@pytest.mark.slow
@needs_legacy_models
def test_sigkill_during_models_fetch_then_rerun(tmp_path):
    from testdata import build_mirror

    from factornet_core.modelfile import read_card

    name = "FOXA1__onePeak_DGF"
    mirror = build_mirror(tmp_path / "mirror", [name])
    if not any(mirror.rglob("*")):
        pytest.skip(f"shared data lacks {name}")
    dest = tmp_path / "cache"
    argv = ["models", "fetch", name, "--mirror", mirror, "--model-cache", dest, "--quiet"]
    _kill_when(
        _factornet(*argv), lambda: dest.is_dir() and any(p.suffix == ".download" for p in dest.iterdir())
    )
    assert not list(dest.rglob("*.keras"))
    rc, err = _finish(_factornet(*argv))
    assert rc == 0, err
    (model,) = dest.rglob("*.keras")
    assert read_card(model).tfs == ("FOXA1",)


@pytest.mark.slow
def test_sigkill_during_train_then_resume_is_exact(tmp_path):
    """A real SIGKILL lands while epoch 3's checkpoint is being written or after it; `--resume` then ends with
    the weights of a run that was never interrupted (checkpoints are published as one folder, and the
    random states travel with them: factornet_core.resume)."""
    from factornet_core.modelfile import load_model
    from factornet_core.simulate import simulate_dataset

    sim = simulate_dataset(tmp_path / "data", seed=3, n_chroms=2, chrom_length=200_000, tfs=("CTCF",))

    def argv(out):
        return ["train", "--samplesheet", sim.samplesheet, "--genome", sim.genome, "-o", out, "-f", "CTCF",
                "-v", "chr2", "-e", "4", "-ep", "10", "-s", "2", "-L", "400", "-w", "20", "-k", "8", "-r", "4",
                "-d", "16", "--quiet"]  # fmt: skip

    out = tmp_path / "r.keras"
    resume_dir = tmp_path / "r.keras.resume"
    proc = _factornet(*argv(out))
    _kill_when(proc, lambda: (resume_dir / "epoch-0002").is_dir(), timeout=900)
    assert not out.exists()
    rc, err = _finish(_factornet(*argv(out), "--resume"), timeout=900)
    assert rc == 0, err
    rc, err = _finish(_factornet(*argv(tmp_path / "full.keras")), timeout=900)
    assert rc == 0, err
    a, b = load_model(out).model.get_weights(), load_model(tmp_path / "full.keras").model.get_weights()
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_allclose(wa, wb, rtol=0, atol=1e-6)
    assert not resume_dir.exists() and not _parts(tmp_path)


# --------------------------------------------------------------------------------------------- full disk
@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB tmpfs (root only); skips where mounting is not allowed (see the patched-writer test)."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def _fill(folder: Path, leave: int = 16_384) -> Path:
    """Fill a tmpfs but ``leave`` bytes."""
    filler = folder / "filler"
    stat = os.statvfs(folder)
    filler.write_bytes(b"\0" * max(stat.f_bavail * stat.f_frsize - leave, 0))
    return filler


def _one_line_no_space(capfd, rc: int, sub: str) -> None:
    _, err = capfd.readouterr()
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1, err
    assert lines[0].startswith(f"factornet {sub}: error: no space left on the device"), err


def test_full_disk_bin_is_one_line_and_nothing_partial(tmp_path, tiny_disk, capfd):
    sizes, peaks = _bin_inputs(tmp_path, 2_000_000)  # ~1.5 MB of labels: more than the disk holds
    rc = cli.main(["bin", "--chrom-sizes", str(sizes), "--conservative", str(peaks), "--out-labels",
                   str(tiny_disk / "labels.tsv"), "--out-bins", str(tiny_disk / "bins.bed")])  # fmt: skip
    _one_line_no_space(capfd, rc, "bin")
    assert list(tiny_disk.iterdir()) == []


def test_full_disk_evaluate_is_one_line_and_nothing_partial(tmp_path, tiny_disk, capfd):
    preds = tmp_path / "p.tsv.gz"
    rng = np.random.default_rng(0)
    rows = "".join(f"chr1\t{i * 50}\t{i * 50 + 200}\t{rng.random():.4f}\n" for i in range(400))
    with gzip.open(preds, "wt") as handle:
        handle.write("chr\tstart\tstop\tCTCF\n" + rows)
    labels = tmp_path / "l.tsv"
    labels.write_text("chr\tstart\tstop\tK562\n" + "".join(
        f"chr1\t{i * 50}\t{i * 50 + 200}\t{'B' if i % 9 == 0 else 'U'}\n" for i in range(400)))  # fmt: skip
    filler = _fill(tiny_disk)
    rc = cli.main(["evaluate", "--predictions", str(preds), "--labels", str(labels),
                   "--out-prefix", str(tiny_disk / "run")])  # fmt: skip
    _one_line_no_space(capfd, rc, "evaluate")
    assert list(tiny_disk.iterdir()) == [filler]


@pytest.mark.slow
def test_full_disk_predict_is_one_line_and_nothing_partial(tiny_disk, predict_inputs, capfd):
    filler = _fill(tiny_disk, leave=8_192)
    rc = cli.main([str(a) for a in _predict_argv(predict_inputs, tiny_disk / "pred.tsv")])
    _one_line_no_space(capfd, rc, "predict")
    assert list(tiny_disk.iterdir()) == [filler]


def test_enospc_from_a_patched_writer_is_one_line_and_nothing_partial(tmp_path, monkeypatch, capfd):
    """The same check where no tmpfs can be mounted: the labels writer fails as a full disk would."""
    from factornet_core import tabular

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tabular, "rows_bytes", full)
    sizes, peaks = _bin_inputs(tmp_path, 100_000)
    out = tmp_path / "out"
    out.mkdir()
    rc = cli.main(["bin", "--chrom-sizes", str(sizes), "--conservative", str(peaks), "--out-labels",
                   str(out / "labels.tsv")])  # fmt: skip
    _one_line_no_space(capfd, rc, "bin")
    assert list(out.iterdir()) == []


# --------------------------------------------------------------------------------------------- races
@pytest.mark.slow
def test_two_concurrent_runs_on_one_output_never_mix(tmp_path):
    """Two ``bin`` runs with different peaks write the same --out-labels at the same time: the file that
    remains is byte for byte one run's whole output, never a mix."""
    sizes, _ = _bin_inputs(tmp_path, 5_000_000)
    peaks_a = write_bed(tmp_path / "a.bed", [("chr1", 1000, 1300)])
    peaks_b = write_bed(tmp_path / "b.bed", [("chr1", 2_000_000, 2_000_400)])
    singles = {}
    for name, peaks in (("a", peaks_a), ("b", peaks_b)):
        rc, err = _finish(_factornet("bin", "--chrom-sizes", sizes, "--conservative", peaks,
                                     "--out-labels", tmp_path / f"single_{name}.tsv"))  # fmt: skip
        assert rc == 0, err
        singles[name] = (tmp_path / f"single_{name}.tsv").read_bytes()
    assert singles["a"] != singles["b"]
    shared = tmp_path / "race"
    shared.mkdir()
    for _ in range(2):
        procs = [
            _factornet(
                "bin", "--chrom-sizes", sizes, "--conservative", peaks, "--out-labels", shared / "labels.tsv"
            )
            for peaks in (peaks_a, peaks_b)
        ]
        results = [_finish(p) for p in procs]
        assert any(rc == 0 for rc, _ in results), results
        assert (shared / "labels.tsv").read_bytes() in (singles["a"], singles["b"])
        assert _parts(shared) == []  # both finished: no temporaries left
