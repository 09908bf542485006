"""The solution regions of the reference's vae.py and adam.py: each task function's body between
`# BEGIN SOLUTION` and `# END SOLUTION` (as nbgrader marks them). The handout replaces them with
guidance (grading/handout.py); a known wrong solution replaces one (grading/mutants.py)."""
import re

MARKER = re.compile(r"^(\s*)#\s*(BEGIN|END)\s+SOLUTION\b", re.IGNORECASE)
DEF = re.compile(r"^(\s*)def\s+(\w+)\s*\(")


class RegionError(Exception):
    """Unbalanced, nested or misplaced markers: one line for the user."""


class Region:
    def __init__(self, filename, begin, end, indent, function):
        self.filename, self.begin, self.end, self.indent, self.function = filename, begin, end, indent, function

    def __repr__(self):
        return "Region(%s:%d-%d %s)" % (self.filename, self.begin + 1, self.end + 1, self.function)


def find_regions(text, filename="<source>"):
    """The solution regions of a source text: [Region], line numbers 0-based.
    HandoutError on unbalanced, nested or misplaced markers."""
    lines = text.splitlines()
    regions, open_at = [], None
    for i, line in enumerate(lines):
        match = MARKER.match(line)
        if not match:
            continue
        kind = match.group(2).upper()
        if kind == "BEGIN":
            if open_at is not None:
                raise RegionError("%s:%d: nested BEGIN SOLUTION: the region opened at line %d is "
                                   "not closed yet" % (filename, i + 1, open_at + 1))
            open_at = i
        else:
            if open_at is None:
                raise RegionError("%s:%d: END SOLUTION without a BEGIN SOLUTION before it" % (filename, i + 1))
            indent = MARKER.match(lines[open_at]).group(1)
            if match.group(1) != indent:
                raise RegionError("%s:%d: END SOLUTION is not indented like its BEGIN SOLUTION at "
                                   "line %d" % (filename, i + 1, open_at + 1))
            regions.append(Region(filename, open_at, i, indent, _enclosing_function(lines, open_at, indent,
                                                                                   filename)))
            open_at = None
    if open_at is not None:
        raise RegionError("%s:%d: BEGIN SOLUTION is never closed by an END SOLUTION" % (filename, open_at + 1))
    return regions


def _enclosing_function(lines, begin, indent, filename):
    for j in range(begin - 1, -1, -1):
        match = DEF.match(lines[j])
        if match and len(match.group(1)) < len(indent):
            return match.group(2)
        if lines[j].strip() and not lines[j].startswith(indent) and not lines[j].lstrip().startswith("#"):
            break
    raise RegionError("%s:%d: BEGIN SOLUTION is not inside a function" % (filename, begin + 1))


def code_part(line):
    """A line without its trailing comment and surrounding blanks ('' for comment lines)."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return ""
    # Drop a trailing comment unless the '#' is inside a string (good enough for this code).
    if "#" in stripped and stripped.count('"') % 2 == 0 and stripped.count("'") % 2 == 0:
        stripped = stripped.split("#", 1)[0].rstrip()
    return stripped


def solution_lines(text, filename="<source>"):
    lines = text.splitlines()
    found = set()
    for region in find_regions(text, filename):
        for line in lines[region.begin + 1:region.end]:
            code = code_part(line)
            if code:
                found.add(code)
    return found


def replace_regions(text, filename, replacement):
    """text with each region replaced by replacement(region) -> list of lines (no indent)."""
    lines = text.splitlines()
    out, last = [], 0
    for region in find_regions(text, filename):
        out.extend(lines[last:region.begin])
        out.extend((region.indent + line) if line else "" for line in replacement(region))
        last = region.end + 1
    out.extend(lines[last:])
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")
