"""Training-step time of the demo models: scratchnet beside a PyTorch twin of the same architecture.

One step = forward, loss, backward and the optimizer update, in float32, on random data of the
right shape fixed across repeats (images in [0, 1] for the CNN and the VAE, in [-1, 1] for the
GANs; random labels for the CNN). The PyTorch twin has the same module tree as the scratchnet
model (checked by loading scratchnet's state dict into it strictly, so both start from the same
weights) and does the same work per step:

    cnn         scratchnet.models.CNN(dropout=0.3), the CNN demo's model: conv 32 and conv 64 (3x3,
                padding 1, batch norm, ReLU, max-pool 2), dense 128, ReLU, dropout, dense 10;
                cross-entropy; Adam(1e-3)
    mlp-gan     gan.build_gan('mlp', 'bce'), one step of demos/gan.py: D on real images and on
                G(z) made under no_grad, BCE, D's Adam step; then G through D with D's parameters
                frozen (requires_grad_(False)), G's Adam step; Adam with the demo's settings,
                gan.OPTIMIZER_SETTINGS (betas (0.5, 0.999)); fresh noise z each step, on both sides
    mlp-gan-r1  gan.build_gan('mlp', 'r1'): the same plus the R1 penalty in D's loss (the input
                gradient with create_graph, then a double backward)
    dcgan       gan.build_gan('dcgan', 'bce'): the mlp-gan step with the DCGAN networks
    mlp-vae     vae.MLPVAE(), the VAE demo's model: 784 -> 400 (ReLU) -> mu, logvar (20 each);
                20 -> 400 (ReLU) -> 784 logits; vae.loss: (summed BCE-with-logits + KL) / batch; Adam(1e-3)

Prints milliseconds per step (median of --repeats after --warmup, the two libraries taking turns)
and the ratio scratchnet / PyTorch:

    python benchmarks/train_step.py                           # batch 64, all workloads
    python benchmarks/train_step.py --batches 16,64,256       # how the cost grows with the batch
    python benchmarks/train_step.py --workloads cnn,dcgan --repeats 30 --json train_step.json
    python benchmarks/train_step.py --show-models             # print both models of each pair
    python benchmarks/train_step.py --device cuda             # scratchnet on CuPy, PyTorch on CUDA

NumPy's BLAS threads come from OMP_NUM_THREADS / OPENBLAS_NUM_THREADS; --threads sets PyTorch's.
"""

import numpy as np
from _harness import SCRATCHNET, TORCH, Setup, Table, alternate, check_counts, copy_weights, parser_for, ratio, torch
from _harness import write_json as write_results

import scratchnet as sn
from scratchnet import functional as F
from scratchnet.models import CNN, gan, vae

LATENT = 100
CNN_DROPOUT = 0.3  # demos/cnn.py's default


# --------------------------------------------------------------------------- the PyTorch twins

