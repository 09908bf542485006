"""A student's self-check from a notebook: check("compute_KL") grades the functions the notebook
defines, through the same sandbox and tests as every grading.

The notebook's task functions (and the helpers, imports and constants they use) are written
into a submission folder: the handout's vae.py and adam.py, beside the notebook, with each
function the notebook defines put in place of the handout's. That folder is graded by
the grading's command (grading/api.py) in a fresh process (the notebook's own process never runs the
grading), and the results come back as a table: each part's points and first message.
"""
import ast
import inspect
import tempfile
import types
from pathlib import Path

from grading import results

TASKS = {"vae.py": ("sample_latent_variables_from_posterior", "bernoulli_log_prob", "compute_KL",
                    "vae_lower_bound", "generate_from_prior", "reconstruct", "interpolate"),
         "adam.py": ("adam_init", "adam_step")}


def definitions(text):
    """{name: (first line, last line)} of the module's top-level functions (1-based, decorators in)."""
    out = {}
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            out[node.name] = (first, node.end_lineno)
    return out


def function_sources(text):
    """{name: source} of the module's top-level functions, as written."""
    lines = text.splitlines(keepends=True)
    return {name: "".join(lines[first - 1:last]).rstrip("\n") for name, (first, last) in definitions(text).items()}


def _source(function):
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return None


def _support(functions, namespace, base_names):
    """The lines the notebook's functions need beyond the handout's module: the other functions the
    notebook defines that they call, and the modules, objects and constants they take from it."""
    lines, done, todo = [], set(), list(functions)
    while todo:
        code = todo.pop().__code__
        names = set(code.co_names)
        for const in code.co_consts:   # nested functions and comprehensions
            if isinstance(const, types.CodeType):
                names |= set(const.co_names)
        for name in sorted(names - done - base_names):
            done.add(name)
            value = namespace.get(name)
            if isinstance(value, types.FunctionType) and value.__module__ == "__main__" and _source(value):
                lines.append(_source(value))
                todo.append(value)
            elif isinstance(value, types.ModuleType):
                lines.append("import %s as %s\n" % (value.__name__, name))
            elif getattr(value, "__module__", None) and getattr(value, "__name__", None) and \
                    value.__module__ != "__main__":
                lines.append("from %s import %s as %s\n" % (value.__module__, value.__name__, name))
            elif isinstance(value, (bool, int, float, str, tuple)) and len(repr(value)) < 10000:
                lines.append("%s = %r\n" % (name, value))
    return lines


def write_submission(namespace, handout, folder):
    """vae.py and adam.py in folder: the handout's, with the task functions namespace defines."""
    for filename, names in TASKS.items():
        text = (Path(handout) / filename).read_text()
        base_names = {n.id for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Name)} | \
            set(definitions(text)) | {a.asname or a.name.split(".")[0] for n in ast.parse(text).body
                                       if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
        mine = {name: namespace[name] for name in names if isinstance(namespace.get(name), types.FunctionType)
                and namespace[name].__module__ == "__main__" and _source(namespace[name])}
        lines = text.splitlines(keepends=True)
        for name, (first, last) in sorted(definitions(text).items(), key=lambda item: -item[1][0]):
            if name in mine:
                lines[first - 1:last] = [_source(mine[name])]
        extra = _support(mine.values(), namespace, base_names)
        (Path(folder) / filename).write_text("".join(lines) + ("\n\n# Used by the notebook's functions\n"
                                                                + "\n".join(extra) if extra else ""))


def grade(namespace, handout, select=None, timeout=900):
    """Grade the notebook's functions: the results (Gradescope's format, grading/results.py). handout:
    the handout's folder, whose vae.py and adam.py the notebook's functions go into."""
    from grading import api
    handout = Path(handout)
    with tempfile.TemporaryDirectory(prefix="selfcheck-") as tmp:
        folder = Path(tmp) / "submission"
        folder.mkdir()
        write_submission(namespace, handout, folder)
        result, log = api.grade(folder, Path(tmp) / "results.json", select=select, allow_unisolated=True,
                                wall_seconds=timeout)
        if result is None:
            raise RuntimeError("the self-check could not run:\n" + log[-2000:])
        return result


def table(result):
    """[(part, function, points, max, first message or "")] of the parts this check ran."""
    rows = {}
    for test in result.get("tests", []):
        part = test.get("number")
        if part == "check" or test.get("output", "").startswith("not run"):
            continue
        function = test["name"].split()[2].rstrip(":")
        row = rows.setdefault(part, [part, function, 0.0, 0.0, ""])
        row[2] += test["score"]
        row[3] += test["max_score"]
        if not row[4] and test["status"] != "passed":
            row[4] = test["output"].strip().splitlines()[0] if test["output"].strip() else test["status"]
    return [tuple(r) for _, r in sorted(rows.items())]


def html(rows, result, label="these tests"):
    """The table as HTML, for a notebook's output."""
    import html as escape
    body = "".join("<tr><td>%s</td><td style='text-align:left'><code>%s</code></td>"
                   "<td style='text-align:right'>%s / %s</td><td style='text-align:left'>%s</td></tr>"
                   % (part, function, results.num(score), results.num(maximum),
                      escape.escape(message[:300]) if message else "&#10003;")
                   for part, function, score, maximum, message in rows)
    total = sum(r[2] for r in rows), sum(r[3] for r in rows)
    notes = "".join("<li>%s</li>" % escape.escape(p.splitlines()[0][:300])
                    for p in result.get("extra_data", {}).get("problems", []))
    return ("<table><tr><th>task</th><th style='text-align:left'>function</th><th>points</th>"
            "<th style='text-align:left'>message</th></tr>%s<tr><td></td><td style='text-align:left'><b>%s</b></td>"
            "<td style='text-align:right;white-space:nowrap'><b>%s / %s</b></td><td></td></tr></table>%s"
            % (body, label, results.num(total[0]), results.num(total[1]), "<ul>%s</ul>" % notes if notes else ""))


def text(rows, label="these tests"):
    lines = ["Task %-4s %-40s %5s / %-3s  %s" % (part, function, results.num(score), results.num(maximum),
                                                message[:100]) for part, function, score, maximum, message in rows]
    total = sum(r[2] for r in rows), sum(r[3] for r in rows)
    return "\n".join(lines + ["%s: %s / %s" % (label, results.num(total[0]), results.num(total[1]))])
