"""Writes tests/data/torch_func.txt: torch.func's jvp, jacrev (checked equal to jacfwd) and
hessian of random tensor functions, in float64, read by tests/suite/torch_func.rs (so CI needs no
Python).

    /tmp/torchenv/bin/python tools/torch_func.py > tests/data/torch_func.txt

The functions are programs of tools/torch_graphs.py (the same generator, another seed), replayed
here by a small interpreter so that torch.func can call them. Each function returns two
outputs, its last op's result and the sum of all op results (the loss). Per function:
    <the program's lines, as in torch_graphs.txt>
    jvp y<i> : <tangent of output i along the weights>
    jac y<i> x<j> : <d output_i / d input_j, shape out_i ++ x_j, row-major>
    hess x<i> x<j> : <d^2 loss / dx_i dx_j>
"""
import random
import sys

import torch
import torch.nn.functional as tf
from torch.func import hessian, jacfwd, jacrev, jvp

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import torch_graphs as tg  # noqa: E402

torch.set_default_dtype(torch.float64)
N = 60


def parse_shape(s):
    return [] if s == "-" else [int(v) for v in s.split(",")]


def program(lines):
    """The inputs, masks, indices and ops of a graph block."""
    inputs, weights, data, ops = [], [], {}, []
    for line in lines:
        head, _, vals = line.partition(" : ")
        w = head.split()
        if w[0] == "input":
            inputs.append(torch.tensor([float(v) for v in vals.split()]).reshape(parse_shape(w[2])))
        elif w[0] == "weight":
            weights.append(torch.tensor([float(v) for v in vals.split()]).reshape(parse_shape(w[2])))
        elif w[0] == "mask":
            data[w[1]] = torch.tensor([v != "0" for v in vals.split()]).reshape(parse_shape(w[2]))
        elif w[0] == "index":
            data[w[1]] = torch.tensor([int(v) for v in vals.split()]).reshape(parse_shape(w[2]))
        elif w[0] == "op":
            ops.append((w[1], w[2], w[3:]))
    return inputs, weights, data, ops


def apply(name, args, env, data):
    pos = [a for a in args if "=" not in a]
    kw = dict(a.split("=", 1) for a in args if "=" in a)
    x = lambda: env[pos[0]]  # noqa: E731
    y = lambda: env[pos[1]]  # noqa: E731
    c = lambda: float(kw["c"])  # noqa: E731
    ints = lambda k: [int(v) for v in kw[k].split(",")]  # noqa: E731
    keep = lambda: kw.get("keep") == "1"  # noqa: E731
    if name in tg.UNARY:
        return tg.UNARY[name](x())
    if name in tg.POSITIVE:
        return tg.POSITIVE[name](x())
    if name in tg.BINARY:
        return tg.BINARY[name](x(), y())
    table = {
        "leaky_relu": lambda: tf.leaky_relu(x(), c()), "elu": lambda: tf.elu(x(), c()),
        "clamp": lambda: torch.clamp(x(), float(kw["lo"]), float(kw["hi"])),
        "add_scalar": lambda: x() + c(), "powf": lambda: torch.pow(x(), c()),
        "div": lambda: x() / y(), "pow": lambda: torch.pow(x(), y()), "sum": lambda: x().sum(),
        "sum_axes": lambda: x().sum(ints("axes"), keepdim=keep()),
        "mean_axes": lambda: x().mean(ints("axes"), keepdim=keep()),
        "var_axes": lambda: torch.var(x(), ints("axes"), correction=int(kw["corr"]), keepdim=keep()),
        "std_axes": lambda: torch.std(x(), ints("axes"), correction=int(kw["corr"]), keepdim=keep()),
        "logsumexp": lambda: torch.logsumexp(x(), ints("axes"), keepdim=keep()),
        "prod_axes": lambda: prod_axes(x(), ints("axes"), keep()),
        "norm": lambda: torch.linalg.vector_norm(x()),
        "norm_axes": lambda: torch.linalg.vector_norm(x(), c(), ints("axes"), keepdim=keep()),
        "cumsum": lambda: torch.cumsum(x(), int(kw["axis"])),
        "max": lambda: torch.max(x()), "min": lambda: torch.min(x()),
        "softmax": lambda: torch.softmax(x(), int(kw["axis"])),
        "log_softmax": lambda: torch.log_softmax(x(), int(kw["axis"])),
        "max_axis": lambda: torch.amax(x(), int(kw["axis"]), keepdim=keep()),
        "transpose": lambda: x().permute(*reversed(range(x().dim()))) if x().dim() else x(),
        "permute": lambda: x().permute(*ints("axes")), "flatten": lambda: x().flatten(),
        "squeeze": lambda: x().squeeze(int(kw["axis"])), "unsqueeze": lambda: x().unsqueeze(int(kw["axis"])),
        "flip": lambda: torch.flip(x(), [int(kw["axis"])]), "repeat": lambda: x().repeat(*ints("reps")),
        "expand": lambda: x().expand(*ints("shape")),
        "pad": lambda: tf.pad(x(), [int(v) for p in reversed(kw["widths"].split(";")) for v in p.split(",")], value=c()),
        "tril": lambda: torch.tril(x(), int(kw["k"])), "triu": lambda: torch.triu(x(), int(kw["k"])),
        "where": lambda: torch.where(data[pos[0]], env[pos[1]], env[pos[2]]),
        "masked_fill": lambda: x().masked_fill(data[kw["mask"]], c()),
        "gather": lambda: torch.gather(x(), int(kw["axis"]), data[kw["index"]]),
        "scatter_add": lambda: x().scatter_add(int(kw["axis"]), data[kw["index"]], y()),
        "index_select": lambda: torch.index_select(x(), int(kw["axis"]), torch.tensor(ints("idx"))),
        "matmul": lambda: torch.matmul(x(), y()), "dot": lambda: torch.dot(x(), y()),
        "outer": lambda: torch.outer(x(), y()),
        "einsum": lambda: torch.einsum(kw["spec"], *[env[p] for p in pos]),
        "layer_norm": lambda: tf.layer_norm(x(), [x().shape[-1]], eps=1e-5),
        "normalize": lambda: tf.normalize(x(), 2.0, int(kw["axis"])),
        "cross_entropy": lambda: tf.cross_entropy(x(), torch.tensor(ints("labels")), label_smoothing=c()),
        "nll_loss": lambda: tf.nll_loss(x(), torch.tensor(ints("labels"))),
        "bce": lambda: tf.binary_cross_entropy_with_logits(x(), data[kw["mask"]].double()),
        "huber": lambda: tf.huber_loss(x(), y(), delta=c()), "l1": lambda: tf.l1_loss(x(), y()),
    }
    return table[name]()


