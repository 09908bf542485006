"""numpy's global generator in the worker: every Gaussian sampler (numpy.random's and
autograd.numpy.random's randn, normal, standard_normal, multivariate_normal, however imported)
draws from the noise stream the grader gives with each call, or from a generator the grader can
replay from the sizes drawn; the other samplers are numpy's own."""
import numpy as np

from . import observed


class NoiseSource:
    def __init__(self):
        self.set(None, 0)

    def set(self, stream, seed, generator=None):
        """stream: the values to serve in order; else, with generator (a seed), an independent
        stream the grader can replay from the sizes drawn; else numpy's real generator."""
        self.stream = None if stream is None else np.asarray(stream, dtype=np.float64).ravel()
        self.pos = 0
        self.draws = []      # [sampler, shape] of every draw
        self.phases = []     # the observed run's gradient calls before each draw
        self.overdrawn = False
        self.fallback = np.random.RandomState(seed + 7919)
        self.generator = None if generator is None else np.random.RandomState(int(generator))

    def take(self, function, shape):
        shape = tuple(int(s) for s in shape)
        n = int(np.prod(shape, dtype=np.int64))
        self.draws.append([function, list(shape)])
        self.phases.append(observed.OBSERVATION.calls)
        if self.generator is not None:
            values = self.generator.standard_normal(n)
        elif self.stream is None:
            values = np.random.RandomState.standard_normal(GLOBAL, size=n)
        else:
            values = self.stream[self.pos:self.pos + n]
            self.pos += len(values)
            if len(values) < n:
                self.overdrawn = True
                values = np.concatenate([values, self.fallback.standard_normal(n - len(values))])
        return values.reshape(shape)

    def unused(self):
        return 0 if self.stream is None else len(self.stream) - self.pos


NOISE = NoiseSource()


def _shape_of(size):
    if size is None:
        return None
    return tuple(np.atleast_1d(np.asarray(size, dtype=np.int64)).tolist())


def _scalar_or(values, shape):
    return float(values) if shape is None else values


class GraderRandomState(np.random.RandomState):
    """numpy's global generator (np.random.*, autograd.numpy.random.*, and what libraries draw
    from it): every Gaussian sampler draws from NOISE, whichever entry point the submission
    calls; the other samplers are numpy's own."""

    def standard_normal(self, size=None, *args, **kwargs):
        shape = _shape_of(size)
        values = NOISE.take("standard_normal", shape or ())
        dtype = kwargs.get("dtype")
        return _scalar_or(values if dtype is None else values.astype(dtype), shape)

    def randn(self, *dims):
        values = NOISE.take("randn", dims)
        return float(values) if not dims else values

    def normal(self, loc=0.0, scale=1.0, size=None):
        # loc and scale plain numbers or arrays (autograd passes them unboxed, and gives the
        # result no gradient, as it does for the real normal).
        loc, scale = np.asarray(loc, dtype=np.float64), np.asarray(scale, dtype=np.float64)
        shape = _shape_of(size)
        if shape is None:
            shape = np.broadcast_shapes(loc.shape, scale.shape)
        values = loc + scale * NOISE.take("normal", shape)
        return float(values) if np.ndim(values) == 0 else values

    def multivariate_normal(self, mean, cov, size=None, check_valid="warn", tol=1e-8):
        mean, cov = np.asarray(mean, dtype=np.float64), np.asarray(cov, dtype=np.float64)
        if mean.ndim != 1 or cov.shape != (len(mean), len(mean)):
            return np.random.RandomState.multivariate_normal(self, mean, cov, size, check_valid, tol)
        eps = NOISE.take("multivariate_normal", (_shape_of(size) or ()) + mean.shape)
        try:
            factor = np.linalg.cholesky(cov)     # the identity for N(0, I): eps itself, exactly
        except np.linalg.LinAlgError:
            w, v = np.linalg.eigh(cov)
            factor = v * np.sqrt(np.clip(w, 0, None))
        return mean + eps @ factor.T


GLOBAL = GraderRandomState(0)


def patch_rng():
    """numpy's global generator becomes GLOBAL: np.random's functions, the state libraries such as
    scipy.stats draw from, and autograd.numpy.random's wrappers."""
    import numpy.random as nr
    import numpy.random.mtrand as mtrand
    import autograd.numpy.random as anr
    from autograd.extend import primitive
    old = mtrand._rand
    for module in (nr, mtrand):
        for name in dir(module):
            attr = getattr(module, name, None)
            if getattr(attr, "__self__", None) is old:
                setattr(module, name, getattr(GLOBAL, name))
                if module is nr and hasattr(anr, name):
                    setattr(anr, name, primitive(getattr(GLOBAL, name)))
    mtrand._rand = GLOBAL


