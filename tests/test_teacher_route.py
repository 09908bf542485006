"""The teacher's route end to end, in a real browser (headless Chromium, driven by selenium): a
generated class with a roster graded, the review page used to set a flagged part's points, the
override kept by a regrade and flagged again when the part's automatic result changes, the
override in grades.csv, the class report and the Canvas and Moodle exports, the feedback page
rendered with its images, and a replay of the class giving every part's points again."""
import csv
import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import original_variants  # tests/fixtures

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM, CHROMEDRIVER = shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver") or "/usr/bin/chromedriver"
COMMENT = "Your update is right for the objective you wrote; -2 for not saying so."


def teacher(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "grading"] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=900)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("no Chromium here (apt-get install chromium chromium-driver; .ci/run installs them)")
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,1600"):
        options.add_argument(argument)
    options.binary_location = CHROMIUM
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def wait_for(driver, element_id, seconds=120):
    """The element, once the page that has it has loaded: a click returns before the next page
    arrives, and a save makes the class's files again before it answers."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, seconds).until(expected_conditions.presence_of_element_located((By.ID, element_id)))


class ReviewServer:
    def __init__(self, json_dir):
        self.proc = subprocess.Popen([sys.executable, "-m", "grading", "review", str(json_dir), "--reviewer",
                                      "T. Teacher"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.url = None
        for line in self.proc.stdout:
            if line.startswith("review page: "):
                self.url = line.split(": ", 1)[1].strip()
                break
        assert self.url and self.url.startswith("http://127.0.0.1:"), "the review server did not start"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def grades(path):
    with open(path, newline="") as f:
        return {row["submission"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def route_class(tmp_path_factory):
    driver = browser()   # skip before grading anything when there is no browser
    base = tmp_path_factory.mktemp("route")
    subs = base / "submissions"
    (subs / "ada").mkdir(parents=True)
    for name in ("vae.py", "adam.py"):
        shutil.copy(ROOT / name, subs / "ada" / name)
    variants = {v.name: v for v in original_variants.ORIGINAL_VARIANTS}
    variants["original_right"].write(subs / "bob")
    variants["original_descent"].write(subs / "dee")   # 2.2: 10 of 15, a slip: partial credit to review
    shutil.copy(ROOT / "grading" / "practical_figures" / "samples.png", subs / "dee")   # what her own run saved
    (subs / "late").mkdir()
    shutil.copy(original_variants.ORIGINAL.parent / "original_handout" / "vae.py", subs / "late" / "vae.py")
    roster = base / "roster.csv"
    roster.write_text("folder,name,email,student_id,section\nada,Ada Lovelace,ada@uni.edu,s001,A\n"
                      "bob,=HYPERLINK(\"http://x\"),bob@uni.edu,s002,B\ndee,Dee Dee,dee@uni.edu,s004,A\n"
                      "gone,Gone Away,gone@uni.edu,s009,B\n")
    res, rep = base / "results", base / "report"
    out = teacher("grade-class", subs, "--out", base / "grades.csv", "--json-dir", res, "--report", rep,
                  "--roster", roster, "--jobs", "2")
    teacher("export", res, "--canvas", base / "canvas.csv", "--moodle", base / "moodle.csv", "--out-of", 20)
    yield {"base": base, "subs": subs, "res": res, "rep": rep, "log": out.stdout, "driver": driver}
    driver.quit()


def test_the_teachers_route_from_review_to_gradebook(route_class):
    from selenium.webdriver.common.by import By
    c, driver = route_class, route_class["driver"]
    base, res, rep = c["base"], c["res"], c["rep"]
    assert "folder" in c["log"] and "late" in c["log"] and "Gone Away" in c["log"], c["log"]   # roster's misses said
    assert grades(base / "grades.csv")["dee"]["2.2"] == "10"

    with ReviewServer(res) as server:
        # Nobody without the token, and no other host name, gets the page.
        for url, headers in ((server.url.split("?")[0], {}), (server.url, {"Host": "evil.example:80"})):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30)
            assert refused.value.code == 403
        driver.get(server.url)
        assert driver.find_element(By.ID, "left").text.startswith("1 of 1 parts left")
        driver.find_element(By.ID, "item-0").click()
        wait_for(driver, "points")
        assert "dee" in driver.title and "2.2" in driver.title
        code = driver.find_element(By.ID, "code").text   # ADAM's update: the main block's lines that did it
        assert "m_hat = m / (1 - beta1 ** t)" in code and "save_images" not in code and "load_mnist" not in code
        whole = driver.find_element(By.ID, "whole").get_attribute("textContent")   # all of it, folded
        assert "load_mnist()" in whole and "save_images" in whole
        assert driver.find_element(By.ID, "automatic").text == "10"
        points = driver.find_element(By.ID, "points")
        points.clear()
        points.send_keys("16")   # above the part's 15: the browser's own check refuses it; so does the server
        driver.find_element(By.ID, "save").click()
        assert not (res / "overrides.json").exists()
        # The server's own checks, past the browser's: out of range, and a post without the token
        # (another page in the browser cannot know it).
        token = urllib.parse.parse_qs(urllib.parse.urlsplit(server.url).query)["token"][0]
        for form, code in (({"token": token, "points": "16"}, 400), ({"token": token, "points": "nan"}, 400),
                           ({"token": "guess", "points": "13"}, 403), ({"points": "13"}, 403)):
            data = urllib.parse.urlencode(dict(form, name="dee", part="2.2", comment="", reviewer="x")).encode()
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(server.url.split("?")[0] + "item/0", data=data, timeout=30)
            assert refused.value.code == code, form
        assert not (res / "overrides.json").exists()
        points = driver.find_element(By.ID, "points")
        points.clear()
        points.send_keys("13")
        driver.find_element(By.ID, "comment").send_keys(COMMENT)
        driver.find_element(By.ID, "save").click()
        assert "Saved: dee, part 2.2, 13 points" in wait_for(driver, "saved").text
        assert driver.find_element(By.ID, "left").text.startswith("0 of 1 parts left")
    override = json.loads((res / "overrides.json").read_text())["overrides"]["dee"]["2.2"]
    assert override["points"] == 13 and override["comment"] == COMMENT and override["reviewer"] == "T. Teacher"
    assert override["automatic"] == 10 and override["time"]

    def shows_override():
        row = grades(base / "grades.csv")["dee"]
        assert (row["2.2"], row["total"], row["by_hand"]) == ("13", "98", "2.2=13 (automatic 10)")
        assert row["student"] == "Dee Dee" and row["student_id"] == "s004"
        canvas = list(csv.reader(open(base / "canvas.csv", newline="")))
        assert canvas[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
        assert ["Dee Dee", "", "s004", "", "A", "19.6"] in canvas                  # 98 of 100, out of 20
        assert any(r[0] == "'=HYPERLINK(\"http://x\")" for r in canvas)            # never a formula
        moodle = list(csv.reader(open(base / "moodle.csv", newline="")))
        assert ["s004", "19.6"] in moodle and not any("late" in r for r in moodle + canvas)
        report = (rep / "index.html").read_text()
        assert "set by hand: 13 (T. Teacher" in report and "0 part(s) left to review" in report
        dee = next(e for e in json.loads((res / "class.json").read_text())["submissions"] if e["name"] == "dee")
        assert "feedback/%s.html" % dee["id"] in report
        page = (rep / "feedback" / (dee["id"] + ".html")).read_text()
        assert COMMENT in page and "Total: 98 / 100" in page and "seed" not in page.lower()
        assert str(res) not in page and "Ada" not in page
        return dee["id"]

    ident = shows_override()
    others = {k: v for k, v in grades(base / "grades.csv").items() if k != "dee"}
    teacher("grade-class", c["subs"], "--json-dir", res, "--only", "dee")   # a regrade: the same result, kept
    shows_override()
    assert {k: v for k, v in grades(base / "grades.csv").items() if k != "dee"} == others   # untouched

    # The feedback page, in the browser, offline: every image embedded and drawn.
    driver.get((rep / "feedback" / (ident + ".html")).as_uri())
    sizes = driver.execute_script("return Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
    assert len(sizes) >= 2 and all(s > 0 for s in sizes), sizes
    assert COMMENT in driver.find_element(By.ID, "part-2.2").text
    assert "you handed in" in driver.execute_script("return Array.from(document.images).map(i => i.alt).join()")

    # What the part's automatic result depends on changes: the override no longer holds.
    (c["subs"] / "dee" / "vae.py").write_text((c["subs"] / "bob" / "vae.py").read_text())
    teacher("grade-class", c["subs"], "--json-dir", res, "--only", "dee")
    row = grades(base / "grades.csv")["dee"]
    assert (row["2.2"], row["to_review"], row["by_hand"]) == ("15", "2.2", "")
    with ReviewServer(res) as server:
        driver.get(server.url)
        assert driver.find_element(By.ID, "left").text.startswith("1 of 1 parts left")
        assert "then 10, now 15; set by hand: 13" in driver.page_source
    assert "to review again" in (rep / "index.html").read_text()

    # A replay of the class on its recorded cases: every part's points again.
    replay = teacher("replay", res)
    assert "4 of 4 replayed submissions have the same points in every part" in replay.stdout, replay.stdout


def test_review_refuses_a_folder_that_is_not_a_graded_class(tmp_path):
    proc = teacher("review", tmp_path, check=False)
    assert proc.returncode == 1 and "grade-class" in proc.stderr
