"""Ctrl-C during training: the current batch finishes, then every output is written."""
import signal
import sys


def install_stop_on_interrupt():
    """First Ctrl-C: finish the current batch, then stop and write every output.
    A second Ctrl-C aborts at once. Returns a function telling if a stop was asked."""
    requested = []

    def handler(signum, frame):
        requested.append(True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("\nInterrupted: stopping after this batch and writing the outputs for the model "
              "so far (Ctrl-C again to abort without them).", file=sys.stderr, flush=True)
    signal.signal(signal.SIGINT, handler)
    return lambda: bool(requested)
