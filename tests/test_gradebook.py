"""The class roster (grading/roster.py) and the gradebook exports (grading/gradebook.py), on real
files and with the exports parsed back by csv.reader. Each test says which wrong implementation
it would catch."""
import csv
import io
import os

import pytest

from grading import classroom, gradebook, results, roster

FORMULA = ("=", "+", "-", "@", "\t", "\r")


def write_roster(tmp_path, content, name="roster.csv"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def parse(text):
    return list(csv.reader(io.StringIO(text, newline="")))


def student(folder="alice", name="Alice Smith", email="alice@uni.example", student_id="s1001", section="A",
            login="asmith", line=2):
    return roster.Student(folder, name, email, student_id, section, login, line)


def graded(folder, total, maximum="100", problems=""):
    return {"submission": folder, "id": "0001", "total": total, "max": maximum, "problems": problems}


def matched(*students, folders=None):
    r = roster.Roster("roster.csv", list(students))
    return roster.match(r, folders if folders is not None else [s.folder for s in students])


# ---------------------------------------------------------------------------
# The roster: reading it

def test_bom_semicolons_aliases_whitespace_and_trailing_blank_lines(tmp_path):
    # Catches: the BOM left on the first header ('\ufeffSubmission' is no folder column); commas
    # assumed; cells not stripped; a wrong alias (Full Name, E-Mail, SIS ID, Username); trailing
    # blank lines read as rows with an empty folder.
    path = write_roster(tmp_path, "\ufeffSubmission ; Full Name;E-Mail;SIS ID;Section;Username\r\n"
                                  " alice ; Alice Smith ;alice@uni.example; s1001 ;A; asmith\r\n"
                                  "bob;Bob Jones;bob@uni.example;s1002;B;bjones\r\n\r\n\r\n")
    students = roster.load(path).students
    assert students == [student(),
                        roster.Student("bob", "Bob Jones", "bob@uni.example", "s1002", "B", "bjones", 3)]


@pytest.mark.parametrize("header, field", [
    ("folder", "folder"), ("Directory", "folder"), ("SUBMISSION", "folder"),
    ("Student", "name"), ("full_name", "name"), ("Name", "name"),
    ("Email", "email"),
    ("student_id", "student_id"), ("Student Number", "student_id"), ("ID", "student_id"),
    ("sis-id", "student_id"), ("ID number", "student_id"),
    ("Section", "section"),
    ("login", "login"), ("User Name", "login"), ("SIS Login ID", "login"),
])
def test_each_alias_names_its_field(tmp_path, header, field):
    # Catches: an alias missing, or case, spaces, underscores or hyphens not ignored in headers.
    columns = {"folder": ("folder", "alice"), "email": ("email", "e@x")}
    columns[field] = (header, "VALUE")
    path = write_roster(tmp_path, "%s\n%s\n" % (",".join(h for h, _ in columns.values()),
                                                 ",".join(v for _, v in columns.values())))
    loaded = roster.load(path).students[0]
    assert getattr(loaded, field) == "VALUE", loaded


def test_a_comma_file_with_quotes_and_a_cell_over_two_lines(tmp_path):
    # Catches: a semicolon inside a quoted cell taken for the delimiter; the line of a row taken
    # as where the row ends (csv's line_num), not where it starts.
    path = write_roster(tmp_path, 'folder,name,student_id\n'
                                  'alice,"Smith; Alice",s1\n'
                                  'bob,"Bob\nJones",s2\n'
                                  'carol,Carol,s3\n')
    students = roster.load(path).students
    assert [(s.folder, s.name, s.line) for s in students] == [
        ("alice", "Smith; Alice", 2), ("bob", "Bob\nJones", 3), ("carol", "Carol", 5)]


def roster_error(tmp_path, content):
    path = write_roster(tmp_path, content)
    with pytest.raises(roster.RosterError) as caught:
        roster.load(path)
    assert isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert str(path) in message, message
    return message


@pytest.mark.parametrize("content, named", [
    # no header: the first row is data, so no folder column; the message lists what it found and what it accepts
    ("alice,Alice Smith,s1\n", ["line 1", "no folder column", "'alice', 'Alice Smith', 's1'",
                                "folder, submission, directory"]),
    ("name,email\nAlice,a@x\n", ["line 1", "no folder column", "'name', 'email'", "folder, submission, directory"]),
    ("folder,name\nalice,Alice\n", ["line 1", "no column identifies", "student_id", "email", "login"]),
    ("folder,ID,SIS User ID\nalice,1,s1\n", ["line 1", "two columns mean student_id", "'ID'", "'SIS User ID'"]),
    ("folder,email\nalice,a@x\nbob,b@x\nalice,c@x\n", ["line 4", "folder 'alice'", "line 2"]),
    ("folder,student_id\nalice,s1\nbob,s1\n", ["line 3", "student_id 's1'", "line 2"]),
    ("folder,email\nalice,Alice@Uni.example\nbob,alice@uni.EXAMPLE\n", ["line 3", "email", "line 2"]),
    ("folder,name,email\nalice,Alice,a@x\n ,Carol Jones,c@x\n", ["line 3", "Carol Jones", "no folder"]),
    ("folder,email\nalice,a@x,extra\n", ["line 2", "3 cells", "2 columns"]),
    ("folder,email\n", ["no student rows", "line 1"]),
    ("", ["is empty"]),
    ("\n  \n\n", ["is empty"]),
    ("\ufeff", ["is empty"]),
    (",,,\n , ,\n", ["is empty"]),
    (b"folder,email\nalice,a@x\nzo\xeb,z@x\n", ["line 3", "not UTF-8", "CSV UTF-8"]),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ["line 3", "not text"]),
    (b"PK\x03\x04\x14\x00\x06\x00", ["Excel workbook", "CSV UTF-8"]),
])
def test_errors_name_the_file_the_line_and_the_problem(tmp_path, content, named):
    # Catches: a traceback (KeyError, UnicodeDecodeError, StopIteration) or a message that leaves
    # out the file, the line, the columns found or the accepted names; duplicates missed (emails
    # compared with their case); a blank file or an empty folder accepted.
    message = roster_error(tmp_path, content)
    for part in named:
        assert part in message, (part, message)


