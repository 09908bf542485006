"""The worker's protocol: plain data between the grader and the sandboxed worker.

A message is a frame: b"VAEg", the payload's length (8 bytes, big-endian), then the
payload: the length of a JSON header (4 bytes), the header, and the raw bytes of
every array it names. The header is a tree of JSON values in which lists stay lists
and everything else is tagged:

    {"tuple": [...]}   {"dict": {"key": ...}}   {"array": [dtype, shape, offset, nbytes]}

Nothing is ever unpickled. Arrays are read with np.frombuffer from a whitelist of
numeric dtypes, their sizes checked against their bytes; a frame longer than the
reader's cap, a header that is not this format, or a reply that does not arrive in
full before the deadline is a ProtocolError. Both sides use this file: the worker to
send results, the grader to send calls, and each reads what the other sent with the
same checks (the grader trusts nothing that comes back).
"""
import json
import os
import select
import struct
import time

import numpy as np

MAGIC = b"VAEg"
FRAME = struct.Struct(">4sQ")
HEADER_LENGTH = struct.Struct(">I")
MAX_HEADER = 1 << 20        # bytes of JSON in one message
MAX_DEPTH = 12
MAX_NODES = 100000
DTYPES = {"|b1", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8", "<f2", "<f4", "<f8"}


class ProtocolError(Exception):
    """A message that is malformed, too large or late: its sender cannot be trusted with it."""


# ---------------------------------------------------------------------------
# Encoding

def encode_parts(value):
    """The payload for a tree of None, bool, int, float, str, list, tuple, dict with str keys
    and numeric numpy arrays (numpy scalars become 0-d arrays), as a list of buffers: the
    header, then each array's bytes, not copied."""
    blobs, offset = [], [0]

    def tree(v, depth):
        if depth > MAX_DEPTH:
            raise ProtocolError("nested more than %d levels deep" % MAX_DEPTH)
        if v is None or isinstance(v, (bool, int, float, str)) and not isinstance(v, np.generic):
            return v
        if isinstance(v, list):
            return [tree(x, depth + 1) for x in v]
        if isinstance(v, tuple):
            return {"tuple": [tree(x, depth + 1) for x in v]}
        if isinstance(v, dict):
            if not all(isinstance(k, str) for k in v):
                raise ProtocolError("a dict whose keys are not all strings")
            return {"dict": {k: tree(x, depth + 1) for k, x in v.items()}}
        if isinstance(v, (np.ndarray, np.generic)):
            a = np.asarray(v)
            if a.dtype.kind == "b":
                a = a.astype("|b1")
            elif a.dtype.kind in "iuf":
                a = a.astype(a.dtype.newbyteorder("<"), copy=False)
            else:
                raise ProtocolError("an array of %s, not numbers" % a.dtype)
            data = memoryview(np.ascontiguousarray(a)).cast("B") if a.size else b""
            node = {"array": [a.dtype.str, list(a.shape), offset[0], len(data)]}
            blobs.append(data)
            offset[0] += len(data)
            return node
        raise ProtocolError("a %s cannot be sent" % type(v).__name__)

    header = json.dumps(tree(value, 0), allow_nan=True).encode()
    return [HEADER_LENGTH.pack(len(header)) + header] + blobs


def decode(payload):
    """The value of a payload; ProtocolError for anything that is not exactly this format."""
    if len(payload) < HEADER_LENGTH.size:
        raise ProtocolError("a message shorter than its header")
    (size,) = HEADER_LENGTH.unpack_from(payload)
    if size > MAX_HEADER or HEADER_LENGTH.size + size > len(payload):
        raise ProtocolError("a header of %d bytes" % size)
    start = HEADER_LENGTH.size + size
    try:
        header = json.loads(payload[HEADER_LENGTH.size:start].decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise ProtocolError("a header that is not JSON (%s)" % str(e)[:80])
    body = memoryview(payload)[start:]
    nodes, cursor = [0], [0]

    def value(node, depth):
        nodes[0] += 1
        if depth > MAX_DEPTH or nodes[0] > MAX_NODES:
            raise ProtocolError("a value nested too deeply or too large")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [value(x, depth + 1) for x in node]
        if not isinstance(node, dict) or len(node) != 1:
            raise ProtocolError("an unknown node in the header")
        (tag, content), = node.items()
        if tag == "tuple" and isinstance(content, list):
            return tuple(value(x, depth + 1) for x in content)
        if tag == "dict" and isinstance(content, dict):
            return {str(k): value(x, depth + 1) for k, x in content.items()}
        if tag == "array":
            array = _array(content, body, cursor[0])
            cursor[0] += array.nbytes
            return array
        raise ProtocolError("an unknown node %r in the header" % str(tag)[:20])

    return value(header, 0)


def count_values(value, depth=0):
    """How many numbers a decoded message holds in its arrays (what converting them to float64
    would cost, in 8-byte units)."""
    if depth > MAX_DEPTH:
        return 0
    if isinstance(value, np.ndarray):
        return int(value.size)
    if isinstance(value, (list, tuple)):
        return sum(count_values(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return sum(count_values(v, depth + 1) for v in value.values())
    return 0


def _array(content, body, expected_offset):
    """An array's bytes must follow the previous array's, so that no two arrays share bytes and
    a message decodes to no more than it carried."""
    try:
        dtype, shape, offset, nbytes = content
        ok = (isinstance(dtype, str) and dtype in DTYPES and isinstance(shape, list) and len(shape) <= 32
              and all(type(s) is int and 0 <= s for s in shape)
              and type(offset) is int and type(nbytes) is int and offset == expected_offset
              and offset + nbytes <= len(body))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ProtocolError("a malformed array in the header")
    count = 1
    for s in shape:
        count *= s
    dt = np.dtype(dtype)
    if count * dt.itemsize != nbytes:
        raise ProtocolError("an array whose shape does not match its bytes")
    return np.frombuffer(body[offset:offset + nbytes], dtype=dt).reshape(shape).copy()


# ---------------------------------------------------------------------------
# Framing over file descriptors (pipes)

def write_message(fd, value, deadline=None, check=None):
    """Send value; with a deadline (or check, called at least every 0.2 s while waiting, which may
    raise to give up), fd must be non-blocking, and TimeoutError says the reader did not take the
    whole message in time."""
    parts = encode_parts(value)
    parts[0] = FRAME.pack(MAGIC, sum(len(p) for p in parts)) + parts[0]
    for part in parts:   # each array straight from its memory
        _write_all(fd, memoryview(part), deadline, check)


def _write_all(fd, view, deadline, check):
    while view:
        if deadline is not None or check is not None:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                raise TimeoutError
            _, ready, _ = select.select([], [fd], [], 0.2 if wait is None else min(wait, 0.2))
            if not ready:
                if check is not None:
                    check()
                continue
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            continue
        view = view[n:]


def read_exactly(fd, n, deadline, check=None):
    """n bytes from fd before deadline (time.monotonic()); EOFError if it closes first,
    TimeoutError if the deadline passes. deadline None waits for ever; check(), if given, is
    called at least every 0.2 s while waiting, and may raise to give up. The buffer grows with
    what arrives (to twice it at most), not with what the length claims."""
    buffer, got = bytearray(min(n, 1 << 16)), 0
    while got < n:
        wait = None if deadline is None else deadline - time.monotonic()
        if wait is not None and wait <= 0:
            raise TimeoutError
        if check is not None:
            wait = 0.2 if wait is None else min(wait, 0.2)
        if wait is not None:
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                if check is not None:
                    check()
                continue
        if got == len(buffer):
            buffer.extend(bytes(min(len(buffer), n - got)))
        with memoryview(buffer) as view, view[got:] as free:
            count = os.readv(fd, [free])   # straight into place: no chunks to join
        if not count:
            raise EOFError
        got += count
    return bytes(buffer) if n <= 4096 else buffer


def read_message(fd, deadline=None, cap=64 << 20, check=None):
    """The next message's value. The whole message must arrive before deadline (and while check()
    does not raise) and be at most cap bytes: TimeoutError, EOFError or ProtocolError otherwise."""
    magic, length = FRAME.unpack(read_exactly(fd, FRAME.size, deadline, check))
    if magic != MAGIC:
        raise ProtocolError("a message that does not start with the protocol's mark")
    if length > cap:
        raise ProtocolError("a message of %d bytes, more than the %d allowed" % (length, cap))
    return decode(read_exactly(fd, length, deadline, check))
