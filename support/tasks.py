"""Which of the practical's task functions are still the handout's stubs."""
import ast
import inspect
import textwrap


def unimplemented_tasks(model):
    """The task functions of model (vae.py) still to be written, i.e. whose body raises
    NotImplementedError (the handout's stubs): their messages, in task order. Empty once all
    are done."""
    messages = []
    for function in (getattr(model, name) for name in model.TASK_FUNCTIONS):
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
        except (OSError, TypeError, SyntaxError):
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                    and getattr(node.exc.func, "id", None) == "NotImplementedError"):
                args = node.exc.args
                messages.append(args[0].value if args and isinstance(args[0], ast.Constant)
                                else function.__name__)
                break
    return messages
