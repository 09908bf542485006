"""The class's grades as a learning platform imports them: Canvas's gradebook CSV, Moodle's CSV.

Input: grades.csv's rows (classroom.py: `submission`, the folder's printable name, `total`, ""
when the submission could not be graded, and `max`), and the roster's Match (roster.py), which
says whose each folder is. A grade is scaled to out_of points (scaled()). Each export returns an
Export: the CSV text, the rows left out as (submission, reason), and warnings for the teacher.

Left out: a submission whose folder matched no roster row, or whose row lacks the identifier the
platform keys by. An ungraded submission gets an empty grade cell, never 0 (both platforms read
an empty cell as "no grade", which clears a grade already entered: a warning says so). Every cell
whose text comes from students or the roster is written as text a spreadsheet will not run as a
formula (cell()); the grades, computed here, stay numbers.

Formats, as checked in stored copies of the documentation and the platforms' source (GRADEBOOK_NOTES.md
has the longer notes):

Canvas. The Instructure guide "How do I import grades in the Gradebook?"
(https://community.canvaslms.com/t5/Instructor-Guide/How-do-I-import-grades-in-the-Gradebook/ta-p/807,
now https://community.instructure.com/en/kb/articles/660862-how-do-i-import-grades-in-the-gradebook)
was not among the stored copies searchable here; what Canvas reads is taken from its importer,
instructure/canvas-lms app/models/gradebook_importer.rb:
  - the header: `row[0].include?("Student") && row[1].include?("ID")`, then "SIS User ID" followed
    by "SIS Login ID" (or "SIS Login ID" alone), and the last student column must include
    "Section"; reserved names "Student", "ID", "SIS User ID", "SIS Login ID", "Section", ...
  - an assignment column is "Title (id)" (`Assignment.title_and_id`: /\\A(.*)\\s\\((\\d+)\\)\\z/), else
    matched by title, else a new assignment; titles matching "Current Score", "Final Grade",
    "Override Score", ... are dropped as read-only.
  - a student: by ID (Canvas's own user id), else `@pseudonyms_by_sis_id` (SIS User ID), else
    `@pseudonyms_by_login_id` (SIS Login ID), else `s.name == name || s.sortable_name == name`.
    So ID is left blank here: the SIS columns key the row.
  - a row whose first cell includes "Points Possible" sets the assignments' points possible.
  A university's guide (https://teaching.resources.osu.edu/toolsets/carmencanvas/guides/calculating-
  final-grades/import-csv-file-carmen-grades) lists the same: "Student Name (last name, first
  name) OR Student ID OR Student SIS User ID ... SIS Login ID ... Section ... Assignment Name".

Moodle. MoodleDocs "Grade import" (https://docs.moodle.org/311/en/Grade_import): "Preview the
grade import and choose the column mapping", and: 'By default "Map from" is set to First Name,
and "Map to" to userid. Change both dropdowns to: "Email Address" to "useremail", or to "Id
Number" to "useridnumber"'. The importer (moodle/moodle grade/import/csv/classes/load_data.php)
maps a user from userid, useridnumber, useremail or username; each other column to a grade item,
a new item, or "feedback" for an item; an empty or "-" grade is "No grade"; a user not found
aborts the whole import ("User not found, abort whole import"), and (in the version read) a row
with a blank identifier finds no user but its grades go to the PREVIOUS row's user (`studentid`
is kept across rows) -- so rows without the identifier are left out here, never written blank. Grades above 100
need the site's 'unlimitedgrades' setting (Note 2 of the docs).
"""
import csv
import io
from typing import NamedTuple

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")   # what a spreadsheet may run as a formula

# Canvas drops an assignment column whose title matches one of these (gradebook_importer.rb).
CANVAS_READ_ONLY = ("Current Score", "Current Points", "Current Grade", "Final Score", "Final Points",
                    "Final Grade", "Override Score", "Override Grade", "Override Status")
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")

# Moodle's identifier choices: the roster's field, the column's header (Moodle's own export's
# name for it), and the "Map to" choice the teacher picks in Moodle's import screen.
MOODLE_IDENTIFIERS = {
    "idnumber": ("student_id", "ID number", "useridnumber"),
    "email": ("email", "Email address", "useremail"),
    "username": ("login", "Username", "username"),
}


