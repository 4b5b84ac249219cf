"""A LeNet-style image classifier: two conv-relu-pool blocks, then two dense layers.

    x (N, C, H, W)
    -> conv 3x3 (c1), [batch norm], ReLU, max-pool 2      (H/2)
    -> conv 3x3 (c2), [batch norm], ReLU, max-pool 2      (H/4)
    -> flatten -> dense (hidden), ReLU, [dropout]          = features(x)
    -> dense (num_classes)                                 = logits
"""

from .. import nn


class CNN(nn.Module):
    """The classifier of the CNN demo; ``features(x)`` gives the penultimate activations
    (the representation that Frechet distances and classifier scores are computed on)."""

    def __init__(self, in_channels=1, num_classes=10, channels=(32, 64), hidden=128, batch_norm=True, dropout=0.0,
                 image_size=28):
        super().__init__()
        c1, c2 = channels
        if image_size % 4:
            raise ValueError(f"CNN: image_size must be a multiple of 4 (two 2x2 poolings), got {image_size}")
        self.config = dict(in_channels=in_channels, num_classes=num_classes, channels=list(channels), hidden=hidden,
                           batch_norm=batch_norm, dropout=dropout, image_size=image_size)

        def block(cin, cout):
            layers = [nn.Conv2d(cin, cout, 3, padding=1, bias=not batch_norm)]
            if batch_norm:
                layers.append(nn.BatchNorm2d(cout))
            return layers + [nn.ReLU(), nn.MaxPool2d(2)]

        self.body = nn.Sequential(*block(in_channels, c1), *block(c1, c2), nn.Flatten(),
                                  nn.Linear(c2 * (image_size // 4) ** 2, hidden), nn.ReLU())
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, num_classes)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.dropout(self.body(x)))
