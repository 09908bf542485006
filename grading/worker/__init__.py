"""The worker: the code that runs in the sandbox, copied there whole (grading/sandbox.py) and
started as a fresh interpreter (never a fork of the grader: nothing of the grader's memory
exists there). It imports the submission and answers the grader's calls; nothing here judges.

    server.py     reads calls on its standard input, answers on its standard output
    calls.py      a call with the practical's arguments, and what it returned as plain data
    capture.py    what the submission prints, captured and capped
    noise.py      numpy's global Gaussian samplers, fed by the grader's noise
    imports.py    importing the submission statement by statement, with the grader's support modules
    observed.py   a script written on the original handout, run and observed
    standins.py   the given functions and the grader-answered task functions a call is made with
    protocol.py   the plain-data format both sides speak (JSON and raw arrays, no pickle)
    given.py      the handout's given functions

In the sandbox the package is named _grading_worker (no submission module can take the name);
the grader imports protocol.py and given.py as grading.worker.protocol and grading.worker.given.
"""
