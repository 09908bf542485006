"""The class roster: an optional CSV from the teacher that says whose each submission folder is.

    folder,name,email,student_id,section,login
    alice,Alice Smith,alice@uni.example,s1001,A,asmith

A header row is required. Its names are matched ignoring case, spaces, underscores and hyphens,
with aliases (COLUMNS): `folder` (submission, directory), `name` (student, full name), `email`,
`student_id` (id, sis id, student number, id number, sis user id), `section`, `login`
(username, sis login id). Only `folder` is required, with at least one identifier column
(student_id, email or login); other columns are ignored. The file is UTF-8, with or without a
byte-order mark (Excel's "CSV UTF-8"), delimited by commas, semicolons (Excel in many locales) or
tabs; blank lines and whitespace around cells are ignored.

load(path) reads it (RosterError, naming the file, the line and what to do, if it cannot);
match(roster, folder_names) pairs it with the submission folders; describe(match) says, in lines
for people, what did not pair.
"""
import csv
import io
from pathlib import Path
from typing import NamedTuple

# Each field and the header names that mean it, after normalise(). The first is the one shown.
COLUMNS = {
    "folder": ("folder", "submission", "directory", "foldername", "submissionfolder"),
    "name": ("name", "student", "fullname", "studentname"),
    "email": ("email", "emailaddress", "mail"),
    "student_id": ("studentid", "id", "sisid", "studentnumber", "idnumber", "sisuserid"),
    "section": ("section",),
    "login": ("login", "username", "sisloginid", "loginid"),
}
IDENTIFIERS = ("student_id", "email", "login")
SHOWN = {"folder": ("folder", "submission", "directory"), "name": ("name", "student", "full name"),
         "email": ("email",), "student_id": ("student_id", "id", "sis id", "student number", "id number"),
         "section": ("section",), "login": ("login", "username", "sis login id")}


class RosterError(ValueError):
    """The roster cannot be used; str() names the file, the line, what is wrong and what to do."""


class Student(NamedTuple):
    folder: str
    name: str
    email: str
    student_id: str
    section: str
    login: str
    line: int        # the roster's line the row starts on (the header is line 1)


class Roster(NamedTuple):
    path: str
    students: list   # of Student, in the file's order


class Match(NamedTuple):
    by_folder: dict              # folder name -> Student
    unmatched_folders: list      # folder names no row names
    rows_without_folder: list    # Students whose folder is not among the folder names
    ambiguous: list              # (folder names, Students): one key, several of either; none paired


def normalise(header):
    """A header cell as compared: lower case, without spaces, underscores, hyphens or dots."""
    return "".join(c for c in header.strip().lower() if c not in " _-.\t")


def label(student):
    """A student as people read it: 'Carol Jones (s123, line 5)'."""
    who = student.name or student.email or student.login or student.student_id or student.folder
    key = student.student_id or student.email or student.login
    return "%s (%s)" % (who, ", ".join(([key] if key and key != who else []) + ["line %d" % student.line]))


# ---------------------------------------------------------------------------
# Reading

def _text(path, data):
    """data decoded as UTF-8 (a BOM dropped), or RosterError saying why not."""
    if data[:4] == b"PK\x03\x04":
        raise RosterError("%s is not a CSV file: it looks like an Excel workbook (.xlsx). In Excel, use "
                          "File > Save As > 'CSV UTF-8 (Comma delimited)' and give that file." % path)
    if b"\x00" in data:
        line = data[:data.index(b"\x00")].count(b"\n") + 1
        raise RosterError("%s, line %d: the file is not text (it holds a NUL byte). Give the roster as a CSV "
                          "text file (in Excel: Save As > 'CSV UTF-8')." % (path, line))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise RosterError("%s, line %d: the file is not UTF-8 text (byte 0x%02x at offset %d). Save it as UTF-8 "
                          "(in Excel: Save As > 'CSV UTF-8'; elsewhere: encoding UTF-8)."
                          % (path, line, data[e.start], e.start)) from None
    if not text.strip():
        raise RosterError("%s is empty: it needs a header row (folder, name, email, student_id, section, login) "
                          "and one row per student." % path)
    return text


def _delimiter(header_line):
    """The delimiter that splits the header line into the most cells: ',' ';' or tab (',' on a tie)."""
    counts = {d: len(next(csv.reader([header_line], delimiter=d), [])) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: (counts[d], d == ","))


def _columns(path, header):
    """{field: column index} from the header row's cells, or RosterError."""
    found = {}
    for index, cell in enumerate(header):
        name = normalise(cell)
        for field, aliases in COLUMNS.items():
            if name in aliases:
                if field in found:
                    raise RosterError("%s, line 1: two columns mean %s: %r and %r. Keep one (or rename the "
                                      "other to a name the roster ignores)."
                                      % (path, field, header[found[field]].strip(), cell.strip()))
                found[field] = index
    shown = ", ".join(repr(c.strip()) for c in header if c.strip()) or "none"
    if "folder" not in found:
        raise RosterError("%s, line 1: no folder column (the header row's columns: %s). Accepted names for it: "
                          "%s. The first row must be a header, with a column naming each student's submission "
                          "folder." % (path, shown, ", ".join(SHOWN["folder"])))
    if not any(f in found for f in IDENTIFIERS):
        raise RosterError("%s, line 1: no column identifies the students (the header row's columns: %s). Add at "
                          "least one of: student_id (or %s), email, login (or %s)."
                          % (path, shown, ", ".join(SHOWN["student_id"][1:]), ", ".join(SHOWN["login"][1:])))
    return found


