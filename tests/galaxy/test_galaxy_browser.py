"""The FactorNet tools as users meet them: the real Galaxy web UI in headless Chromium (Selenium).

A new user logs in, test data is uploaded to the history, every FactorNet tool form is opened and photographed, then
the train form is filled in the browser (a cell type with a track and peaks, a tiny architecture), run, and its model
fed to the predict form, run too; both jobs must end green (ok) and the prediction table must be the expected grid.

Screenshots go to the test's folder; set FACTORNET_SCREENSHOTS=galaxy_wrappers/screenshots to refresh the README's.
Needs Debian's `chromium` + `chromium-driver` and `selenium` (the [test] extra); .ci/run installs them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
import urllib.request
from pathlib import Path

import pytest
from galaxy_ui import GalaxyAPI, ToolForm, chromium_driver, login

REPO = Path(__file__).resolve().parents[2]
TEST_DATA = REPO / "galaxy_wrappers" / "test-data"

pytestmark = pytest.mark.galaxy


@pytest.fixture
def browser():
    pytest.importorskip("selenium", reason="selenium not installed (the [test] extra)")
    if not shutil.which("chromedriver"):
        pytest.skip("no chromedriver: apt-get install chromium chromium-driver")
    driver = chromium_driver()
    yield driver
    driver.quit()


def _read(api: GalaxyAPI, dataset_id: str) -> str:
    req = urllib.request.Request(f"{api.url}/api/datasets/{dataset_id}/display?preview=false")
    req.add_header("x-api-key", api.key)
    with urllib.request.urlopen(req, timeout=120) as resp:
        return resp.read().decode()


def test_train_and_predict_in_the_browser(galaxy, browser, tmp_path):
    t0 = time.monotonic()
    email, password = f"ui{secrets.token_hex(3)}@factornet.test", secrets.token_urlsafe(12)
    _, user_key = GalaxyAPI(galaxy.url, galaxy.admin_key).create_user(email, password)
    api = GalaxyAPI(galaxy.url, user_key)
    login(browser, galaxy.url, email, password)
    history = api.call("GET", "histories/most_recently_used")["id"]  # the one the browser shows
    for name, ext in (
        ("genome.fa", "fasta"),
        ("CellA.CTCF.conservative.narrowPeak", "encodepeak"),
        # only for the prepare form's picture; before the bigWig, which then has the newest hid and is preselected
        # (Galaxy also offers a BAM "as bigwig", through its converter)
        ("prepare.rep1.bam", "bam"),
        ("CellA.DNASE.bw", "bigwig"),
    ):
        api.upload(history, TEST_DATA / name, ext)
    uploaded = api.wait_history(history, 4, timeout=900)
    assert [d["state"] for d in uploaded] == ["ok"] * 4, uploaded

    # Train: one cell type, its DNase track and CTCF peaks (preselected: the only bigWig / narrowPeak), chr2 to
    # validate, a tiny network for two epochs.
    form = ToolForm(browser, galaxy.url, "factornet_train")
    assert "genome.fa" in form.selected_text("reference|genome")
    assert "CellA.DNASE.bw" in form.selected_text("cells_0|tracks_0|bigwig")
    form.set_text("cells_0|cell_name", "CellA")
    form.click_button("Insert ChIP-seq peaks of a TF")
    form.set_text("cells_0|peaks_0|tf", "CTCF")
    assert "CellA.CTCF.conservative.narrowPeak" in form.selected_text("cells_0|peaks_0|conservative")
    form.set_text("mode|tf", "CTCF")
    form.set_text("chromosomes|valid_chroms", "chr2")
    form.expand_section("Training")
    form.set_text("training|epochs", "2")
    form.expand_section("Architecture")
    for name, value in (
        ("seq_len", 200),
        ("kernel_width", 10),
        ("kernels", 4),
        ("lstm_units", 4),
        ("dense_units", 8),
    ):
        form.set_text(f"architecture|{name}", str(value))
    form.run()
    trained = api.wait_history(history, 7, timeout=1500)
    assert [d["state"] for d in trained] == ["ok"] * 7, trained
    model = next(d for d in trained if d["extension"] == "zip")

    # Predict with the model just trained (the newest zip, preselected) on chr2 of the same cell type.
    form = ToolForm(browser, galaxy.url, "factornet_predict")
    assert f"{model['hid']}:" in form.selected_text("model")
    form.set_text("regions|chroms", "chr2")
    form.run()
    done = api.wait_history(history, 8, timeout=1200)
    assert [d["state"] for d in done] == ["ok"] * 8, done

    predictions = _read(api, done[-1]["id"]).splitlines()
    assert predictions[0] == "chr\tstart\tstop\tCTCF"
    assert len(predictions) == 1198 and all(row.startswith("chr2\t") for row in predictions[1:])
    assert all(0.0 <= float(row.split("\t")[3]) <= 1.0 for row in predictions[1:])

    # ... and the history panel the user sees shows every dataset green.
    browser.get(galaxy.url)
    form.wait.until(
        lambda d: len(d.find_elements(form.By.CSS_SELECTOR, "#current-history-panel [data-state='ok']")) >= 8
    )
    assert not browser.find_elements(form.By.CSS_SELECTOR, "#current-history-panel [data-state='error']")
    # Every FactorNet form renders, with this history's data preselected; keep a picture of each.
    shots = Path(os.environ.get("FACTORNET_SCREENSHOTS") or tmp_path / "screenshots")
    shots = shots if shots.is_absolute() else REPO / shots
    for tool in galaxy.tools:
        form = ToolForm(browser, galaxy.url, tool["id"])
        assert form.driver.find_element(form.By.CSS_SELECTOR, "[id^='form-element-']")
        png = form.screenshot(shots / f"{tool['id']}.png")
        assert 5_000 < png.stat().st_size < 150_000, (png, png.stat().st_size)

    print(f"browser test {time.monotonic() - t0:.0f} s")
