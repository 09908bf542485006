"""python -m grading: the teacher's command (grading/cli.py), also installed as vae-teacher."""
import sys

from grading.cli import main

sys.exit(main())