def test_unknown_columns_are_ignored_and_rows_may_lack_an_identifier(tmp_path):
    # Catches: a roster refused for a teacher's own notes column, or for one row without an email
    # (that row is reported by the export, not refused here).
    path = write_roster(tmp_path, "folder,email,notes\nalice,a@x,late\nbob,,\n")
    assert [(s.folder, s.email) for s in roster.load(path).students] == [("alice", "a@x"), ("bob", "")]


# ---------------------------------------------------------------------------
# The roster: matching it with the folders

def test_exact_match_then_case_and_whitespace():
    # Catches: case-insensitive matching tried first (then 'alice' and 'Alice' would be ambiguous
    # for both rows); surrounding whitespace not ignored (' Bob ' on disk).
    alice, upper, bob = student("alice", line=2), student("ALICE", student_id="s2", line=3), student("bob", line=4)
    m = matched(alice, upper, bob, folders=["alice", "Alice", " Bob "])
    assert m.by_folder == {"alice": alice, "Alice": upper, " Bob ": bob}
    assert (m.unmatched_folders, m.rows_without_folder, m.ambiguous) == ([], [], [])


def test_ambiguous_case_matches_pair_nothing():
    # Catches: a guess (the first folder) when two folders differ from the row only in case.
    alice = student("ALICE", line=3)
    m = matched(alice, folders=["Alice", "alice"])
    assert m.by_folder == {}
    assert m.unmatched_folders == ["Alice", "alice"]
    assert m.rows_without_folder == [alice]
    assert m.ambiguous == [(["Alice", "alice"], [alice])]
    lines = roster.describe(m)
    assert any(line.startswith("ambiguous") and "Alice, alice" in line and "line 3" in line for line in lines), lines


