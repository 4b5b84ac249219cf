"""The CNN classifier: shapes, parameter count, options, and that it can learn."""

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.functional as F
from scratchnet.models import CNN


def test_shapes_and_parameter_count():
    model = CNN()
    x = sn.randn(3, 1, 28, 28)
    assert model(x).shape == (3, 10)
    assert model.features(x).shape == (3, 128)
    # conv 1->32 (no bias: batch norm follows) + bn, conv 32->64 + bn, dense 3136->128, dense 128->10
    expected = 32 * 9 + 2 * 32 + 64 * 32 * 9 + 2 * 64 + 3136 * 128 + 128 + 128 * 10 + 10
    assert sum(p.numel() for p in model.parameters()) == expected


def test_options():
    plain = CNN(batch_norm=False, channels=(4, 8), hidden=16, num_classes=3, in_channels=2, image_size=12)
    assert not any("BatchNorm" in type(m).__name__ for m in plain.modules())
    assert plain(sn.randn(2, 2, 12, 12)).shape == (2, 3)
    with pytest.raises(ValueError, match="multiple of 4"):
        CNN(image_size=30)


def test_a_few_steps_fit_a_small_batch():
    sn.manual_seed(0)
    model = CNN(channels=(4, 8), hidden=32)
    x = sn.randn(16, 1, 28, 28)
    y = sn.tensor(np.arange(16) % 10)
    opt = sn.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


def test_same_numbers_as_pytorch_with_the_same_weights():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    theirs = tnn.Sequential(
        tnn.Conv2d(1, 32, 3, padding=1, bias=False), tnn.BatchNorm2d(32), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(32, 64, 3, padding=1, bias=False), tnn.BatchNorm2d(64), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(3136, 128), tnn.ReLU(), tnn.Dropout(0.0), tnn.Linear(128, 10),
    ).double()
    ours = CNN().double()
    theirs_state = {k: v.numpy() for k, v in theirs.state_dict().items()}
    # our module tree names: body.0 .. body.10, dropout, head
    renamed = {("head." + k[3:]) if k.startswith("12.") else "body." + k: v for k, v in theirs_state.items()}
    ours.load_state_dict(renamed)
    x = np.random.default_rng(0).standard_normal((4, 1, 28, 28))
    np.testing.assert_allclose(ours(sn.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12)
