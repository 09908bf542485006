"""The student's code for a part, as the review page shows it (grading/excerpts.py): the function,
or, for a script on the original handout, only the main block's lines that did the part's work,
in the layouts students hand in (a main block, module-level code, a main() the block calls, a
notebook, a sub-folder, names in their own language)."""
import textwrap

import nbformat
import pytest

from grading import excerpts
from original_variants import ORIGINAL, ORIGINAL_VARIANTS, OriginalVariant  # tests/fixtures, on sys.path: tests/conftest.py

VARIANTS = {v.name: v for v in ORIGINAL_VARIANTS}
PARTS = ("2.1", "2.2", "3.1", "3.2", "3.3")

# What each part's excerpt of the original practical must show, and what belongs to another part.
SHOWS = {"2.1": ["m = np.zeros_like", "t = 1", "beta1, beta2, epsilon = learning_rate"],
         "2.2": ["m_hat = m / (1 - beta1 ** t)", "grad = objective_grad", "t += 1"],
         "3.1": ["npr.randn(25, latent_dim)", '"samples.png"', "unflat_params(flattened_current_params)"],
         "3.2": ["sample_latent_variables_from_posterior(encoder_output)", '"reconstructions.png"'],
         "3.3": ["np.linspace(0, 1, 25)", "interpolation_%d.png", "unflat_params(flattened_current_params)"]}
NOT = {"2.1": ["m_hat", "save_images", "def objective", "elbo_est"],
       "2.2": ["m = np.zeros_like", "save_images", "load_mnist"],
       "3.1": ["reconstructions", "linspace", "m_hat", "load_mnist"],
       "3.2": ["npr.randn(25", "linspace", "m_hat"],
       "3.3": ["npr.randn(25", "reconstructions =", "encoder_output =", "m_hat"]}


def check(folder, expect_file="vae.py"):
    for part in PARTS:
        code = excerpts.part_code(folder, part, "adam_step", observed=True)
        assert code.file.startswith(expect_file) and "did it" in code.what, (part, code.what)
        for wanted in SHOWS[part]:
            assert wanted in code.text, (part, wanted, code.text)
        for other in NOT[part]:
            assert other not in code.text, (part, other, code.text)
        assert all(line in code.whole for line in code.text.splitlines() if line.strip() != "...")


def test_each_part_of_the_original_layout_shows_its_own_lines_numbered_as_in_the_file(tmp_path):
    check(ORIGINAL)
    code = excerpts.part_code(ORIGINAL, "2.1", "adam_init", observed=True)
    lines = (ORIGINAL / "vae.py").read_text().splitlines()
    for shown in code.text.splitlines():
        if shown.strip() != "...":
            number, text = shown.split("  ", 1)
            assert lines[int(number) - 1] == text   # the file's own numbering
    assert "# ADAM parameters" in code.text   # the comment just above comes with it
    assert "..." in excerpts.part_code(ORIGINAL, "3.2", "reconstruct", True).text.splitlines()   # lines between left out


@pytest.mark.parametrize("layout", ["module", "subfolder"])
def test_module_level_code_and_a_sub_folder_are_found_alike(tmp_path, layout):
    OriginalVariant("descent", VARIANTS["original_descent"].replace, layout=layout).write(tmp_path)
    check(tmp_path, "hand-in/practical/vae.py" if layout == "subfolder" else "vae.py")


def test_a_main_block_that_calls_main_shows_the_lines_of_main(tmp_path):
    text = (ORIGINAL / "vae.py").read_text()
    head, main = text.split("if __name__ == '__main__':\n", 1)
    (tmp_path / "vae.py").write_text(head + "def main():\n" + main + "\n\nif __name__ == '__main__':\n    main()\n")
    check(tmp_path)
    assert "main()" in excerpts.part_code(tmp_path, "3.1", "generate_from_prior", True).what


def test_a_notebook_on_the_original_handout_shows_its_cells_as_the_grader_ran_them(tmp_path):
    from test_notebook import cells_of_script
    nbformat.write(cells_of_script(ORIGINAL / "vae.py", magics=["%matplotlib inline"]), str(tmp_path / "mine.ipynb"))
    check(tmp_path, "mine.ipynb")


def test_file_names_in_the_students_language_are_told_apart(tmp_path):
    OriginalVariant("spanish", [('"samples.png"', '"muestras.png"'), ('"reconstructions.png"', '"reconstrucciones.png"'),
                                ('"interpolation_%d.png"', '"interpolacion_%d.png"')]).write(tmp_path)
    code = excerpts.part_code(tmp_path, "3.2", "reconstruct", True)
    assert "reconstrucciones.png" in code.text and "muestras" not in code.text


def test_saves_no_file_name_tells_apart_show_all_that_follows_training(tmp_path):
    OriginalVariant("letters", [('"samples.png"', '"a.png"'), ('"reconstructions.png"', '"b.png"'),
                                ('"interpolation_%d.png"', '"c_%d.png"')]).write(tmp_path)
    code = excerpts.part_code(tmp_path, "3.1", "generate_from_prior", True)
    assert all(name in code.text for name in ('"a.png"', '"b.png"', '"c_%d.png"'))
    assert "m_hat" not in code.text and "load_mnist" not in code.text


