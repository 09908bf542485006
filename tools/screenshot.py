#!/usr/bin/env python
"""A page photographed by headless Chromium: python tools/screenshot.py PAGE.html OUT.png [--size 1100,1200]

For the README's pictures (the notebook's check cells, the class report). Chromium is Debian's
package (`apt-get install chromium`); nothing in grading or training needs it.
"""
import argparse
import subprocess
import sys
import tempfile
from pathlib import Path


def screenshot(page, out, size=(1100, 1200), chromium="chromium"):
    """Photograph the local file page into out (PNG)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--user-data-dir=%s" % profile, "--window-size=%d,%d" % tuple(size),
                        "--screenshot=%s" % out.absolute(), Path(page).absolute().as_uri()],
                       check=True, capture_output=True, timeout=120)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(prog="screenshot.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("page")
    parser.add_argument("out")
    parser.add_argument("--size", default="1100,1200", help="the window, WIDTH,HEIGHT (default: %(default)s)")
    parser.add_argument("--chromium", default="chromium")
    args = parser.parse_args(argv)
    print("wrote %s" % screenshot(args.page, args.out, tuple(int(v) for v in args.size.split(",")), args.chromium))
    return 0


if __name__ == "__main__":
    sys.exit(main())
