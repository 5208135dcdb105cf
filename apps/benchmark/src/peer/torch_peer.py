"""PyTorch peer of forgetless's benchmark: the same shapes, timed the same way, on the same machine.

Prints one JSON object (with --json) with the torch version, the threads used and, per workload, the
median/min/max in milliseconds of `runs` runs after `warmup` warm-up runs:
  - one SGD step (lr 0.01, mean cross-entropy, training mode) of paper 2's MLP (784-300-150-10,
    leaky ReLU 0.01) and of its conv net (Conv(1->64,k5)-BN-lrelu-maxpool2, Conv(64->128,k3)-BN-lrelu,
    Conv(128->256,k3)-BN-lrelu, Dense(->10)), channels scaled by --conv-width;
  - the per-example empirical Fisher diagonal, mean over samples of (d log p(y|x) / d theta)^2, in
    inference mode: by a loop (one backward pass per example) and by torch's own means, functorch's
    vmap(grad(...)) over chunks of examples (torch.func does not exist in torch 1.13; functorch,
    shipped with it, does; its "per_example" field says whether it was there), and for the MLP by
    the closed form forgetless itself uses (one matmul per layer), written in torch;
  - with --mobilenet ALPHA,SIZE,BATCH,BLOCKS: torchvision's mobilenet_v2(width_mult=ALPHA,
    num_classes=10) (python3-torchvision), its first BLOCKS inverted-residual blocks after the first
    (16: the whole network), at SIZE x SIZE: one SGD step (training mode) at BATCH; one
    forward+backward pass (inference mode, mean cross-entropy) and the per-example Fisher (loop and
    vmap) on --mobilenet-samples examples, each row with the process's peak RSS after it
    (ru_maxrss); --mobilenet-parts picks the parts, --only-mobilenet skips everything else.
Run with Debian's /usr/bin/python3 (python3-torch). The shapes come from the command line.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def mlp(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(0.01))
    return nn.Sequential(*layers)


def conv_net(width):
    c = lambda n: max(1, round(n * width))
    return nn.Sequential(
        nn.Conv2d(1, c(64), 5), nn.BatchNorm2d(c(64)), nn.LeakyReLU(0.01), nn.MaxPool2d(2),
        nn.Conv2d(c(64), c(128), 3), nn.BatchNorm2d(c(128)), nn.LeakyReLU(0.01),
        nn.Conv2d(c(128), c(256), 3), nn.BatchNorm2d(c(256)), nn.LeakyReLU(0.01),
        nn.Flatten(), nn.Linear(c(256) * 8 * 8, 10),
    )


def mobilenet(alpha, blocks, classes=10):
    """torchvision's MobileNetV2 at width ALPHA; with blocks < 16, truncated after that many
    inverted-residual blocks (after the first), keeping the 1x1 conv to 1280, pooling and classifier."""
    from torchvision.models import mobilenet_v2
    from torchvision.ops.misc import Conv2dNormActivation

    m = mobilenet_v2(width_mult=alpha, num_classes=classes)
    if blocks < 16:
        feats = list(m.features.children())[: 2 + blocks]
        feats.append(Conv2dNormActivation(feats[-1].out_channels, m.last_channel, kernel_size=1, norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU6))
        m.features = nn.Sequential(*feats)
    return m


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def forward_backward(model, x, y):
    """One plain forward + backward pass (inference mode, mean cross-entropy, all parameters)."""
    model.eval()
    params = [p for p in model.parameters()]

    def run():
        return torch.autograd.grad(F.cross_entropy(model(x), y), params)

    return run


def inputs(kind, n, gen, size=96):
    shape = (n, 784) if kind == "mlp" else (n, 3, size, size) if kind == "mobilenet" else (n, 1, 28, 28)
    return torch.rand(shape, generator=gen), torch.randint(0, 10, (n,), generator=gen)


def time_it(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    samples = []
    cpu = []
    for _ in range(runs):
        c = time.process_time()
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    # cpu_median_ms: this process's CPU time (every thread) per run, which other processes' load affects far less
    return {"median_ms": statistics.median(samples), "min_ms": min(samples), "max_ms": max(samples), "runs": runs, "cpu_median_ms": statistics.median(cpu)}


def step_fn(model, x, y):
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def fisher_loop(model, x, y):
    """Sum over examples of the squared gradient of -log p(y|x), one backward pass per example."""
    model.eval()
    params = [p for p in model.parameters()]

    def run():
        acc = [torch.zeros_like(p) for p in params]
        for i in range(x.shape[0]):
            loss = F.cross_entropy(model(x[i : i + 1]), y[i : i + 1], reduction="sum")
            grads = torch.autograd.grad(loss, params)
            for a, g in zip(acc, grads):
                a.add_(g * g)
        return [a / x.shape[0] for a in acc]

    return run


def fisher_vmap(model, x, y, chunk):
    """The same quantity with functorch: vmap(grad(loss of one example)) over chunks of examples."""
    import functorch

    model.eval()
    fmodel, params, buffers = functorch.make_functional_with_buffers(model)

    def loss_one(p, b, xi, yi):
        return F.cross_entropy(fmodel(p, b, xi.unsqueeze(0)), yi.unsqueeze(0), reduction="sum")

    per_example = functorch.vmap(functorch.grad(loss_one), in_dims=(None, None, 0, 0))

    def run():
        acc = [torch.zeros_like(p) for p in params]
        for s in range(0, x.shape[0], chunk):
            grads = per_example(params, buffers, x[s : s + chunk], y[s : s + chunk])
            for a, g in zip(acc, grads):
                a.add_((g * g).sum(0))
        return [a / x.shape[0] for a in acc]

    return run


def fisher_dense_closed_form(model, x, y, chunk):
    """The same quantity for an MLP by forgetless's closed form: per Linear layer, with inputs X and
    per-example pre-activation gradients D of the summed loss, sum_n g_n^2 = (D*D)^T (X*X) for the
    weight and sum_n D*D for the bias; one backward pass per chunk."""
    model.eval()
    linears = [m for m in model if isinstance(m, nn.Linear)]

    def run():
        acc = [(torch.zeros_like(l.weight), torch.zeros_like(l.bias)) for l in linears]
        for s in range(0, x.shape[0], chunk):
            ins, outs = [], []
            h = x[s : s + chunk]
            for m in model:
                if isinstance(m, nn.Linear):
                    ins.append(h)
                    h = m(h)
                    outs.append(h)
                else:
                    h = m(h)
            loss = F.cross_entropy(h, y[s : s + chunk], reduction="sum")
            deltas = torch.autograd.grad(loss, outs)
            with torch.no_grad():
                for (aw, ab), xi, d in zip(acc, ins, deltas):
                    aw.add_((d * d).t() @ (xi * xi))
                    ab.add_((d * d).sum(0))
        return [t / x.shape[0] for pair in acc for t in pair]

    return run


def blas_library():
    """The BLAS this process loaded (Debian's torch calls the system libblas.so.3 for matmuls)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
        return ", ".join(sorted(os.path.realpath(p) for p in libs)) or "unknown"
    except OSError:
        return "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--mlp", default="784-300-150-10")
    ap.add_argument("--mlp-batch", type=int, default=100)
    ap.add_argument("--conv-width", type=float, default=1.0)
    ap.add_argument("--conv-batches", default="8,32")
    ap.add_argument("--fisher-mlp", default="784-300-150-10")
    ap.add_argument("--fisher-conv-width", type=float, default=1.0)
    ap.add_argument("--fisher-mlp-samples", type=int, default=1000)
    ap.add_argument("--fisher-conv-samples", type=int, default=1000)
    ap.add_argument("--fisher-conv-loop-samples", type=int, default=100)
    ap.add_argument("--steps-only", action="store_true")
    ap.add_argument("--mobilenet", default="", help="ALPHA,SIZE,BATCH,BLOCKS")
    ap.add_argument("--mobilenet-samples", type=int, default=16)
    ap.add_argument("--mobilenet-parts", default="step,forward backward,fisher loop,fisher vmap")
    ap.add_argument("--only-mobilenet", action="store_true")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(a.threads)
    except RuntimeError:
        pass
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    try:
        import functorch  # noqa: F401

        per_example = "functorch.vmap(functorch.grad(...)) (functorch %s)" % getattr(functorch, "__version__", "?")
        have_functorch = True
    except ImportError:
        per_example = None
        have_functorch = False

    rows = []

    def add(workload, model_name, batch, samples, t, **extra):
        row = {"workload": workload, "model": model_name, "batch": batch, "samples": samples}
        row.update(t)
        row.update(extra)
        rows.append(row)
        print("  torch %s %s: %.2f ms" % (model_name, workload, t["median_ms"]), file=sys.stderr)

    if a.mobilenet:
        alpha, size, batch, blocks = a.mobilenet.split(",")
        alpha, size, batch, blocks = float(alpha), int(size), int(batch), int(blocks)
        n = a.mobilenet_samples
        parts = [p.strip() for p in a.mobilenet_parts.split(",") if p.strip()]
        extra = lambda m: {"params": sum(p.numel() for p in m.parameters()), "blocks": blocks}
        for part in parts:
            m = mobilenet(alpha, blocks)
            if part == "step":
                x, y = inputs("mobilenet", batch, gen, size)
                add("step", "mobilenet", batch, batch, time_it(step_fn(m, x, y), a.warmup, a.runs), peak_rss_mb=peak_rss_mb(), **extra(m))
            elif part == "forward backward":
                x, y = inputs("mobilenet", n, gen, size)
                add("forward backward", "mobilenet", n, n, time_it(forward_backward(m, x, y), a.warmup, a.runs), peak_rss_mb=peak_rss_mb(), **extra(m))
            elif part == "fisher loop":
                x, y = inputs("mobilenet", n, gen, size)
                add("fisher loop", "mobilenet", 1, n, time_it(fisher_loop(m, x, y), a.warmup, a.runs), peak_rss_mb=peak_rss_mb(), **extra(m))
            elif part == "fisher vmap":
                if not have_functorch:
                    continue
                x, y = inputs("mobilenet", n, gen, size)
                add("fisher vmap", "mobilenet", n, n, time_it(fisher_vmap(m, x, y, n), a.warmup, a.runs), peak_rss_mb=peak_rss_mb(), **extra(m))
            else:
                raise SystemExit("--mobilenet-parts: unknown part %r" % part)

    if not a.only_mobilenet:
        sizes = [int(s) for s in a.mlp.split("-")]
        m = mlp(sizes)
        x, y = inputs("mlp", a.mlp_batch, gen)
        add("step", "mlp", a.mlp_batch, a.mlp_batch, time_it(step_fn(m, x, y), a.warmup, a.runs))
        for b in [int(s) for s in a.conv_batches.split(",") if s]:
            m = conv_net(a.conv_width)
            x, y = inputs("conv", b, gen)
            add("step", "conv", b, b, time_it(step_fn(m, x, y), 1, a.runs))

        fsizes = [int(s) for s in a.fisher_mlp.split("-")]
        for kind, model, n, loop_n in () if a.steps_only else (
            ("mlp", mlp(fsizes), a.fisher_mlp_samples, a.fisher_mlp_samples),
            ("conv", conv_net(a.fisher_conv_width), a.fisher_conv_samples, a.fisher_conv_loop_samples),
        ):
            x, y = inputs(kind, n, gen)
            add("fisher loop", kind, 1, loop_n, time_it(fisher_loop(model, x[:loop_n], y[:loop_n]), 1, a.runs))
            if have_functorch:
                add("fisher vmap", kind, 100, n, time_it(fisher_vmap(model, x, y, 100), 1, a.runs))
            if kind == "mlp":
                add("fisher closed form", kind, 100, n, time_it(fisher_dense_closed_form(model, x, y, 100), 1, a.runs))

    out = {
        "torch": torch.__version__,
        "blas": blas_library(),
        "python": sys.version.split()[0],
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "per_example": per_example or "none: functorch is not installed (no vmap row)",
        "rows": rows,
    }
    print(json.dumps(out) if a.json else json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