if torch is not None:
    tnn, tF = torch.nn, torch.nn.functional

    class TorchCNN(tnn.Module):
        """scratchnet.models.CNN's module tree (body / dropout / head) with its defaults."""

        def __init__(self, dropout=0.0):
            super().__init__()
            self.body = tnn.Sequential(
                tnn.Conv2d(1, 32, 3, padding=1, bias=False), tnn.BatchNorm2d(32), tnn.ReLU(), tnn.MaxPool2d(2),
                tnn.Conv2d(32, 64, 3, padding=1, bias=False), tnn.BatchNorm2d(64), tnn.ReLU(), tnn.MaxPool2d(2),
                tnn.Flatten(), tnn.Linear(64 * 7 * 7, 128), tnn.ReLU(),
            )  # fmt: skip
            self.dropout = tnn.Dropout(dropout)
            self.head = tnn.Linear(128, 10)

        def forward(self, x):
            return self.head(self.dropout(self.body(x)))

    class TorchNet(tnn.Module):
        """A Sequential under the name ``net``, as scratchnet's GAN networks; ``per_sample`` reshapes
        the output to (N,) as their discriminators do."""

        def __init__(self, *layers, per_sample=False):
            super().__init__()
            self.net = tnn.Sequential(*layers)
            self.per_sample = per_sample

        def forward(self, x):
            out = self.net(x)
            return out.reshape(x.shape[0]) if self.per_sample else out

    class TorchVAE(tnn.Module):
        """PyTorch's example VAE, with vae.MLPVAE's layer names (fc1, fc21, fc22, fc3, fc4)."""

        def __init__(self, pixels=784, hidden=400, latent=20):
            super().__init__()
            self.fc1 = tnn.Linear(pixels, hidden)
            self.fc21 = tnn.Linear(hidden, latent)
            self.fc22 = tnn.Linear(hidden, latent)
            self.fc3 = tnn.Linear(latent, hidden)
            self.fc4 = tnn.Linear(hidden, pixels)

        def encode(self, x):
            h = tF.relu(self.fc1(x.flatten(1)))
            return self.fc21(h), self.fc22(h)

        def decode(self, z):
            return self.fc4(tF.relu(self.fc3(z))).reshape(z.shape[0], 1, 28, 28)

        def forward(self, x):
            mu, logvar = self.encode(x)
            z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
            return self.decode(z), mu, logvar

    def torch_vae_loss(logits, x, mu, logvar):
        reconstruction = tF.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum()
        return (reconstruction + kl) / x.shape[0]

    def torch_gan(arch, loss):
        """The twin of ``gan.build_gan(arch, loss)``: (G, D) with the same layers under the same names."""
        if arch == "mlp":
            G = TorchNet(
                tnn.Linear(LATENT, 256, bias=False), tnn.BatchNorm1d(256), tnn.LeakyReLU(0.2),
                tnn.Linear(256, 512, bias=False), tnn.BatchNorm1d(512), tnn.LeakyReLU(0.2),
                tnn.Linear(512, 784), tnn.Tanh(), tnn.Unflatten(1, (1, 28, 28)),
            )  # fmt: skip

            def drop():
                return tnn.Dropout(0.3) if loss != "wgan-gp" else tnn.Identity()

            D = TorchNet(
                tnn.Flatten(),
                tnn.Linear(784, 512), tnn.LeakyReLU(0.2), drop(),
                tnn.Linear(512, 256), tnn.LeakyReLU(0.2), drop(),
                tnn.Linear(256, 1),
                per_sample=True,
            )  # fmt: skip
            return G, D
        batch_norm = loss == "bce"
        G = TorchNet(
            tnn.Linear(LATENT, 128 * 7 * 7, bias=False), tnn.BatchNorm1d(128 * 7 * 7), tnn.ReLU(),
            tnn.Unflatten(1, (128, 7, 7)),
            tnn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), tnn.BatchNorm2d(64), tnn.ReLU(),
            tnn.ConvTranspose2d(64, 1, 4, 2, 1), tnn.Tanh(),
        )  # fmt: skip
        D = TorchNet(
            tnn.Conv2d(1, 64, 4, 2, 1), tnn.LeakyReLU(0.2),
            tnn.Conv2d(64, 128, 4, 2, 1, bias=not batch_norm), tnn.BatchNorm2d(128) if batch_norm else tnn.Identity(),
            tnn.LeakyReLU(0.2),
            tnn.Flatten(), tnn.Linear(128 * 7 * 7, 1),
            per_sample=True,
        )  # fmt: skip
        return G, D


# --------------------------------------------------------------------------- workloads


class Workload:
    """The step functions of one workload at one batch size: ``steps`` {lib: fn}; ``pairs``
    [(name, scratchnet module, torch module or None, probe input as NumPy, method to probe)]."""

    def __init__(self, steps, pairs):
        self.steps, self.pairs = steps, pairs


def twin(setup, sn_model, torch_model):
    """Give the torch twin scratchnet's weights (strict: same keys and shapes), move it to the device."""
    copy_weights(sn_model, torch_model)
    return torch_model.to(setup.torch_device)


