"""Hypothesis strategies and checks shared by the op property tests.

Values come from a NumPy generator seeded by hypothesis (shapes and op
parameters are what hypothesis explores); each kind of value keeps away from
the op's kinks so finite differences stay exact without loosening tolerances.
"""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratchnet as sn
from scratchnet.testing import gradcheck, gradgradcheck

# Tolerances for float64 central differences (eps = 1e-6); never loosened per test.
ATOL = 1e-6
RTOL = 1e-4

seeds = st.integers(0, 2**32 - 1)


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=3):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcast_pairs(max_dims=3, max_side=3):
    """Two shapes that broadcast together (size-1 dims, missing leading dims, 0-d)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=max_dims, max_side=max_side).map(
        lambda r: r.input_shapes
    )


def normal(seed, shape, scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


def uniform(seed, shape, lo, hi):
    return np.random.default_rng(seed).uniform(lo, hi, shape)


def away_from_zero(seed, shape, lo=0.2, hi=2.0):
    """Random signs, magnitudes in [lo, hi]: no kink of relu/abs/sign within eps."""
    rng = np.random.default_rng(seed)
    return rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)


def distinct(seed, shape, gap=0.1):
    """Shuffled values at least ``gap`` apart: no ties for max/min/maximum."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape, dtype=np.int64))
    values = (rng.permutation(n) - n / 2) * gap + rng.uniform(0, gap / 4)
    return values.reshape(shape)


def check(fn, *arrays, second_order=True):
    """First (and second) derivatives of ``fn`` at float64 ``arrays`` against finite differences."""
    inputs = [sn.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    assert gradcheck(fn, inputs, atol=ATOL, rtol=RTOL)
    if second_order:
        assert gradgradcheck(fn, inputs, atol=ATOL, rtol=RTOL)