def test_unmatched_both_ways_and_describe():
    # Catches: unmatched folders or rows dropped silently; describe() with the wrong count,
    # singular/plural, order, or a student shown without name, id and line.
    carol = roster.Student("carol", "Carol Jones", "", "s123", "", "", 5)
    m = matched(student("dave", name="Dave"), carol, folders=["alice", "bob2", "dave", "x"])
    assert m.unmatched_folders == ["alice", "bob2", "x"]
    assert m.rows_without_folder == [carol]
    assert roster.describe(m) == ["3 folders match no roster row: alice, bob2, x",
                                  "1 roster row has no folder: Carol Jones (s123, line 5)"]
    one = matched(student("alice"), folders=["alice", "zed"])
    assert roster.describe(one) == ["1 folder matches no roster row: zed"]
    assert roster.describe(matched(student("alice"))) == []


# ---------------------------------------------------------------------------
# Scaling

def test_scaled():
    # Catches: the wrong ratio (max/total), no rounding, 0 for an ungraded total, a zero max
    # dividing silently; a grade cell written as '14.70' or '20.0' or '0' for none.
    assert gradebook.scaled("73.5", "100", 20) == 14.7
    assert gradebook.scaled(100, 100, 20) == 20
    assert gradebook.scaled("1", "3", 10) == 3.33
    assert gradebook.scaled("0", "100", 20) == 0
    assert gradebook.scaled("", "100", 20) is None
    with pytest.raises(ValueError):
        gradebook.scaled("5", "0", 20)
    assert [gradebook.number(x) for x in (14.7, 20.0, 0.0, 3.33, None)] == ["14.7", "20", "0", "3.33", ""]


# ---------------------------------------------------------------------------
# Canvas

def test_canvas_header_points_possible_and_a_keyed_row():
    # Catches: a column misnamed or out of order (Canvas checks "Student", "ID", then SIS User ID
    # before SIS Login ID, then Section last); Canvas's own ID filled with our id; the roster's
    # fields in the wrong columns; the grade not scaled; the Points Possible row missing or wrong.
    export = gradebook.canvas_csv([graded("alice", "73.5")], matched(student()), out_of=20)
    assert parse(export.text) == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "VAE practical"],
        ["Points Possible", "", "", "", "", "20"],
        ["Alice Smith", "", "s1001", "asmith", "A", "14.7"],
    ]
    assert export.skipped == []
    again = gradebook.canvas_csv([graded("alice", "50")], matched(student()), assignment="Practical 2",
                                 assignment_id="12345", points_possible=False)
    assert parse(again.text) == [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Practical 2 (12345)"],
                                 ["Alice Smith", "", "s1001", "asmith", "A", "50"]]


@pytest.mark.parametrize("assignment, assignment_id, named", [
    ("VAE Final Score", None, "Final Score"),
    ("Section", None, "Section"),
    ("Practical (2024)", None, "2024"),
    ("VAE practical", "12a", "12a"),
    ("  ", None, "name"),
])
def test_canvas_refuses_a_title_it_would_misread(assignment, assignment_id, named):
    # Catches: a title Canvas drops as read-only, takes for a student column, or reads as an
    # assignment id; an id that is not a number.
    with pytest.raises(ValueError, match=named):
        gradebook.canvas_title(assignment, assignment_id)


def test_canvas_needs_a_sis_id_or_login():
    # Catches: a row written with neither SIS User ID nor SIS Login ID (Canvas would match it by
    # name at best) instead of being left out and reported with its roster line.
    export = gradebook.canvas_csv([graded("alice", "50")], matched(student(student_id="", login="", line=7)))
    assert len(parse(export.text)) == 2
    assert export.skipped == [("alice", "the roster's row for it (line 7) has no student_id or login")]


# ---------------------------------------------------------------------------
# Moodle

@pytest.mark.parametrize("identifier, column, value", [
    ("idnumber", "ID number", "s1001"), ("email", "Email address", "alice@uni.example"),
    ("username", "Username", "asmith"),
])
def test_moodle_header_and_a_keyed_row(identifier, column, value):
    # Catches: the wrong roster field under the identifier (student_id for email ...), a header
    # other than Moodle's own export's, the grade not scaled, a warning not naming the mapping.
    export = gradebook.moodle_csv([graded("alice", "73.5")], matched(student()), out_of=20, identifier=identifier)
    assert parse(export.text) == [[column, "VAE practical"], [value, "14.7"]]
    map_to = gradebook.MOODLE_IDENTIFIERS[identifier][2]
    assert any(column in w and map_to in w for w in export.warnings), export.warnings