def load(path):
    """The Roster in the CSV file at path, or RosterError naming the file, the line and what to do."""
    path = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise RosterError("%s: cannot be read (%s)." % (path, e.strerror or e)) from None
    text = _text(path, data)
    first = next(line for line in text.splitlines() if line.strip())
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first))
    header, columns, students, seen = None, None, [], {}
    start = 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1   # a quoted cell may span lines: where this row began
            if not any(c.strip() for c in cells):
                continue                                 # blank lines, trailing ones included
            if header is None:
                header, columns = cells, _columns(path, cells)
                header_line = line
                continue
            if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
                raise RosterError("%s, line %d: %d cells, but the header (line %d) has %d columns. Check the "
                                  "row for an unquoted delimiter inside a cell." % (path, line, len(cells),
                                                                                   header_line, len(header)))
            value = {f: (cells[i].strip() if i < len(cells) else "") for f, i in columns.items()}
            student = Student(*(value.get(f, "") for f in Student._fields[:-1]), line=line)
            if not student.folder:
                raise RosterError("%s, line %d: %s has no folder. Give the name of the student's submission "
                                  "folder, or delete the row." % (path, line, label(student)))
            for field, key in (("folder", student.folder), ("student_id", student.student_id),
                               ("email", student.email.lower()), ("login", student.login)):
                if key and (field, key) in seen:
                    raise RosterError("%s, line %d: %s %r is also on line %d. Each student has one row, and each "
                                      "row its own %s." % (path, line, field, getattr(student, field),
                                                           seen[field, key], field))
                seen[field, key] = line
            students.append(student)
    except csv.Error as e:
        raise RosterError("%s, line %d: not valid CSV (%s). Check the quotes on that line."
                          % (path, start, e)) from None
    if header is None:
        raise RosterError("%s is empty: it holds only blank rows. It needs a header row (folder, name, email, "
                          "student_id, section, login) and one row per student." % path)
    if not students:
        raise RosterError("%s has a header (line %d) but no student rows: add one row per student, under the "
                          "header." % (path, header_line))
    return Roster(path, students)


# ---------------------------------------------------------------------------
# Matching

def _key(name):
    return name.strip().casefold()


def match(roster, folder_names):
    """Pair the roster's rows with folder_names: by exact name first, then, for what is left,
    ignoring case and surrounding whitespace where that names one folder and one row only."""
    folder_names = list(dict.fromkeys(folder_names))
    present = set(folder_names)
    by_folder = {s.folder: s for s in roster.students if s.folder in present}
    folders_left = [f for f in folder_names if f not in by_folder]
    students_left = [s for s in roster.students if s.folder not in by_folder]
    folders_by_key, students_by_key = {}, {}
    for f in folders_left:
        folders_by_key.setdefault(_key(f), []).append(f)
    for s in students_left:
        students_by_key.setdefault(_key(s.folder), []).append(s)
    ambiguous = []
    for key, folders in folders_by_key.items():
        students = students_by_key.get(key, [])
        if len(folders) == 1 and len(students) == 1:
            by_folder[folders[0]] = students[0]
        elif students:
            ambiguous.append((folders, students))   # "Alice" and "alice" for one row: guess neither
    paired = {id(s) for s in by_folder.values()}
    return Match(by_folder=by_folder,
                 unmatched_folders=[f for f in folder_names if f not in by_folder],
                 rows_without_folder=[s for s in roster.students if id(s) not in paired],
                 ambiguous=ambiguous)


def _count(n, one, many):
    return "%d %s" % (n, one if n == 1 else many)


def describe(match):
    """What did not pair, in lines for people (an empty list when everything did)."""
    lines = []
    if match.unmatched_folders:
        lines.append("%s no roster row: %s" % (_count(len(match.unmatched_folders), "folder matches", "folders match"),
                                               ", ".join(match.unmatched_folders)))
    if match.rows_without_folder:
        lines.append("%s no folder: %s" % (_count(len(match.rows_without_folder), "roster row has", "roster rows have"),
                                           ", ".join(label(s) for s in match.rows_without_folder)))
    for folders, students in match.ambiguous:
        lines.append("ambiguous, so not paired: folder%s %s and roster row%s %s differ only in case or spaces; "
                     "make the roster's folder names exact" % ("" if len(folders) == 1 else "s", ", ".join(folders),
                                                             "" if len(students) == 1 else "s",
                                                             ", ".join(label(s) for s in students)))
    return lines