class Export(NamedTuple):
    text: str        # the CSV
    skipped: list    # (submission, reason): rows left out
    warnings: list   # lines for the teacher


def cell(value):
    """A CSV cell that spreadsheets show as text, never run as a formula (grades.csv's too)."""
    text = str(value)
    return "'" + text if text[:1] in FORMULA_START else text


def scaled(total, max_total, out_of):
    """total of max_total as points out of out_of, rounded to 2 decimals; None if ungraded ("")."""
    if total is None or str(total).strip() == "":
        return None
    max_total = float(max_total)
    if not max_total > 0:
        raise ValueError("max must be a positive number of points, not %r" % (max_total,))
    return round(float(total) / max_total * float(out_of), 2)


def number(points):
    """A grade cell: '14.7', '20', or '' for no grade."""
    return "" if points is None else ("%.2f" % points).rstrip("0").rstrip(".")


def student_of(row, match):
    """The roster's Student for row's folder, or None. grades.csv, read back, has a formula-like
    folder name escaped ("'=x"): the name as it was is tried too."""
    if match is None:
        return None
    name = row.get("submission", "")
    found = match.by_folder.get(name)
    if found is None and name[:1] == "'" and name[1:2] in FORMULA_START:
        found = match.by_folder.get(name[1:])
    return found


def _grade(row, out_of):
    try:
        return scaled(row.get("total", ""), row.get("max", ""), out_of)
    except ValueError as e:
        raise ValueError("submission %r: total %r of max %r: %s" % (row.get("submission"), row.get("total"),
                                                                    row.get("max"), e)) from None