def test_moodle_feedback_column_and_bad_identifier():
    # Catches: the feedback column missing, unnamed, or holding something else than the problems.
    export = gradebook.moodle_csv([graded("alice", "80", problems="2.1: wrong shape")], matched(student()),
                                  item="VAE", feedback=True)
    assert parse(export.text) == [["ID number", "VAE", "VAE feedback"], ["s1001", "80", "2.1: wrong shape"]]
    with pytest.raises(ValueError, match="identifier"):
        gradebook.moodle_csv([], None, identifier="sis")


def test_moodle_never_writes_a_blank_identifier():
    # Catches: a row written with an empty identifier: Moodle's importer then puts its grade on
    # the previous row's student.
    rows = [graded("alice", "90"), graded("bob", "10")]
    m = matched(student(), student("bob", email="", student_id="s2", login="b", line=3))
    export = gradebook.moodle_csv(rows, m, identifier="email")
    assert parse(export.text) == [["Email address", "VAE practical"], ["alice@uni.example", "90"]]
    assert export.skipped == [("bob", "the roster's row for it (line 3) has no email")]


def test_moodle_warns_above_100():
    # Catches: an out_of that Moodle refuses by default, given without a word.
    export = gradebook.moodle_csv([graded("alice", "50")], matched(student()), out_of=150)
    assert parse(export.text)[1] == ["s1001", "75"]
    assert any("unlimitedgrades" in w for w in export.warnings)


# ---------------------------------------------------------------------------
# Both: ungraded, formulas, unmatched

@pytest.mark.parametrize("export", [gradebook.canvas_csv, gradebook.moodle_csv])
def test_an_ungraded_submission_gets_an_empty_cell_and_a_warning(export):
    # Catches: 0 written for a submission the grader could not grade, or the row dropped; the
    # teacher not told that an empty cell clears a grade already entered.
    rows = [graded("alice", ""), graded("bob", "40")]
    out = export(rows, matched(student(), student("bob", email="b@x", student_id="s2", login="b", line=3)))
    table = parse(out.text)
    grades = {r[2] if export is gradebook.canvas_csv else r[0]: r[-1] for r in table[1:] if r[0] != "Points Possible"}
    assert grades == {"s1001": "", "s2": "40"}
    assert any("1 ungraded submission (alice)" in w and "clears" in w for w in out.warnings), out.warnings


HOSTILE = student(folder="=evil", name='=HYPERLINK("http://x.example","click")', email="@x",
                  student_id="-2", section="@x", login="+1")


@pytest.mark.parametrize("export, kwargs", [
    (gradebook.canvas_csv, {}), (gradebook.moodle_csv, {"feedback": True}),
    (gradebook.moodle_csv, {"identifier": "email"}), (gradebook.moodle_csv, {"identifier": "username"}),
])
def test_formula_like_text_is_escaped_and_grades_are_not(export, kwargs):
    # Catches: a name, id, login, section or feedback from students or the roster written as it
    # is (a spreadsheet would run =HYPERLINK or +1); the computed grade escaped into text ("'14.7")
    # or a formula-like identifier written without telling the teacher it will not match; a
    # carriage return in a cell written unquoted (it would end the row in the platform's reader).
    rows = [graded("=evil", "73.5", problems="-1 for 2.2"),
            graded("tab", "10", problems="\tindented")]
    tabbed = student(folder="tab", name="\tTab", email="\rcr@x", student_id="\t7", section="\rS", login="\tt", line=3)
    out = export(rows, matched(HOSTILE, tabbed), out_of=20, **kwargs)
    table = parse(out.text)
    for row in table:
        for value in row:
            assert not value.startswith(FORMULA), (value, table)
    body = [r for r in table[1:] if r[0] != "Points Possible"]
    assert [r[-1] if export is gradebook.canvas_csv else r[1] for r in body] == ["14.7", "2"]
    written = {v for r in body for v in r}
    expected = ({"'" + HOSTILE.name, "'-2", "'+1", "'@x"} if export is gradebook.canvas_csv else
                {"'" + getattr(HOSTILE, gradebook.MOODLE_IDENTIFIERS[kwargs.get("identifier", "idnumber")][0])})
    assert expected <= written, (expected, written)
    if kwargs.get("feedback"):
        assert "'-1 for 2.2" in written and "'\tindented" in written
    assert any("'=evil'" not in w and "=evil" in w and "formula" in w for w in out.warnings), out.warnings


