"""Stochastic gradient descent with (Nesterov) momentum: ``torch.optim.SGD``."""

from ..backend import array_module
from .optimizer import Optimizer


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with momentum (``torch.optim.SGD``).

    For each parameter p with gradient g, at step t = 1, 2, ... (learning rate
    lr, momentum mu, dampening tau, weight decay lambda)::

        g   = g + lambda * p                   if weight_decay != 0   (L2 penalty)
        b_1 = g                                                        } if momentum != 0
        b_t = mu * b_{t-1} + (1 - tau) * g     for t > 1               }
        g   = g + mu * b_t  if nesterov,  else  g = b_t                }
        p   = p - lr * g

    The buffer b starts as a copy of the first gradient (no dampening on the
    first step). Nesterov momentum needs momentum > 0 and dampening == 0.
    State per parameter: ``momentum_buffer`` (b; only when momentum != 0).
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, defaults)

    def _check_options(self, group):
        self._require_nonnegative(group, "lr", "momentum", "weight_decay")
        self._require_number(group, "dampening")
        self._require_flag(group, "nesterov")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: Nesterov momentum needs momentum > 0 and dampening == 0, "
                f"got momentum={group['momentum']!r} and dampening={group['dampening']!r}"
            )

    def _update(self, group, params):
        # Python floats: NumPy/CuPy keep the parameters' dtype (no float64 leaks into float32)
        lr, mu, tau, wd = (float(group[k]) for k in ("lr", "momentum", "dampening", "weight_decay"))
        nesterov = group["nesterov"]
        for p in params:
            param, g = p.data, p.grad.data
            if wd != 0:
                g = g + wd * param  # a new array: p.grad is left as it was
            if mu != 0:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:  # a copy of g; xp.array, since NumPy gives scalars for 0-d results
                    buf = state["momentum_buffer"] = array_module(param).array(g, dtype=param.dtype)
                else:
                    buf *= mu
                    buf += (1 - tau) * g
                g = g + mu * buf if nesterov else buf
            param -= lr * g
