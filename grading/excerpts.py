"""The student's code for one part, as the review page shows it: the task function's source, or,
for a script on the original handout (ADAM and Task 3 written in its main block, graded by
watching it run), the main block's lines that did that part's work.

Those lines are found from the code alone, never from the run: the training loop is the loop that
calls the gradient; ADAM's set-up (2.1) is what the main block assigns before it to the names the
loop's update reads; the update (2.2) is that loop; each image of Task 3 (3.1-3.3) is the save
whose file name says which it is ("sampl", "recon", "interp"), with the statements after training
that computed what it saves (all that follows training where no file name says). Where the code
is laid out otherwise, the whole main block is shown."""
import ast
from typing import NamedTuple

from grading import layout
from grading.class_report import IMAGE_WORDS, TASKS
from grading.results import load_points
from grading.worker.given import GIVEN
from grading.worker.imports import is_main_check

GRADIENTS = {"grad", "value_and_grad", "elementwise_grad", "grad_and_aux", "jacobian"}
SAVES = {"save_images", "savefig", "imsave", "imwrite", "save_image", "plot_images"}
HANDOUT_FUNCTIONS = set(TASKS) | set(GIVEN) | {"init_net_params", "load_mnist", "save_images"}
WHAT = {p["part"]: p["work"] for p in load_points()["parts"] if "work" in p}   # "2.2": "ADAM's update"


class Excerpt(NamedTuple):
    """file: the file's name, or None; text: the lines to show, numbered; what: one line saying
    what they are; whole: the code they are taken from (numbered), where, what it is, else ''."""
    file: object
    text: str
    what: str
    whole: str = ""
    where: str = ""


def part_code(graded_dir, part, function, observed):
    """The student's code for a part: an Excerpt. vae.py and adam.py are read as graded
    (layout.script: in the folder or the one sub-folder that holds them, or a notebook's script)."""
    folder, _ = layout.find_submission(graded_dir)
    for name in ("vae.py", "adam.py"):
        found = layout.script(folder / name)
        if found is None:
            continue
        text, shown = found
        shown = str((folder / shown).relative_to(graded_dir))   # hand-in/vae.py, a sub-folder's
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        lines = text.splitlines()
        if not observed:
            node = _function(tree, function)
            if node is not None:
                return Excerpt(shown, numbered(lines, [_span(node)]), "the function %s" % function)
            continue
        for body, where in main_statements(tree):
            chosen = observed_statements(body, part)
            if chosen:
                chosen += helpers(tree, body, chosen)
                return Excerpt(shown, numbered(lines, [_span(s, lines) for s in chosen]),
                               "%s: the lines of %s that did it" % (WHAT.get(part, part), where),
                               numbered(lines, [(body[0].lineno, body[-1].end_lineno)]), where)
        body, where = main_statements(tree)[0]
        if body:
            return Excerpt(shown, numbered(lines, [(body[0].lineno, body[-1].end_lineno)]),
                           "%s, which does this part (its lines could not be told apart)" % where)
    return Excerpt(None, "(no code for %s found in the submission)" % function, "nothing found")


def _function(tree, name):
    """The definition that counts: the last at the top level, else the first nested one."""
    top = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name]
    if top:
        return top[-1]
    return next((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and n.name == name), None)


def main_statements(tree):
    """[(statements, how to name them)] an observed run may have trained in, as the worker runs
    them (grading/worker/imports.py): the main blocks' bodies (or, where the block only calls a
    function of the module, its body); then the module's own code, main blocks spliced in."""
    main = [n for node in tree.body if is_main_check(node) for n in node.body]
    if len(main) == 1 and isinstance(main[0], ast.Expr) and isinstance(main[0].value, ast.Call) \
            and isinstance(main[0].value.func, ast.Name) and _function(tree, main[0].value.func.id) is not None:
        called = _function(tree, main[0].value.func.id)
        return [(called.body, "%s(), which the main block calls" % called.name)]
    module = [n for node in tree.body for n in (node.body if is_main_check(node) else [node])]
    return ([(main, "the main block")] if main else []) + [(module, "the module's code")]


def observed_statements(body, part):
    """The statements of body that did the part's work, in order, or [] where they cannot be told."""
    gradients = {name for s in body for name in _gradient_names(s)}
    loop = _training_loop(body, gradients)
    if loop is None:
        return []
    top = next(s for s in body if _contains(s, loop))
    before, after = body[:body.index(top)], body[body.index(top) + 1:]   # at the main block's level
    if part == "2.2":
        return [loop]
    if part == "2.1":
        updates = [s for s in ast.walk(loop) if isinstance(s, (ast.Assign, ast.AugAssign, ast.AnnAssign))]
        in_loop = set().union(*(_stores(s) for s in updates))
        state = in_loop & set().union(*(_stores(s) for s in before))      # m, v, t, the parameters
        rates = {n for s in updates if _stores(s) & state for n in _reads(s)} - in_loop   # beta1, alpha, ...
        return [s for s in before if _stores(s) & (state | rates)]
    words = IMAGE_WORDS.get(part)
    if not words:
        return []
    saves = [i for i, s in enumerate(after) if _saves(s) and any(w in t for t in _texts(s) for w in words)]
    if not saves:   # no file name says which: all that follows training
        return after
    chosen = set()
    for i in saves:
        chosen.add(i)
        needed = _reads(after[i])
        for j in range(i - 1, -1, -1):
            s = after[j]
            if _stores(s) & needed:
                chosen.add(j)
                if isinstance(s, ast.Assign) and not (_stores(s) & _reads(s)):
                    needed = needed - _stores(s)   # a plain assignment: what it replaced is not needed
                needed = needed | _reads(s)
    return [after[i] for i in sorted(chosen)]