def test_a_formula_like_title_is_escaped_too():
    # Catches: the header row trusted because the teacher typed it.
    out = gradebook.canvas_csv([], matched(), assignment="=SUM(A1)")
    assert parse(out.text)[0][-1] == "'=SUM(A1)"


@pytest.mark.parametrize("export", [gradebook.canvas_csv, gradebook.moodle_csv])
def test_unmatched_folders_are_left_out_and_reported(export):
    # Catches: a row for a folder with no roster student written anyway (keyed by the folder's
    # name, or blank), or dropped without a word; a missing roster crashing.
    rows = [graded("alice", "50"), graded("stranger", "99"), graded("Alice2", "1")]
    out = export(rows, matched(student(), folders=["alice", "stranger", "Alice2"]))
    body = [r for r in parse(out.text)[1:] if r[0] != "Points Possible"]
    assert body == ([["Alice Smith", "", "s1001", "asmith", "A", "50"]] if export is gradebook.canvas_csv else
                    [["s1001", "50"]])
    assert out.skipped == [("stranger", "no roster row names this folder"),
                           ("Alice2", "no roster row names this folder")]
    none = export(rows, None)
    assert [r for r in parse(none.text)[1:] if r[0] != "Points Possible"] == []
    assert [reason for _, reason in none.skipped] == ["no roster given"] * 3
    assert any("no roster" in w for w in none.warnings)


def test_an_ambiguous_folder_is_reported_as_such():
    # Catches: an ambiguous folder reported as merely unknown (the teacher would look for a
    # missing row, not a case clash).
    out = gradebook.canvas_csv([graded("Alice", "5"), graded("alice", "6")],
                               matched(student("ALICE"), folders=["Alice", "alice"]))
    assert [reason.split(":")[0] for _, reason in out.skipped] == ["ambiguous", "ambiguous"]


# ---------------------------------------------------------------------------
# End to end: a real grades.csv, a real roster, a real file written

def test_from_grades_csv_and_roster_files_to_an_export_file(tmp_path):
    # Catches: a folder whose formula-like name grades.csv escaped ("'=evil" read back) no longer
    # found in the roster; rows as classroom.py writes them (strings, "" for ungraded) misread;
    # write() not atomic (a temporary file left) or not UTF-8.
    table = results.load_points()
    rows = [classroom.row("=evil", "0001", {"extra_data": {"parts": {"1.1": {"score": 10}, "2.2": {"score": 15}}}},
                          None, table),
            classroom.row("zoë", "0002", None, "not graded: the sandbox would not start", table),
            classroom.row("nobody", "0003", {"extra_data": {"parts": {"1.1": {"score": 3}}}}, None, table)]
    grades_csv = tmp_path / "grades.csv"
    grades_csv.write_text(classroom.csv_text(rows, table), encoding="utf-8")
    read_back = list(csv.DictReader(io.StringIO(grades_csv.read_text(encoding="utf-8"))))
    assert read_back[0]["submission"] == "'=evil"
    path = write_roster(tmp_path, "folder,name,student_id,login\n=evil,Eve Il,s9,eil\nzoë,Zoë Ä,s8,zae\n")
    m = roster.match(roster.load(path), ["=evil", "zoë", "nobody"])
    out = gradebook.canvas_csv(read_back, m, out_of=20)
    target = tmp_path / "canvas.csv"
    gradebook.write(target, out.text)
    assert set(os.listdir(tmp_path)) == {"grades.csv", "roster.csv", "canvas.csv"}
    written = parse(target.read_bytes().decode("utf-8"))
    assert written[2:] == [["Eve Il", "", "s9", "eil", "", "5"], ["Zoë Ä", "", "s8", "zae", "", ""]]
    assert out.skipped == [("nobody", "no roster row names this folder")]
