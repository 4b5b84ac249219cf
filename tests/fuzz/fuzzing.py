"""The fuzz tests' contract, strategies for malformed input, and the per-function case counter.

Every public function fed malformed input must either give the right answer or raise one of the
documented exception types with a message that names it; it must never give a silently wrong
result, leak an internal exception (AttributeError, KeyError, OverflowError, ZeroDivisionError...),
or hang. ``attempt`` enforces that for one call and counts it; the tests compare what comes back
with a NumPy (or PyTorch) reference wherever the result is defined.
"""

import signal
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta

import numpy as np
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.extra import numpy as hnp

import scratchnet as sn

DOCUMENTED = (TypeError, ValueError, IndexError, RuntimeError, FloatingPointError)
CASES = Counter()  # function name -> calls made by the fuzz tests (reported at the end of the run)
HANG_SECONDS = 30  # one call on a tiny input taking this long is a hang

# Twice the profile's examples (the cases are cheap: the suite takes about 40 s under the "ci" profile), and a
# deadline that only a hang or a pathological slowdown trips on a loaded machine.
FUZZ = settings(max_examples=2 * settings.default.max_examples, deadline=timedelta(seconds=10),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


class Hang(Exception):
    """A call ran for HANG_SECONDS."""


@contextmanager
def time_limit(seconds):
    def alarm(signum, frame):
        raise Hang(f"no result after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Outcome:
    """What one call did: ``value`` if it returned, ``error`` if it raised a documented exception."""

    def __init__(self, value=None, error=None):
        self.value, self.error = value, error

    @property
    def ok(self):
        return self.error is None

    def __repr__(self):
        return f"Outcome(error={self.error!r})" if self.error is not None else "Outcome(ok)"


def _event(text):
    """Tally outcomes for ``pytest --hypothesis-show-statistics`` (how many cases worked, how many raised what)."""
    try:
        event(text)
    except InvalidArgument:  # outside a hypothesis test
        pass


def _squash(text):
    return text.replace("_", "").lower()


def attempt(name, fn, *args, names=(), allowed=DOCUMENTED, **kwargs):
    """Call ``fn(*args, **kwargs)`` as a fuzz case of function ``name``.

    Returns an Outcome. Fails (AssertionError) if the call raises an exception outside ``allowed``,
    raises one whose message names neither ``name`` nor one of ``names``, or hangs.
    """
    CASES[name] += 1
    try:
        with time_limit(HANG_SECONDS):
            value = fn(*args, **kwargs)
        _event(f"{name}: returned")
        return Outcome(value=value)
    except allowed as e:
        _event(f"{name}: {type(e).__name__}")
        message = str(e)
        if isinstance(e, KeyError):  # KeyError repr-quotes its message
            message = str(e.args[0]) if e.args else ""
        if not any(_squash(n) in _squash(message) for n in (name, *names)):
            raise AssertionError(f"{name}: {type(e).__name__} does not name the function: {message!r}") from e
        return Outcome(error=e)
    except Hang as e:
        raise AssertionError(f"{name} hung: {e}") from None
    except Exception as e:
        raise AssertionError(f"{name} leaked {type(e).__name__}: {e}") from e


def same(got, expected, exact=True, rtol=1e-6, atol=0.0):
    """``got`` (Tensor or array) equals ``expected`` (array): shape, dtype, values, NaN where NaN is."""
    got = got.numpy() if isinstance(got, sn.Tensor) else np.asarray(got)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, f"shape {got.shape} != {expected.shape}"
    assert got.dtype == expected.dtype, f"dtype {got.dtype} != {expected.dtype}"
    if exact or got.dtype.kind not in "fc":
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)


# --------------------------------------------------------------------------- strategies

FLOAT_DTYPES = [np.float16, np.float32, np.float64]
INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
NUMERIC_DTYPES = FLOAT_DTYPES + INT_DTYPES + [np.bool_]
OTHER_DTYPES = [np.complex64, np.complex128, np.dtype("U3"), np.dtype("S2"), np.dtype("M8[D]"), np.dtype("m8[s]"),
                np.dtype([("a", "f4")]), np.dtype(object)]


def special_floats(dtype):
    """Values that break naive code: NaN, +-inf, +-0, the largest and the smallest normal and subnormal."""
    info = np.finfo(dtype)
    return [np.nan, np.inf, -np.inf, 0.0, -0.0, float(info.max), -float(info.max), float(info.tiny),
            float(info.smallest_subnormal), 1.0, -1.0, 0.5]


def arrays(dtype, shape, finite=False):
    """Arrays of ``dtype`` and ``shape``, rich in special values for floats and extremes for integers."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        elements = st.one_of(st.sampled_from(special_floats(dtype)),
                             st.floats(width=8 * dtype.itemsize, allow_nan=not finite, allow_infinity=not finite))
        if finite:
            elements = elements.filter(np.isfinite)
        return hnp.arrays(dtype, shape, elements=elements)
    return hnp.arrays(dtype, shape)  # integers (extremes included) and bools


def shapes(min_dims=0, max_dims=4, min_side=0, max_side=4):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


@st.composite
def float_arrays(draw, min_dims=0, max_dims=4, min_side=0, max_side=4, dtypes=FLOAT_DTYPES, finite=False):
    shape = draw(shapes(min_dims, max_dims, min_side, max_side))
    return draw(arrays(draw(st.sampled_from(dtypes)), shape, finite))


@st.composite
def numeric_arrays(draw, min_dims=0, max_dims=4, min_side=0, max_side=4):
    shape = draw(shapes(min_dims, max_dims, min_side, max_side))
    return draw(arrays(draw(st.sampled_from(NUMERIC_DTYPES)), shape))


LAYOUTS = ("contiguous", "transposed", "strided", "reversed", "channels_last")


def as_tensor(a, layout="contiguous"):
    """A Tensor with ``a``'s values, laid out in memory as ``layout`` says: the non-contiguous ones are made with
    public ops (a transposed view, every other element of a wider array, a reversed view, a 4-D array with
    (N, H, W, C) memory; other ranks take "transposed" for that), as user code makes them."""
    if layout == "contiguous" or a.ndim == 0:
        return sn.tensor(a)
    if layout == "channels_last" and a.ndim == 4:  # what the conv ops return: (N, H, W, C) memory
        return sn.tensor(np.ascontiguousarray(a.transpose(0, 2, 3, 1))).permute(0, 3, 1, 2)
    if layout in ("transposed", "channels_last"):
        return sn.tensor(np.ascontiguousarray(a.T)).permute(*range(a.ndim - 1, -1, -1))
    if layout == "strided":
        wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
        wide[..., ::2] = a
        return sn.tensor(wide)[..., ::2]
    return sn.tensor(np.ascontiguousarray(a[..., ::-1]))[..., ::-1]


layouts = st.sampled_from(LAYOUTS)

# Things that are not what an argument should be.
junk = st.one_of(st.none(), st.text(max_size=3), st.binary(max_size=3), st.floats(allow_nan=True),
                 st.complex_numbers(max_magnitude=2), st.lists(st.integers(-2, 2), max_size=3),
                 st.dictionaries(st.text(max_size=2), st.integers(), max_size=2), st.booleans(),
                 st.just(np.ones(2)), st.just(object()))
bad_ints = st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=True), junk)
