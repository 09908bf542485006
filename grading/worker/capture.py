"""What the submission prints: captured at Python level (file descriptors 0-2 are /dev/null),
kept up to a limit for the messages, and stopped past another."""
import io


class OutputLimitExceeded(BaseException):
    """Raised by print() once a call has printed more than its limit. A BaseException, so
    that `except Exception` in the submission does not swallow it."""



class CappedWriter(io.TextIOBase):
    def __init__(self, keep, abort):
        self.keep_limit, self.abort_limit = keep, abort
        self.reset()

    def reset(self):
        self.kept, self.size, self.total = [], 0, 0

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        self.total += len(text)
        if self.size < self.keep_limit:
            self.kept.append(text[:self.keep_limit - self.size])
            self.size += len(self.kept[-1])
        if self.total > self.abort_limit:
            raise OutputLimitExceeded("more than %d characters printed" % self.abort_limit)
        return len(text)

    def text(self):
        return "".join(self.kept)


