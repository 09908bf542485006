"""The class's marks for a learning platform: vae-teacher export CLASS_RESULTS --canvas FILE
[--moodle FILE] [--out-of N] [--assignment NAME]

From a class graded with grade-class --json-dir and --roster (the roster gives the identifiers
the platforms key by), overrides applied, each total scaled to --out-of. The export is written
again, with the same options, whenever the class changes (a review, a regrade, vae-teacher
report). Formats and their sources: grading/gradebook.py; README, The gradebook.
"""
import argparse
import sys
from pathlib import Path

from grading import class_report, classroom, gradebook, roster

KINDS = ("canvas", "moodle")


def class_match(manifest):
    """The roster's Match of the class, as grade-class kept it in class.json."""
    by_folder, unmatched = {}, []
    for entry in manifest.get("submissions", []):
        s = entry.get("student")
        if not s:
            unmatched.append(entry["name"])
            continue
        by_folder[entry["name"]] = roster.Student(folder=entry["name"], name=s.get("student", ""), email=s.get("email", ""),
                                                  student_id=s.get("student_id", ""), section=s.get("section", ""),
                                                  login=s.get("login", ""), line=0)
    return roster.Match(by_folder, unmatched, [], [])


def export(json_dir, kind, rows, path, out_of=100, assignment="VAE practical", identifier="idnumber", log=print):
    """Write the class's `kind` export of rows (grades.csv's, overrides applied) to path; returns
    gradebook's Export. classroom.refresh calls it for every export the teacher chose."""
    match = class_match(class_report.load_manifest(json_dir) or {})
    if kind == "canvas":
        result = gradebook.canvas_csv(rows, match, assignment, out_of)
    else:
        result = gradebook.moodle_csv(rows, match, assignment, out_of, identifier)
    gradebook.write(path, result.text)
    for name, why in result.skipped:
        log("%s: %s left out: %s" % (kind, name, why))
    for warning in result.warnings:
        log("%s: %s" % (kind, warning))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(prog="vae-teacher export", description=__doc__.split("\n\n")[0])
    parser.add_argument("json_dir", metavar="CLASS_RESULTS", help="grade-class's --json-dir")
    parser.add_argument("--canvas", metavar="FILE", help="Canvas's gradebook import CSV")
    parser.add_argument("--moodle", metavar="FILE", help="Moodle's grade import CSV")
    parser.add_argument("--out-of", type=float, default=100, help="the total's maximum in the gradebook (default 100)")
    parser.add_argument("--assignment", default="VAE practical", help="the assignment's (grade item's) name")
    parser.add_argument("--moodle-identifier", choices=sorted(gradebook.MOODLE_IDENTIFIERS), default="idnumber",
                        help="the roster's identifier Moodle matches users by (default %(default)s)")
    args = parser.parse_args(argv)
    if not (args.canvas or args.moodle):
        parser.error("say which export to write: --canvas FILE and/or --moodle FILE")
    if not args.out_of > 0:
        parser.error("--out-of must be a positive number")
    manifest = class_report.load_manifest(args.json_dir)
    if manifest is None:
        print("export: error: %s holds no graded class (class.json)" % args.json_dir, file=sys.stderr)
        return 1
    if not manifest.get("roster"):
        print("export: error: the class was graded without a roster, so its students have no identifiers: grade it "
              "with --roster ROSTER.csv (vae-teacher grade-class ... --roster ROSTER.csv)", file=sys.stderr)
        return 1
    exports = dict(manifest.get("exports") or {})
    for kind in KINDS:
        if getattr(args, kind):
            exports[kind] = {"path": str(Path(getattr(args, kind)).absolute()), "out_of": args.out_of,
                             "assignment": args.assignment}
            if kind == "moodle":
                exports[kind]["identifier"] = args.moodle_identifier
    try:
        # Kept in class.json: from now on every review and regrade writes the exports again.
        class_report.write_manifest(args.json_dir, dict(manifest, exports=exports))
        classroom.refresh(args.json_dir)
    except (ValueError, OSError) as e:
        class_report.write_manifest(args.json_dir, manifest)
        print("export: error: %s" % e, file=sys.stderr)
        return 1
    for kind in KINDS:
        if getattr(args, kind):
            print("wrote %s (%s)" % (getattr(args, kind), kind))
    return 0


if __name__ == "__main__":
    sys.exit(main())
