"""RMSprop, plain, centered and with momentum: ``torch.optim.RMSprop``."""

from ..backend import array_module
from .optimizer import Optimizer


class RMSprop(Optimizer):
    r"""RMSprop (Hinton, lecture 6e; ``torch.optim.RMSprop``).

    For each parameter p with gradient g, at each step (learning rate lr,
    smoothing alpha, eps, weight decay lambda, momentum mu)::

        g     = g + lambda * p                          if weight_decay != 0   (L2 penalty)
        v_t   = alpha * v_{t-1} + (1 - alpha) * g * g
        a_t   = alpha * a_{t-1} + (1 - alpha) * g       if centered; computed as a + (1 - alpha) * (g - a)
        denom = sqrt(v_t - a_t * a_t) + eps  if centered,  else  denom = sqrt(v_t) + eps
        b_t   = mu * b_{t-1} + g / denom;   p = p - lr * b_t        if momentum > 0
        p     = p - lr * g / denom                                  otherwise

    v, a and b start at zero; there is no bias correction, and eps is added
    outside the square root.
    State per parameter: ``step``, ``square_avg`` (v), ``momentum_buffer`` (b;
    momentum > 0 only), ``grad_avg`` (a; centered only).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered, weight_decay=weight_decay)
        super().__init__(params, defaults)

    def _check_options(self, group):
        self._require_nonnegative(group, "lr", "eps", "momentum", "weight_decay", "alpha")
        self._require_flag(group, "centered")

    def _update(self, group, params):
        # Python floats: NumPy/CuPy keep the parameters' dtype (no float64 leaks into float32)
        lr, alpha, eps, wd, mu = (float(group[k]) for k in ("lr", "alpha", "eps", "weight_decay", "momentum"))
        centered = group["centered"]
        for p in params:
            param, g = p.data, p.grad.data
            xp = array_module(param)
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["square_avg"] = xp.zeros_like(param)
                if mu > 0:
                    state["momentum_buffer"] = xp.zeros_like(param)
                if centered:
                    state["grad_avg"] = xp.zeros_like(param)
            state["step"] += 1

            if wd != 0:
                g = g + wd * param  # a new array: p.grad is left as it was
            v = state["square_avg"]
            v *= alpha
            v += (1 - alpha) * g * g
            if centered:
                a = state["grad_avg"]
                a += (1 - alpha) * (g - a)
                denom = xp.sqrt(v - a * a)
            else:
                denom = xp.sqrt(v)
            denom += eps

            if mu > 0:
                buf = state["momentum_buffer"]
                buf *= mu
                buf += g / denom
                param -= lr * buf
            else:
                param -= lr * g / denom
