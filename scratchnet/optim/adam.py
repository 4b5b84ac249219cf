"""Adam and AdamW: ``torch.optim.Adam`` and ``torch.optim.AdamW``."""

import numbers

from ..backend import array_module
from .optimizer import Optimizer


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), optionally AMSGrad (``torch.optim.Adam``).

    For each parameter p with gradient g, at step t = 1, 2, ... (learning rate
    lr, betas = (b1, b2), eps, weight decay lambda)::

        g     = g + lambda * p                         if weight_decay != 0   (L2 penalty, coupled)
        m_t   = b1 * m_{t-1} + (1 - b1) * g            computed as m + (1 - b1) * (g - m), torch's lerp
        v_t   = b2 * v_{t-1} + (1 - b2) * g * g
        v_t   = max(vmax_{t-1}, v_t) =: vmax_t         if amsgrad (only the max is stored)
        denom = sqrt(v_t) / sqrt(1 - b2**t) + eps
        p     = p - lr / (1 - b1**t) * m_t / denom

    m, v (and vmax) start at zero. As in PyTorch, eps is added after the bias
    correction of v, i.e. p -= lr * m_hat / (sqrt(v_hat) + eps) with
    m_hat = m / (1 - b1**t) and v_hat = v / (1 - b2**t).
    State per parameter: ``step`` (t), ``exp_avg`` (m), ``exp_avg_sq`` (v),
    ``max_exp_avg_sq`` (vmax; amsgrad only).
    """

    decoupled_weight_decay = False  # AdamW: p *= 1 - lr * lambda instead of g += lambda * p

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        super().__init__(params, defaults)

    def _check_options(self, group):
        self._require_nonnegative(group, "lr", "eps", "weight_decay")
        self._require_flag(group, "amsgrad")
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{type(self).__name__}: betas must be a pair (beta1, beta2), got {betas!r}")
        group["betas"] = betas = tuple(betas)
        for i, beta in enumerate(betas):
            if isinstance(beta, bool) or not isinstance(beta, numbers.Real):
                raise TypeError(f"{type(self).__name__}: betas[{i}] must be a number, got {beta!r}")
            if not 0 <= beta < 1:
                raise ValueError(f"{type(self).__name__}: invalid betas[{i}]={beta!r}; it must be in [0, 1)")

    def _update(self, group, params):
        # Python floats: NumPy/CuPy keep the parameters' dtype (no float64 leaks into float32)
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        amsgrad, decoupled = group["amsgrad"], self.decoupled_weight_decay
        for p in params:
            param, g = p.data, p.grad.data
            xp = array_module(param)
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["exp_avg"] = xp.zeros_like(param)
                state["exp_avg_sq"] = xp.zeros_like(param)
                if amsgrad:
                    state["max_exp_avg_sq"] = xp.zeros_like(param)
            t = state["step"] = state["step"] + 1
            m, v = state["exp_avg"], state["exp_avg_sq"]

            if wd != 0:
                if decoupled:
                    param *= 1 - lr * wd
                else:
                    g = g + wd * param  # a new array: p.grad is left as it was
            m += (1 - beta1) * (g - m)
            v *= beta2
            v += (1 - beta2) * g * g
            if amsgrad:
                vmax = state["max_exp_avg_sq"]
                xp.maximum(vmax, v, out=vmax)
                v = vmax  # normalise by the largest v so far

            step_size = lr / (1 - beta1**t)
            denom = xp.sqrt(v)
            denom /= (1 - beta2**t) ** 0.5
            denom += eps
            param -= step_size * m / denom


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019; ``torch.optim.AdamW``).

    The same as :class:`Adam`, except that weight decay shrinks the parameter
    directly instead of being added to the gradient, and defaults to 1e-2::

        p     = p * (1 - lr * lambda)                  (before the Adam step, which then uses the raw g)
        m_t   = b1 * m_{t-1} + (1 - b1) * g
        v_t   = b2 * v_{t-1} + (1 - b2) * g * g         (v_t = max(vmax_{t-1}, v_t) if amsgrad)
        p     = p - lr / (1 - b1**t) * m_t / (sqrt(v_t) / sqrt(1 - b2**t) + eps)

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (amsgrad only).
    """

    decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