def prod_axes(t, axes, keep):
    y = t
    for i in reversed(axes):
        y = y.prod(i, keepdim=True)
    if not keep:
        y = y.reshape([t.shape[i] for i in range(t.dim()) if i not in axes])
    return y


def function(ops, data, n):
    def f(*xs):
        env = {f"x{i}": x for i, x in enumerate(xs)}
        outs = []
        for dst, name, args in ops:
            env[dst] = apply(name, args, env, data)
            outs.append(env[dst])
        return outs[-1], sum(o.sum() for o in outs)
    return f


def main():
    rng = random.Random(7)
    print(f"# torch {torch.__version__}, float64; written by tools/torch_func.py")
    k = 0
    while k < N:
        lines = tg.graph(k, rng)
        if any("nan" in l or "inf" in l for l in lines):
            continue
        body = [l for l in lines if l.split()[0] in ("graph", "input", "weight", "mask", "index", "op")]
        xs, ws, data, ops = program(body)
        f = function(ops, data, len(xs))
        argnums = tuple(range(len(xs)))
        _, tangents = jvp(f, tuple(xs), tuple(ws))
        jr = jacrev(f, argnums=argnums)(*xs)
        jf = jacfwd(f, argnums=argnums)(*xs)
        for i in range(2):
            for j in range(len(xs)):
                assert torch.allclose(jr[i][j], jf[i][j], rtol=1e-10, atol=1e-12), (k, i, j)
        h = hessian(lambda *a: f(*a)[1], argnums=argnums)(*xs)
        out = body[:]
        for i, t in enumerate(tangents):
            out.append(f"jvp y{i} : {tg.fmt_vals(t)}")
        for i in range(2):
            for j in range(len(xs)):
                out.append(f"jac y{i} x{j} : {tg.fmt_vals(jr[i][j])}")
        for i in range(len(xs)):
            for j in range(len(xs)):
                out.append(f"hess x{i} x{j} : {tg.fmt_vals(h[i][j])}")
        text = "\n".join(out)
        if "nan" in text or "inf" in text:
            continue
        print(text)
        print("end")
        k += 1


if __name__ == "__main__":
    main()