def _csv(rows):
    """rows as CSV, lines ended by CRLF (RFC 4180): the csv module quotes a cell holding any
    character of the line terminator, so with CRLF a lone carriage return in a name is quoted too
    (with "\n" alone it would be written bare, and end the row early in the platform's reader)."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def _keyed(rows, match, key_fields, key_names):
    """(row, student) for each row that can be keyed; skipped (submission, reason) for the rest."""
    keyed, skipped = [], []
    for row in rows:
        submission = row.get("submission", "")
        student = student_of(row, match)
        if student is None:
            ambiguous = match is not None and any(submission in folders for folders, _ in match.ambiguous)
            skipped.append((submission, "no roster given" if match is None else
                            "ambiguous: roster folder names differ from it only in case or spaces" if ambiguous else
                            "no roster row names this folder"))
        elif not any(getattr(student, f) for f in key_fields):
            skipped.append((submission, "the roster's row for it (line %d) has no %s"
                            % (student.line, " or ".join(key_names))))
        else:
            keyed.append((row, student))
    return keyed, skipped


def _warnings(keyed, grades, identifiers, platform, match, unmatched):
    """What the teacher should know before importing: identifiers that had to be escaped (they
    will not match as written), and ungraded rows (an empty cell clears a grade)."""
    warnings = [] if match is not None else ["no roster: no submission can be keyed to a student"]
    for (row, student), _ in zip(keyed, grades):
        for field, column in identifiers:
            value = getattr(student, field)
            if cell(value) != value:
                warnings.append("%s: its %s %r starts with a character spreadsheets read as a formula, so it is "
                                "written as %r, which %s does not know: %s" % (row.get("submission"), column, value,
                                                                               cell(value), platform, unmatched))
    ungraded = [row.get("submission", "") for (row, _), g in zip(keyed, grades) if g is None]
    if ungraded:
        warnings.append("%d ungraded submission%s (%s) %s an empty grade cell: %s reads it as no grade, which clears "
                        "a grade already entered; delete %s row%s before importing if that is not wanted"
                        % (len(ungraded), "" if len(ungraded) == 1 else "s", ", ".join(ungraded),
                           "has" if len(ungraded) == 1 else "have", platform,
                           "its" if len(ungraded) == 1 else "their", "" if len(ungraded) == 1 else "s"))
    return warnings


# ---------------------------------------------------------------------------
# Canvas

def canvas_title(assignment, assignment_id=None):
    """The assignment column's header: 'VAE practical (12345)' for an existing assignment (Canvas
    matches the id), 'VAE practical' for a new one (or one matched by its exact title)."""
    assignment = str(assignment).strip()
    if not assignment:
        raise ValueError("the assignment needs a name")
    if assignment in CANVAS_COLUMNS or any(word in assignment for word in CANVAS_READ_ONLY):
        raise ValueError("Canvas would not read %r as an assignment: it is, or contains, one of its own column "
                         "names (%s)" % (assignment, ", ".join(CANVAS_COLUMNS + CANVAS_READ_ONLY)))
    if assignment_id is None or str(assignment_id).strip() == "":
        title, digits = assignment.rpartition(" (")[::2]
        if title and digits.endswith(")") and digits[:-1].isdigit():
            raise ValueError("Canvas would read %r as assignment number %s: give assignment_id, or a name that does "
                             "not end in a number in parentheses" % (assignment, digits[:-1]))
        return assignment
    assignment_id = str(assignment_id).strip()
    if not (assignment_id.isascii() and assignment_id.isdigit()):
        raise ValueError("a Canvas assignment id is a number (the one in the assignment's web address), not %r"
                         % assignment_id)
    return "%s (%s)" % (assignment, assignment_id)


def canvas_csv(rows, match, assignment="VAE practical", out_of=100, assignment_id=None, points_possible=True):
    """Canvas's gradebook import CSV: Student, ID, SIS User ID, SIS Login ID, Section, the
    assignment; a "Points Possible" row (out_of) under the header unless points_possible is False.
    Rows are keyed by SIS User ID (the roster's student_id) or SIS Login ID (its login); ID,
    Canvas's own number for the user, is left blank. Returns an Export."""
    title = canvas_title(assignment, assignment_id)
    keyed, skipped = _keyed(rows, match, ("student_id", "login"), ("student_id", "login"))
    grades = [_grade(row, out_of) for row, _ in keyed]
    table = [list(CANVAS_COLUMNS) + [cell(title)]]
    if points_possible:
        table.append(["Points Possible", "", "", "", "", number(float(out_of))])
    for (row, s), grade in zip(keyed, grades):
        table.append([cell(s.name), "", cell(s.student_id), cell(s.login), cell(s.section), number(grade)])
    warnings = _warnings(keyed, grades, (("student_id", "SIS User ID"), ("login", "SIS Login ID")), "Canvas", match,
                         "Canvas then matches the row by the student's name at best; check this grade after the import")
    return Export(_csv(table), skipped, warnings)


# ---------------------------------------------------------------------------
# Moodle

def moodle_csv(rows, match, item="VAE practical", out_of=100, identifier="idnumber", feedback=False):
    """Moodle's "Import grades from CSV" file: the identifier column (identifier: "idnumber", the
    roster's student_id; "email"; or "username", its login), a grade column named item, and, if
    feedback, a column "<item> feedback" holding the grading's problems. In Moodle's import
    screen, map the identifier column ("Map from") to useridnumber, useremail or username ("Map
    to"), and the grade column to the grade item. Returns an Export."""
    if identifier not in MOODLE_IDENTIFIERS:
        raise ValueError("identifier must be one of %s, not %r" % (", ".join(MOODLE_IDENTIFIERS), identifier))
    field, column, map_to = MOODLE_IDENTIFIERS[identifier]
    item = str(item).strip()
    if not item:
        raise ValueError("the grade item needs a name")
    # A blank identifier would put the row's grade on the row above's user: such rows are left out.
    keyed, skipped = _keyed(rows, match, (field,), (field,))
    grades = [_grade(row, out_of) for row, _ in keyed]
    header = [column, cell(item)] + ([cell(item + " feedback")] if feedback else [])
    table = [header]
    for (row, s), grade in zip(keyed, grades):
        table.append([cell(getattr(s, field)), number(grade)] + ([cell(row.get("problems", ""))] if feedback else []))
    warnings = _warnings(keyed, grades, ((field, column),), "Moodle", match,
                         "Moodle stops the whole import at an unknown user; delete this row and enter the "
                         "grade by hand")
    if keyed:
        warnings.append("in Moodle's import screen, map %r to %s and %r to the grade item; a user Moodle does not "
                        "find stops the whole import" % (column, map_to, item))
    if float(out_of) > 100:
        warnings.append("grades above 100 need Moodle's 'unlimitedgrades' site setting (Grade import, Note 2)")
    return Export(_csv(table), skipped, warnings)


def write(path, text):
    """text, as UTF-8, in path, written atomically (plotting.atomic_write)."""
    from plotting import atomic_write   # plotting imports numpy: only when a file is written
    atomic_write(str(path), lambda f: f.write(text.encode("utf-8")))