def make_cnn(setup, batch):
    rng = np.random.default_rng(0)
    images = rng.random((batch, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, batch)
    model = CNN(dropout=CNN_DROPOUT)
    opt = sn.optim.Adam(model.parameters(), lr=1e-3)
    x, y = setup.to_sn(images), setup.to_sn(labels)

    def sn_step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    steps, twin_model = {SCRATCHNET: sn_step}, None
    if setup.torch is not None:
        twin_model = twin(setup, model, TorchCNN(dropout=CNN_DROPOUT))
        t_opt = torch.optim.Adam(twin_model.parameters(), lr=1e-3)
        tx, ty = setup.to_torch(images), setup.to_torch(labels, torch.long)

        def torch_step():
            loss = tF.cross_entropy(twin_model(tx), ty)
            t_opt.zero_grad()
            loss.backward()
            t_opt.step()

        steps[TORCH] = torch_step
    return Workload(steps, [("CNN", model, twin_model, images, "forward")])


def make_gan(arch, loss, setup, batch):
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (batch, 1, 28, 28)).astype(np.float32)
    noise = rng.standard_normal((batch, LATENT)).astype(np.float32)  # for --show-models only
    G, D = gan.build_gan(arch, loss, LATENT)
    settings = gan.OPTIMIZER_SETTINGS[loss]
    opt_g, opt_d = sn.optim.Adam(G.parameters(), **settings), sn.optim.Adam(D.parameters(), **settings)
    real = setup.to_sn(images)
    r1 = loss == "r1"

    def sn_step():
        with sn.no_grad():
            fake = G(sn.randn(batch, LATENT))
        d_loss = gan.d_loss_bce(D(real), D(fake))
        if r1:
            d_loss = d_loss + gan.r1_penalty(D, real)
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        fake = G(sn.randn(batch, LATENT))
        D.requires_grad_(False)  # G's step needs D's input gradient only
        g_loss = gan.g_loss_bce(D(fake))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        D.requires_grad_(True)

    steps, tG, tD = {SCRATCHNET: sn_step}, None, None
    if setup.torch is not None:
        tG, tD = torch_gan(arch, loss)
        tG, tD = twin(setup, G, tG), twin(setup, D, tD)
        t_opt_g, t_opt_d = torch.optim.Adam(tG.parameters(), **settings), torch.optim.Adam(tD.parameters(), **settings)
        t_real, device = setup.to_torch(images), setup.torch_device

        def bce(logits, target):
            return tF.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))

        def torch_step():
            with torch.no_grad():
                fake = tG(torch.randn(batch, LATENT, device=device))
            d_loss = bce(tD(t_real), 1.0) + bce(tD(fake), 0.0)
            if r1:
                x = t_real.detach().requires_grad_()
                (g,) = torch.autograd.grad(tD(x).sum(), x, create_graph=True)
                d_loss = d_loss + 10.0 / 2 * (g.reshape(batch, -1) ** 2).sum(1).mean()
            t_opt_d.zero_grad()
            d_loss.backward()
            t_opt_d.step()
            fake = tG(torch.randn(batch, LATENT, device=device))
            tD.requires_grad_(False)
            g_loss = bce(tD(fake), 1.0)
            t_opt_g.zero_grad()
            g_loss.backward()
            t_opt_g.step()
            tD.requires_grad_(True)

        steps[TORCH] = torch_step
    return Workload(steps, [("G", G, tG, noise, "forward"), ("D", D, tD, images, "forward")])


def make_vae(setup, batch):
    rng = np.random.default_rng(0)
    images = rng.random((batch, 1, 28, 28), dtype=np.float32)
    model = vae.MLPVAE()
    opt = sn.optim.Adam(model.parameters(), lr=1e-3)
    x = setup.to_sn(images)

    def sn_step():
        loss = vae.loss(model, x).loss
        opt.zero_grad()
        loss.backward()
        opt.step()

    steps, twin_model = {SCRATCHNET: sn_step}, None
    if setup.torch is not None:
        twin_model = twin(setup, model, TorchVAE())
        t_opt = torch.optim.Adam(twin_model.parameters(), lr=1e-3)
        tx = setup.to_torch(images)

        def torch_step():
            logits, mu, logvar = twin_model(tx)
            loss = torch_vae_loss(logits, tx, mu, logvar)
            t_opt.zero_grad()
            loss.backward()
            t_opt.step()

        steps[TORCH] = torch_step
    return Workload(steps, [("VAE", model, twin_model, images, "encode")])