def helpers(tree, body, chosen, depth=3):
    """The student's own functions the chosen statements call (and those call, `depth` deep),
    defined in the module or the main block: an ADAM update or a Task 3 written as a helper. Not
    the handout's given and task functions, nor the objective handed to grad()."""
    defined = {}
    for node in list(tree.body) + list(body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defined[node.name] = node   # the last definition is the one that runs
    objectives = {a.id for s in body for n in ast.walk(s) if isinstance(n, ast.Call) and _called_name(n) in GRADIENTS
                  for a in n.args[:1] if isinstance(a, ast.Name)}
    skip = HANDOUT_FUNCTIONS | objectives
    found, frontier = [], list(chosen)
    for _ in range(depth):
        called = {_called_name(n) for s in frontier for n in ast.walk(s) if isinstance(n, ast.Call)}
        frontier = [defined[c] for c in sorted(called - skip, key=str) if c in defined
                    and not any(_contains(s, defined[c]) for s in chosen + found)]
        found += frontier
    return found


def _gradient_names(statement):
    """Names bound to a gradient function: f = grad(objective)."""
    for node in ast.walk(statement):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                and _called_name(node.value) in GRADIENTS:
            for target in node.targets:
                if isinstance(target, ast.Name):
                    yield target.id


def _called_name(call):
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _training_loop(body, gradients):
    """The innermost loop that calls the gradient (a bound name, or grad(...)(...) directly)."""
    found = None
    for statement in body:
        for node in ast.walk(statement):
            if isinstance(node, (ast.For, ast.While)) and any(_calls_gradient(n, gradients) for n in ast.walk(node)):
                if found is None or _contains(found, node):
                    found = node
        if found is not None:
            return found
    return None


def _calls_gradient(node, gradients):
    if not isinstance(node, ast.Call):
        return False
    if isinstance(node.func, ast.Name) and node.func.id in gradients:
        return True
    return isinstance(node.func, ast.Call) and _called_name(node.func) in GRADIENTS


def _contains(outer, inner):
    return outer is inner or any(node is inner for node in ast.walk(outer))


def _stores(statement):
    """The names a statement binds or changes (x = ..., x[i] = ..., x += ..., for x in ..., def x):
    of a definition, its name only (what its body assigns is its own)."""
    names, nodes = set(), [statement]
    while nodes:
        node = nodes.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if isinstance(node, ast.Lambda):
            continue
        nodes.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, ast.Store):
            base = node
            while isinstance(base, (ast.Subscript, ast.Attribute)):
                base = base.value
            if isinstance(base, ast.Name):
                names.add(base.id)
    return names


def _reads(statement):
    """The names a statement reads before it binds them itself: a loop that sets z and then saves
    it does not need an earlier z."""
    return _free([statement], set())


def _free(statements, bound):
    """The names the statements read that are not bound by then; bound grows as they bind."""
    free = set()

    def loads(node):
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - bound

    for s in statements:
        if isinstance(s, (ast.For, ast.AsyncFor)):
            free |= loads(s.iter)
            inner = bound | _stores(s.target)
            free |= _free(s.body, inner) | _free(s.orelse, set(bound))
        elif isinstance(s, (ast.While, ast.If)):
            free |= loads(s.test) | _free(s.body, set(bound)) | _free(s.orelse, set(bound))
        elif isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)):
            local = {a.arg for a in ast.walk(s.args) if isinstance(a, ast.arg)} | \
                set().union(*(_stores(b) for b in s.body))
            free |= {n for b in s.body for n in loads(b)} - local
            bound.add(s.name)
        elif isinstance(s, ast.Assign) or isinstance(s, ast.AnnAssign):
            free |= loads(s.value) if s.value is not None else set()
            targets = s.targets if isinstance(s, ast.Assign) else [s.target]
            free |= {n for t in targets if not isinstance(t, ast.Name) for n in loads(t)}
            bound |= {t.id for t in targets if isinstance(t, ast.Name)} | \
                {n.id for t in targets if isinstance(t, (ast.Tuple, ast.List)) for n in ast.walk(t)
                 if isinstance(n, ast.Name)}
        else:   # x += ..., expressions, with, try, ...: everything it loads, and what it binds
            free |= loads(s) | ({s.target.id} - bound if isinstance(s, ast.AugAssign)
                                and isinstance(s.target, ast.Name) else set())
            bound |= _stores(s)
    return free


def _saves(statement):
    return any(isinstance(n, ast.Call) and _called_name(n) in SAVES for n in ast.walk(statement))


def _texts(statement):
    """The statement's string constants, lower case (file names, "interpolation_%d.png", f-strings)."""
    return [n.value.lower() for n in ast.walk(statement) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _span(node, lines=None):
    """(first, last) line numbers, 1-based, of a statement with its decorators and, given the
    file's lines, the comments just above it."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    if lines is not None:   # the comments above it, across single blank lines
        j, blanks = first - 1, 0
        while j >= 1 and blanks < 2 and (not lines[j - 1].strip() or lines[j - 1].strip().startswith("#")):
            blanks = blanks + 1 if not lines[j - 1].strip() else 0
            if lines[j - 1].strip():
                first = j
            j -= 1
    return first, node.end_lineno


def numbered(lines, spans):
    """The lines of the spans, numbered as in the file, with '...' where lines are left out."""
    merged = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + 2:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    width = len(str(merged[-1][1])) if merged else 1
    out = []
    for k, (first, last) in enumerate(merged):
        if k:
            out.append("%*s" % (width, "..."))
        out.extend("%*d  %s" % (width, i, lines[i - 1]) for i in range(first, last + 1))
    return "\n".join(out)