def test_no_training_loop_to_be_found_shows_the_whole_main_block(tmp_path):
    (tmp_path / "vae.py").write_text(textwrap.dedent("""\
        import numpy as np

        if __name__ == "__main__":
            params = np.zeros(3)
            while True:
                params = params + 1
                break
            print(params)
        """))
    code = excerpts.part_code(tmp_path, "2.2", "adam_step", True)
    assert "could not be told apart" in code.what and "print(params)" in code.text and not code.whole


def test_a_function_part_shows_the_definition_that_counts(tmp_path):
    (tmp_path / "vae.py").write_text(textwrap.dedent("""\
        def compute_KL(q_means_and_log_stds):
            return 0.0   # a first try

        @staticmethod_like
        def compute_KL(q_means_and_log_stds):
            return 1.0   # the one Python keeps
        """))
    code = excerpts.part_code(tmp_path, "1.3", "compute_KL", False)
    assert "the one Python keeps" in code.text and "first try" not in code.text and "@staticmethod_like" in code.text
    assert code.what == "the function compute_KL"


@pytest.mark.parametrize("content", [b"def broken(:\n", b"\xff\xfe\x00 not text", b""])
def test_code_that_does_not_parse_or_is_missing_is_said_so(tmp_path, content):
    (tmp_path / "vae.py").write_bytes(content)
    code = excerpts.part_code(tmp_path, "1.1", "sample_latent_variables_from_posterior", False)
    assert code.file is None and "no code for sample_latent_variables_from_posterior" in code.text


def test_every_original_variant_gets_a_short_excerpt_for_every_part(tmp_path):
    """The fixtures a teacher grades in the tests: no part falls back to the whole main block,
    and none shows more than a screen."""
    for variant in ORIGINAL_VARIANTS:
        folder = tmp_path / variant.name
        variant.write(folder)
        for part in PARTS:
            code = excerpts.part_code(folder, part, "f", True)
            assert "did it" in code.what and 1 < len(code.text.splitlines()) <= 30, (variant.name, part, code.what)


def test_a_students_own_helper_comes_with_the_lines_that_call_it(tmp_path):
    """ADAM's update as a function of the module, the samples as one defined in the main block:
    each shown with the loop or save that calls it; the objective and the handout's functions not."""
    update = ("            m = beta1 * m + (1 - beta1) * grad\n"
              "            v = beta2 * v + (1 - beta2) * grad ** 2\n"
              "            m_hat = m / (1 - beta1 ** t)\n"
              "            v_hat = v / (1 - beta2 ** t)\n"
              "            flattened_current_params = flattened_current_params + alpha * m_hat / (np.sqrt(v_hat) + epsilon)\n")
    helper = textwrap.dedent("""\
        def my_adam(x, g, m, v, t, alpha, beta1, beta2, eps):
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g ** 2
            return x + alpha * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps), m, v


        if __name__ == '__main__':
        """)
    samples = '    z = npr.randn(25, latent_dim)\n    save_images(sigmoid(neural_net_predict(gen_params, z)), "samples.png", ims_per_row=5)\n'
    OriginalVariant("helpers", [
        (update, "            flattened_current_params, m, v = my_adam(flattened_current_params, grad, m, v, t,"
                 " alpha, beta1, beta2, epsilon)\n"),
        ("if __name__ == '__main__':\n", helper),
        (samples, "    def draw(gen_params):\n        z = npr.randn(25, latent_dim)\n"
                  "        return sigmoid(neural_net_predict(gen_params, z))\n\n"
                  '    save_images(draw(gen_params), "samples.png", ims_per_row=5)\n')]).write(tmp_path)
    update = excerpts.part_code(tmp_path, "2.2", "adam_step", True).text
    assert "def my_adam" in update and "my_adam(flattened_current_params" in update
    assert "def objective" not in update and "def neural_net_predict" not in update
    drawn = excerpts.part_code(tmp_path, "3.1", "generate_from_prior", True).text
    assert "def draw(gen_params)" in drawn and "npr.randn(25" in drawn and "def my_adam" not in drawn


def test_a_function_that_assigns_adams_names_inside_is_not_adams_set_up(tmp_path):
    """A definition binds its name only: a helper whose body sets its own m, v and t is not part
    of what the main block set up before training."""
    OriginalVariant("moments", [("    # ADAM parameters\n", textwrap.indent(textwrap.dedent("""\
        def moments_of(x):
            m = np.mean(x)
            v = np.var(x)
            t = len(x)
            return m, v, t

        # ADAM parameters
        """), "    "))]).write(tmp_path)
    setup = excerpts.part_code(tmp_path, "2.1", "adam_init", True).text
    assert "m = np.zeros_like" in setup and "def moments_of" not in setup and "np.var" not in setup


def test_training_at_module_level_and_task_3_in_a_main_block_are_read_as_the_worker_runs_them(tmp_path):
    """The worker runs such a script's module code with its main block spliced in: so does the
    excerpt, rather than looking for the training in the main block alone."""
    OriginalVariant("module", layout="module").write(tmp_path)
    head, task3 = (tmp_path / "vae.py").read_text().split("# We obtain the final trained parameters\n")
    (tmp_path / "vae.py").write_text(head + "if __name__ == '__main__':\n" + textwrap.indent(task3, "    "))
    check(tmp_path)
    assert "the module's code" in excerpts.part_code(tmp_path, "3.2", "reconstruct", True).what
