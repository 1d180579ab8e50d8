"""Helpers for driving the real Galaxy web UI with Selenium (headless Chromium) in tests.

API side (standard library): make a user, upload files into its history, wait for datasets. Browser side: log in,
open a tool form, set text fields, insert repeats, expand sections, run, and screenshot a form as a small PNG.
Galaxy's client DOM (26.x): every form row is ``div#form-element-<name>`` where <name> is the parameter's full
name (``cells_0|tracks_0|track_name``); the run button is ``#execute``.
"""

from __future__ import annotations

import io
import json
import shutil
import time
import urllib.request
import uuid
from pathlib import Path


class GalaxyAPI:
    """The few API calls the browser test needs, with one API key."""

    def __init__(self, url: str, key: str):
        self.url, self.key = url.rstrip("/"), key

    def call(
        self, method: str, path: str, payload: dict | None = None, body: bytes | None = None, ctype=None
    ):
        headers = {"x-api-key": self.key}
        if payload is not None:
            body, ctype = json.dumps(payload).encode(), "application/json"
        if ctype:
            headers["content-type"] = ctype
        req = urllib.request.Request(f"{self.url}/api/{path}", data=body, headers=headers, method=method)
        with urllib.request.urlopen(req, timeout=120) as resp:
            return json.load(resp)

    def create_user(self, email: str, password: str) -> tuple[str, str]:
        """(user id, API key) of a new user; needs an admin key."""
        user = self.call(
            "POST", "users", {"username": email.split("@")[0], "email": email, "password": password}
        )
        return user["id"], self.call("POST", f"users/{user['id']}/api_key", {})

    def upload(self, history_id: str, path: Path, ext: str, name: str | None = None) -> str:
        """Upload a local file (multipart, as the web client does) → the new dataset's id."""
        targets = [
            {
                "destination": {"type": "hdas"},
                "elements": [{"src": "files", "ext": ext, "name": name or path.name, "dbkey": "?"}],
            }
        ]
        boundary = uuid.uuid4().hex
        buf = io.BytesIO()
        for field, filename, data in (
            ("history_id", None, history_id.encode()),
            ("targets", None, json.dumps(targets).encode()),
            ("files_0|file_data", path.name, path.read_bytes()),
        ):
            buf.write(f"--{boundary}\r\n".encode())
            disp = f'form-data; name="{field}"' + (f'; filename="{filename}"' if filename else "")
            buf.write(f"Content-Disposition: {disp}\r\n\r\n".encode())
            buf.write(data + b"\r\n")
        buf.write(f"--{boundary}--\r\n".encode())
        out = self.call(
            "POST", "tools/fetch", body=buf.getvalue(), ctype=f"multipart/form-data; boundary={boundary}"
        )
        return out["outputs"][0]["id"]

    def wait_history(self, history_id: str, n: int, timeout: float) -> list[dict]:
        """Wait until the history holds ``n`` visible datasets, all finished; → their details (hid order)."""
        t0 = time.monotonic()
        while True:
            items = self.call(
                "GET", f"histories/{history_id}/contents?v=dev&keys=hid,name,state,extension,visible"
            )
            items = [i for i in items if i.get("visible", True)]
            if len(items) >= n and all(i["state"] in ("ok", "error", "failed_metadata") for i in items):
                return sorted(items, key=lambda i: i["hid"])
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"history not done after {timeout:.0f} s: {items}")
            time.sleep(3)


def chromium_driver(window: tuple[int, int] = (1400, 1000)):
    """Headless Chromium through Debian's chromium-driver (or a chromedriver on PATH)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={window[0]},{window[1]}",
    ):
        opts.add_argument(arg)
    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if binary:
        opts.binary_location = binary
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


def login(driver, url: str, email: str, password: str, timeout: float = 300) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{url}/login/start")
    wait = WebDriverWait(driver, timeout)
    wait.until(EC.presence_of_element_located((By.ID, "login-form-name"))).send_keys(email)
    driver.find_element(By.ID, "login-form-password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "button[name=login]").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#current-history-panel")))


class ToolForm:
    """One tool form in the browser: fields are found by the parameter's full name (``section|param``)."""

    def __init__(self, driver, url: str, tool_id: str, timeout: float = 300):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver, self.By, self.EC = driver, By, EC
        self.wait = WebDriverWait(driver, timeout)
        driver.get(f"{url}/?tool_id={tool_id}")
        self.wait.until(EC.presence_of_element_located((By.ID, "execute")))
        self.wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "[id^='form-element-']")))
        time.sleep(2)  # data selects fill in from the history after the form renders

    def set_text(self, name: str, value: str) -> None:
        # the row's text box (an integer/float row also has a slider: the first input is the box)
        css = f"[id='form-element-{name}'] input:not([type=range]):not([type=hidden])"
        field = self.wait.until(self.EC.presence_of_element_located((self.By.CSS_SELECTOR, css)))
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", field)
        # select-all + type: clear() on a number box lets the form put its value back before the keys arrive
        from selenium.webdriver.common.keys import Keys

        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(value)
        time.sleep(0.3)
        if field.get_attribute("value") != value:
            raise AssertionError(f"{name}: typed {value!r}, the form shows {field.get_attribute('value')!r}")

    def click_button(self, text: str) -> None:
        """A repeat's "Insert ..." button, by its label (the button also holds a screen-reader tooltip)."""
        label = json.dumps(text)
        xpath = f"//button[.//*[@data-description='repeat insert' and normalize-space(.)={label}]]"
        self._click(self.wait.until(self.EC.presence_of_element_located((self.By.XPATH, xpath))))

    def _click(self, element) -> None:
        """Scroll into view and click (a plain click can land on a sticky header above the element)."""
        self.driver.execute_script(
            "arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", element
        )
        time.sleep(1)

    def expand_section(self, title: str) -> None:
        xpath = f"//div[contains(@class,'portlet-header')][.//*[normalize-space(text())={json.dumps(title)}]]"
        self._click(self.wait.until(self.EC.presence_of_element_located((self.By.XPATH, xpath))))

    def selected_text(self, name: str) -> str:
        """What a select (data or options) shows as chosen."""
        return self.driver.find_element(self.By.ID, f"form-element-{name}").text

    def run(self) -> None:
        button = self.wait.until(
            lambda d: (
                d.find_element(self.By.ID, "execute")
                if "g-disabled" not in d.find_element(self.By.ID, "execute").get_attribute("class")
                else False
            )
        )
        self._click(button)

    def screenshot(self, path: Path, width: int = 900, colors: int = 16) -> Path:
        """The form (centre panel) as a small palette PNG: ``width`` px wide, ``colors`` colours."""
        from PIL import Image

        panel = self.driver.find_element(self.By.ID, "center")
        # Make the whole form visible: the centre panel scrolls, so grow the window to the form's height.
        height = self.driver.execute_script(
            "const c = document.querySelector('#center .center-frame, #center > div') || document.body;"
            "return Math.max(c.scrollHeight, document.getElementById('center').scrollHeight);"
        )
        size = self.driver.get_window_size()
        self.driver.set_window_size(size["width"], min(int(height) + 200, 6000))
        time.sleep(1)
        image = Image.open(io.BytesIO(panel.screenshot_as_png)).convert("RGB")
        self.driver.set_window_size(size["width"], size["height"])
        if image.width > width:
            image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
        image = image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, optimize=True)
        return path
