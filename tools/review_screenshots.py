#!/usr/bin/env python
"""The README's pictures of the teacher's route: python tools/review_screenshots.py

Grades a class of two in a temporary folder (tests/fixtures' original practical, right, and with
its ADAM step going down the gradient, which hands in the default run's samples.png), opens the
review page on the flagged part in headless Chromium (selenium), types a comment, and photographs
it into docs/review_page.png; then photographs that student's feedback page into
docs/feedback_page.png. Needs selenium, chromium and chromium-driver, which grading never does.
"""
import argparse
import base64
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def original_variants():
    """tests/fixtures/original_variants.py, loaded by its path (a fixture, not a package)."""
    spec = importlib.util.spec_from_file_location("original_variants", ROOT / "tests" / "fixtures" / "original_variants.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def photograph(driver, out, width=1100, most=1700):
    """The whole page (to `most` pixels high) as a PNG, past the window's height."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "captureBeyondViewport": True, "clip": {"x": 0, "y": 0, "width": width, "height": min(height, most), "scale": 1}})
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_bytes(base64.b64decode(shot["data"]))
    print("wrote %s" % out)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="review_screenshots.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    parser.add_argument("--out", default=str(ROOT / "docs"), help="where the two PNGs go (default: docs/)")
    args = parser.parse_args(argv)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    teacher = [sys.executable, "-m", "grading"]
    with tempfile.TemporaryDirectory(prefix="review-shots-") as base:
        base = Path(base)
        variants = {v.name: v for v in original_variants().ORIGINAL_VARIANTS}
        variants["original_descent"].write(base / "subs" / "dee")
        shutil.copy(ROOT / "docs" / "default" / "samples.png", base / "subs" / "dee")   # her own run's
        variants["original_right"].write(base / "subs" / "bob")
        (base / "roster.csv").write_text("folder,name,email,student_id,section\n"
                                         "dee,Dee Dee,dee@uni.edu,s004,A\nbob,Bob Jones,bob@uni.edu,s002,B\n")
        subprocess.run(teacher + ["grade-class", str(base / "subs"), "--roster", str(base / "roster.csv"),
                                  "--out", str(base / "grades.csv"), "--json-dir", str(base / "res"),
                                  "--report", str(base / "rep")], check=True, cwd=ROOT)
        server = subprocess.Popen(teacher + ["review", str(base / "res"), "--reviewer", "T. Teacher"],
                                  stdout=subprocess.PIPE, text=True, cwd=ROOT)
        options = webdriver.ChromeOptions()
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1100,1500",
                         "--hide-scrollbars"):
            options.add_argument(argument)
        options.binary_location = args.chromium
        driver = webdriver.Chrome(service=Service(args.chromedriver), options=options)
        try:
            url = next(line.split(": ", 1)[1].strip() for line in server.stdout if line.startswith("review page: "))
            driver.get(url)
            driver.find_element(By.ID, "item-0").click()
            time.sleep(2)
            driver.find_element(By.ID, "comment").send_keys(
                "The step goes down the gradient: the bound falls. The rest is Figure 5.")
            photograph(driver, Path(args.out) / "review_page.png")
            dee = next(p for p in sorted((base / "rep" / "feedback").glob("*.html")) if "Dee Dee" in p.read_text())
            driver.get(dee.as_uri())
            time.sleep(1)
            photograph(driver, Path(args.out) / "feedback_page.png")
        finally:
            driver.quit()
            server.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
