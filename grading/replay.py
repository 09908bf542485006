"""Replay a grade: vae-teacher replay CLASS_RESULTS [NAME ...]

For an appeal, or to trust a grader after a change: the submissions of a class graded with
grade-class --json-dir are graded again, as they were handed in (the copy kept in
CLASS_RESULTS/graded/), on the very cases of the class (made again from the seed kept in
CLASS_RESULTS/seeds.json, and checked against the hash the results record), and every part's
points are compared with the recorded ones. It also says where this grader, Python, numpy or
autograd differ from those the grade recorded. Nothing of the class is changed.

Exit status: 0 when every part's points are the same, 1 when some differ, 2 when it cannot replay.
"""
import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from grading import class_report, classroom, provenance, results


def replay(json_dir, names=None, jobs=None, log=print, allow_unisolated=False):
    """[(name, [(part, recorded, now)], [(what, recorded, now)])] for the chosen submissions (all by
    default): the parts whose points differ, and the provenance that differs."""
    json_dir = Path(json_dir).absolute()
    manifest, entries = class_report.load(json_dir)
    known = {e["name"]: e for e in entries}
    unknown = sorted(set(names or ()) - set(known))
    if unknown:
        raise SystemExit("replay: error: no submission %s in this class (its submissions: %s)"
                         % (", ".join(map(repr, unknown)), ", ".join(sorted(known)[:20])))
    chosen = [e for e in entries if (not names or e["name"] in names) and e.get("result") is not None]
    skipped = [e["name"] for e in entries if (not names or e["name"] in names) and e.get("result") is None]
    for name in skipped:
        log("%s: not graded the first time: nothing to replay" % name)
    classroom.isolation_or_refuse(allow_unisolated, log)
    work = Path(tempfile.mkdtemp(prefix="grading-replay-"))   # 0700
    try:
        if manifest.get("reference_dir"):
            cases_dir = Path(manifest["reference_dir"])
            if provenance.cases_hash(cases_dir) != manifest.get("cases"):
                raise SystemExit("replay: error: %s no longer holds the cases that graded this class" % cases_dir)
        else:
            cases_dir = classroom.cases_again(json_dir, manifest.get("cases"), work / "cases", log)
        staged, items = work / "staged", []
        staged.mkdir(mode=0o700)
        for entry in chosen:
            graded = json_dir / entry.get("graded", "")
            if not entry.get("graded") or not graded.is_dir():
                raise SystemExit("replay: error: %s: no copy of what was graded in %s/graded/ (graded by an older "
                                 "grader, or deleted): grade it again" % (entry["name"], json_dir))
            reason = classroom.stage(graded, staged / entry["id"])
            items.append((entry["id"], None if reason else staged / entry["id"], reason))
        (work / "results").mkdir(mode=0o700)
        outcome = classroom.grade_folders(items, work / "results", jobs or 1, reference_dir=cases_dir,
                                          hide=[json_dir, staged], allow_unisolated=allow_unisolated)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = []
    for entry in chosen:
        recorded = entry["result"]
        again, problem = outcome.get(entry["id"], (None, "not replayed"))
        # What each grading recorded of itself: the grader, the versions, the cases.
        before = recorded["extra_data"].get("provenance") or {}
        after = ((again or {}).get("extra_data") or {}).get("provenance") or {}
        parts = []
        for part, value in recorded["extra_data"]["parts"].items():
            new = None if again is None else again["extra_data"]["parts"].get(part, {}).get("score")
            if new is None or abs(float(new) - float(value["score"])) > 1e-9:
                parts.append((part, value["score"], new if new is not None else problem))
        report.append((entry["name"], parts, provenance.differences(before, after)))
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(prog="vae-teacher replay", description=__doc__.split("\n\n")[0],
                                     epilog="Exit status: 0 the same points, 1 some differ, 2 cannot replay.")
    parser.add_argument("json_dir", metavar="CLASS_RESULTS", help="grade-class's --json-dir")
    parser.add_argument("names", metavar="NAME", nargs="*", help="submission folders to replay (default: all)")
    parser.add_argument("--jobs", type=int, default=None, help="submissions graded at once (default: 1)")
    parser.add_argument("--allow-unisolated", action="store_true", help="as grade-class's")
    args = parser.parse_args(argv)
    if class_report.load_manifest(args.json_dir) is None:
        print("replay: error: %s holds no graded class (class.json): grade-class --json-dir %s first"
              % (args.json_dir, args.json_dir), file=sys.stderr)
        return 2
    try:
        report = replay(args.json_dir, args.names, args.jobs, allow_unisolated=args.allow_unisolated)
    except SystemExit as e:
        print(e, file=sys.stderr)
        return 2
    differ = 0
    for name, parts, changed in report:
        for what, before, after in changed:
            print("%s: %s was %s when graded, is %s now" % (name, what, before, after))
        if parts:
            differ += 1
            print("%s: DIFFERENT: %s" % (name, "; ".join("part %s recorded %s, now %s" % (
                part, results.num(before), results.num(after) if isinstance(after, (int, float)) else after)
                for part, before, after in parts)))
        else:
            print("%s: the same points in every part" % name)
    print("%d of %d replayed submissions have the same points in every part" % (len(report) - differ, len(report)))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
