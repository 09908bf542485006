#!/usr/bin/env python
"""python tools/teacher.py ...: vae-teacher (grading/cli.py) under its old name."""
import sys

from grading.cli import main

if __name__ == "__main__":
    sys.exit(main())