WORKLOADS = {
    "cnn": make_cnn,
    "mlp-gan": lambda setup, batch: make_gan("mlp", "bce", setup, batch),
    "mlp-gan-r1": lambda setup, batch: make_gan("mlp", "r1", setup, batch),
    "dcgan": lambda setup, batch: make_gan("dcgan", "bce", setup, batch),
    "mlp-vae": make_vae,
}


# --------------------------------------------------------------------------- main


def show_models(setup, name, workload):
    """Print each model beside its twin, the parameter counts, and the largest difference of their
    outputs in eval mode on the same input (same weights: it should be float32 rounding)."""
    for part, sn_model, torch_model, probe, method in workload.pairs:
        print(f"=== {name}: {part}, scratchnet ===\n{sn_model}")
        n_sn = sum(p.numel() for p in sn_model.parameters())
        if torch_model is None:
            print(f"{n_sn:,} parameters")
            continue
        print(f"=== {name}: {part}, PyTorch ===\n{torch_model}")
        n_torch = sum(p.numel() for p in torch_model.parameters())
        sn_model.eval(), torch_model.eval()
        with sn.no_grad(), torch.no_grad():
            ours = getattr(sn_model, method)(setup.to_sn(probe))
            theirs = getattr(torch_model, method)(setup.to_torch(probe))
        ours, theirs = (ours, theirs) if isinstance(ours, tuple) else ((ours,), (theirs,))
        diff = max(float(np.abs(a.numpy() - b.cpu().numpy()).max()) for a, b in zip(ours, theirs))
        sn_model.train(), torch_model.train()
        print(f"parameters: scratchnet {n_sn:,}, PyTorch {n_torch:,}; eval-mode {method}() max |difference| {diff:.2e}")


def main(argv=None):
    parser = parser_for(__doc__, repeats=15, warmup=3, batches="64")
    parser.add_argument(
        "--workloads", default=",".join(WORKLOADS), metavar="NAME[,NAME...]",
        help=f"comma-separated subset of {', '.join(WORKLOADS)} (default all)",
    )  # fmt: skip
    parser.add_argument("--show-models", action="store_true", help="print each model beside its PyTorch twin first")
    args = parser.parse_args(argv)
    check_counts(parser, args)
    names = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in names if w not in WORKLOADS]
    if unknown or not names:
        parser.error(f"--workloads: unknown {', '.join(map(repr, unknown))}; valid: {', '.join(WORKLOADS)}")
    setup = Setup(args)
    if args.show_models:
        for name in names:
            setup.seed(0)
            show_models(setup, name, WORKLOADS[name](setup, args.batches[0]))
        print()

    print(f"training step, float32, median of {args.repeats} runs after {args.warmup} warm-up (ms per step)")
    print(setup.describe())
    if setup.note:
        print(f"({setup.note})")
    syncs = {lib: setup.sync(lib) for lib in setup.libs}
    table = Table([("workload", 11), ("batch", 5), ("scratchnet ms", 13), ("pytorch ms", 10), ("ratio", 6)])
    results = []
    for name in names:
        for batch in args.batches:
            setup.seed(0)
            workload = WORKLOADS[name](setup, batch)
            medians = alternate(workload.steps, args.repeats, args.warmup, syncs, args.settle)
            ours, theirs = medians[SCRATCHNET], medians.get(TORCH)
            table.row(name, batch, ours, theirs, ratio(ours, theirs))
            row = {"workload": name, "batch": batch, "scratchnet_ms": ours, "torch_ms": theirs}
            results.append({**row, "ratio": ratio(ours, theirs)})
    if args.json:
        write_results(args.json, "train_step", args, setup, results)


if __name__ == "__main__":
    main()
