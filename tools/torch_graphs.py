"""Writes tests/data/torch_graphs.txt: random graphs over tapegrad's ops, evaluated by PyTorch in
float64 (values, first-order gradients, and second-order gradients), read by
tests/suite/torch_graphs.rs, which replays each graph with tapegrad (so CI needs no Python).

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch
    /tmp/torchenv/bin/python tools/torch_graphs.py > tests/data/torch_graphs.txt

Each graph has two or three inputs and a few ops, each applied to earlier values whose shapes
fit. The loss is the sum of every op's result; the second-order check differentiates
`s = sum_i sum(dloss/dx_i * w_i)` for fixed random arrays `w_i`.

Format, one graph per block:
    graph <k>
    input x<i> <shape> : <values>          (also `weight`, the w_i, same shape)
    mask m<i> <shape> : <0/1 ...>          (for where_, masked_fill)
    index n<i> <shape> : <ints ...>        (for gather)
    op v<i> <name> <operands and key=value parameters>
    value v<i> : <values>                  (the op's result)
    loss <value>
    grad x<i> : <values>
    grad2 x<i> : <values>
    end
A shape is `2,3` (`-` for 0-d); lists are `0,1`.
"""
import random

import torch
import torch.nn.functional as tf

torch.set_default_dtype(torch.float64)
N_GRAPHS = 240


def fmt_shape(s):
    return ",".join(map(str, s)) if len(s) else "-"


def fmt_vals(t):
    return " ".join(repr(float(v)) for v in t.detach().clone().contiguous().reshape(-1))


class Graph:
    def __init__(self, rng):
        self.rng = rng
        self.lines = []
        self.vals = []  # (name, tensor)
        self.n_mask = 0
        self.n_index = 0

    def pick(self, pred=lambda t: True):
        cands = [v for v in self.vals if pred(v[1])]
        return self.rng.choice(cands) if cands else None

    def emit(self, name, args, t):
        dst = f"v{len(self.vals)}"
        self.lines.append(f"op {dst} {name} {args}".rstrip())
        self.lines.append(f"value {dst} : {fmt_vals(t)}")
        self.vals.append((dst, t))
        return dst, t

    def mask(self, shape):
        m = torch.tensor([self.rng.random() < 0.5 for _ in range(max(1, prod(shape)))]).reshape(shape)
        name = f"m{self.n_mask}"
        self.n_mask += 1
        self.lines.append(f"mask {name} {fmt_shape(shape)} : " + " ".join(str(int(b)) for b in m.reshape(-1).tolist()))
        return name, m

    def index(self, shape, high):
        i = torch.tensor([self.rng.randrange(high) for _ in range(max(1, prod(shape)))]).reshape(shape)
        name = f"n{self.n_index}"
        self.n_index += 1
        self.lines.append(f"index {name} {fmt_shape(shape)} : " + " ".join(map(str, i.reshape(-1).tolist())))
        return name, i


def prod(s):
    p = 1
    for d in s:
        p *= d
    return p


UNARY = {
    "sin": torch.sin, "cos": torch.cos, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
    "softplus": tf.softplus, "gelu": tf.gelu, "silu": tf.silu, "erf": torch.erf,
    "atan": torch.atan, "log_sigmoid": tf.logsigmoid, "square": torch.square, "neg": torch.neg,
    "abs": torch.abs, "relu": torch.relu, "floor": torch.floor, "round": torch.round,
    "sinh": torch.sinh, "expm1": torch.expm1, "exp": torch.exp, "ceil": torch.ceil,
}
# applied to a positive value
POSITIVE = {
    "log": torch.log, "sqrt": torch.sqrt, "rsqrt": torch.rsqrt, "reciprocal": torch.reciprocal,
    "log1p": torch.log1p,
}
BINARY = {
    "add": torch.add, "sub": torch.sub, "mul": torch.mul, "maximum": torch.maximum,
    "minimum": torch.minimum, "atan2": torch.atan2,
}


def broadcastable(a, b):
    try:
        torch.broadcast_shapes(a.shape, b.shape)
        return True
    except RuntimeError:
        return False


def step(g):
    r = g.rng
    kind = r.choice(["unary", "unary", "positive", "binary", "binary", "div_pow", "reduce",
                     "reduce", "shape", "shape", "select", "product", "nn"])
    name, t = g.pick()
    if kind == "unary":
        op = r.choice(list(UNARY))
        if op in ("exp", "sinh", "expm1"):  # keep values moderate: on tanh of the value
            _, t = g.emit("tanh", name, torch.tanh(t))
            name = g.vals[-1][0]
        if r.random() < 0.2:
            s = round(r.uniform(0.05, 0.5), 3)
            return g.emit("leaky_relu", f"{name} c={s}", tf.leaky_relu(t, s))
        if r.random() < 0.1:
            lo = round(r.uniform(-1.0, 0.0), 3)
            return g.emit("clamp", f"{name} lo={lo} hi={lo + 1.2}", torch.clamp(t, lo, lo + 1.2))
        if r.random() < 0.2:
            a = round(r.uniform(0.5, 2.0), 3)
            return g.emit("elu", f"{name} c={a}", tf.elu(t, a))
        return g.emit(op, name, UNARY[op](t))
    if kind == "positive":
        # x^2 + 1 > 0
        sq = g.emit("square", name, torch.square(t))
        one = g.emit("add_scalar", f"{sq[0]} c=1.0", sq[1] + 1.0)
        if r.random() < 0.25:
            c = round(r.uniform(-1.5, 2.5), 3)
            return g.emit("powf", f"{one[0]} c={c}", torch.pow(one[1], c))
        op = r.choice(list(POSITIVE))
        return g.emit(op, one[0], POSITIVE[op](one[1]))
    if kind == "binary":
        other = g.pick(lambda u: broadcastable(t, u))
        op = r.choice(list(BINARY))
        return g.emit(op, f"{name} {other[0]}", BINARY[op](t, other[1]))
    if kind == "div_pow":
        other = g.pick(lambda u: broadcastable(t, u))
        pos = g.emit("softplus", other[0], tf.softplus(other[1]))
        pos = g.emit("add_scalar", f"{pos[0]} c=0.5", pos[1] + 0.5)
        if r.random() < 0.5:
            return g.emit("div", f"{name} {pos[0]}", t / pos[1])
        e = g.emit("tanh", name, torch.tanh(t))
        return g.emit("pow", f"{pos[0]} {e[0]}", torch.pow(pos[1], e[1]))
    if kind == "reduce":
        if t.dim() == 0:
            return g.emit("square", name, torch.square(t))
        axes = sorted(r.sample(range(t.dim()), r.randint(1, t.dim())))
        keep = r.random() < 0.5
        ax = ",".join(map(str, axes))
        a = r.randrange(t.dim())
        op = r.choice(["sum_axes", "mean_axes", "var_axes", "std_axes", "logsumexp", "prod_axes",
                       "norm", "norm_axes", "cumsum", "max", "min", "softmax", "log_softmax",
                       "max_axis"])
        if op == "sum_axes":
            return g.emit(op, f"{name} axes={ax} keep={int(keep)}", t.sum(axes, keepdim=keep))
        if op == "mean_axes":
            return g.emit(op, f"{name} axes={ax} keep={int(keep)}", t.mean(axes, keepdim=keep))
        if op in ("var_axes", "std_axes"):
            n = prod([t.shape[i] for i in axes])
            c = r.choice([0, 1]) if n > 1 else 0
            f = torch.var if op == "var_axes" else torch.std
            return g.emit(op, f"{name} axes={ax} keep={int(keep)} corr={c}", f(t, axes, correction=c, keepdim=keep))
        if op == "logsumexp":
            return g.emit(op, f"{name} axes={ax} keep={int(keep)}", torch.logsumexp(t, axes, keepdim=keep))
        if op == "prod_axes":
            y = t
            for i in reversed(axes):
                y = y.prod(i, keepdim=True)
            if not keep:
                y = y.reshape([t.shape[i] for i in range(t.dim()) if i not in axes])
            return g.emit(op, f"{name} axes={ax} keep={int(keep)}", y)
        if op == "norm":
            return g.emit(op, name, torch.linalg.vector_norm(t))
        if op == "norm_axes":
            p = r.choice([1.0, 2.0, 3.0])
            return g.emit(op, f"{name} c={p} axes={ax} keep={int(keep)}", torch.linalg.vector_norm(t, p, axes, keepdim=keep))
        if op == "cumsum":
            return g.emit(op, f"{name} axis={a}", torch.cumsum(t, a))
        if op == "max":
            return g.emit(op, name, torch.max(t))
        if op == "min":
            return g.emit(op, name, torch.min(t))
        if op == "softmax":
            return g.emit(op, f"{name} axis={a}", torch.softmax(t, a))
        if op == "log_softmax":
            return g.emit(op, f"{name} axis={a}", torch.log_softmax(t, a))
        if len(set(t.reshape(-1).tolist())) < t.numel():  # ties: PyTorch splits, DeZero does not
            return g.emit("sum_axes", f"{name} axes={a} keep={int(keep)}", t.sum([a], keepdim=keep))
        return g.emit(op, f"{name} axis={a} keep={int(keep)}", torch.amax(t, a, keepdim=keep))
    if kind == "shape":
        op = r.choice(["transpose", "permute", "flatten", "unsqueeze", "squeeze", "flip", "repeat",
                       "pad", "tril", "triu", "expand"])
        d = t.dim()
        if op == "transpose":
            return g.emit(op, name, t.permute(*reversed(range(d))) if d else t)
        if op == "permute" and d >= 2:
            p = list(range(d))
            r.shuffle(p)
            return g.emit(op, f"{name} axes={','.join(map(str, p))}", t.permute(*p))
        if op == "flatten":
            return g.emit(op, name, t.flatten())
        if op == "squeeze" and 1 in t.shape:
            a = t.shape.index(1)
            return g.emit(op, f"{name} axis={a}", t.squeeze(a))
        if op == "flip" and d >= 1:
            a = r.randrange(d)
            return g.emit(op, f"{name} axis={a}", torch.flip(t, [a]))
        if op == "repeat" and t.numel() <= 12:
            reps = [r.choice([1, 2]) for _ in range(d + r.choice([0, 1]))] or [2]
            return g.emit(op, f"{name} reps={','.join(map(str, reps))}", t.repeat(*reps))
        if op == "pad" and d >= 1:
            w = [(r.randint(0, 1), r.randint(0, 2)) for _ in range(d)]
            v = round(r.uniform(-1, 1), 3)
            flat = [x for pair in reversed(w) for x in pair]
            ws = ";".join(f"{a},{b}" for a, b in w)
            return g.emit(op, f"{name} widths={ws} c={v}", tf.pad(t, flat, value=v))
        if op in ("tril", "triu") and d >= 2:
            k = r.randint(-1, 1)
            f = torch.tril if op == "tril" else torch.triu
            return g.emit(op, f"{name} k={k}", f(t, k))
        if op == "expand" and d <= 2:
            n = r.randint(2, 3)
            return g.emit(op, f"{name} shape={','.join(map(str, [n, *t.shape]))}", t.expand(n, *t.shape))
        a = r.randint(0, d)
        return g.emit("unsqueeze", f"{name} axis={a}", t.unsqueeze(a))
    if kind == "select":
        op = r.choice(["where", "masked_fill", "gather", "index_select", "scatter_add"])
        d = t.dim()
        if op == "where":
            other = g.pick(lambda u: broadcastable(t, u))
            shape = torch.broadcast_shapes(t.shape, other[1].shape)
            m, mt = g.mask(list(shape)[-1:] if len(shape) and r.random() < 0.3 else list(shape))
            return g.emit("where", f"{m} {name} {other[0]}", torch.where(mt, t, other[1]))
        if op == "masked_fill":
            m, mt = g.mask(list(t.shape))
            v = round(r.uniform(-1, 1), 3)
            return g.emit(op, f"{name} mask={m} c={v}", t.masked_fill(mt, v))
        if d == 0:
            return g.emit("sigmoid", name, torch.sigmoid(t))
        a = r.randrange(d)
        if op == "gather":
            shape = [max(1, s - r.randint(0, 1)) if i != a else r.randint(1, 3) for i, s in enumerate(t.shape)]
            n, nt = g.index(shape, t.shape[a])
            return g.emit(op, f"{name} axis={a} index={n}", torch.gather(t, a, nt))
        if op == "scatter_add":
            src = g.pick(lambda u: u.shape == t.shape)
            n, nt = g.index(list(t.shape), t.shape[a])
            return g.emit(op, f"{name} {src[0]} axis={a} index={n}", t.scatter_add(a, nt, src[1]))
        idx = [r.randrange(t.shape[a]) for _ in range(r.randint(1, 3))]
        return g.emit(op, f"{name} axis={a} idx={','.join(map(str, idx))}", torch.index_select(t, a, torch.tensor(idx)))
    if kind == "product":
        op = r.choice(["matmul", "einsum_t", "dot", "outer", "bmm"])
        if t.dim() == 1 and op in ("dot", "outer"):
            other = g.pick(lambda u: u.dim() == 1 and (op == "outer" or u.shape == t.shape))
            f = torch.dot if op == "dot" else torch.outer
            return g.emit(op, f"{name} {other[0]}", f(t, other[1]))
        if t.dim() >= 1:
            k = t.shape[-1]
            other = g.pick(lambda u: u.dim() in (1, 2) and u.shape[0] == k)
            if other is not None and not (t.dim() == 1 and other[1].dim() == 1 and op != "matmul"):
                return g.emit("matmul", f"{name} {other[0]}", torch.matmul(t, other[1]))
        if t.dim() == 2:
            if op == "einsum_t":
                return g.emit("einsum", f"{name} spec=ij->ji", torch.einsum("ij->ji", t))
            other = g.pick(lambda u: u.dim() == 2 and u.shape[0] == t.shape[1])
            if other is not None:
                return g.emit("einsum", f"{name} {other[0]} spec=ij,jk->ik", torch.einsum("ij,jk->ik", t, other[1]))
        if t.dim() == 3:
            other = g.pick(lambda u: u.dim() == 3 and u.shape[0] == t.shape[0] and u.shape[1] == t.shape[2])
            if other is not None:
                return g.emit("einsum", f"{name} {other[0]} spec=bij,bjk->bik", torch.einsum("bij,bjk->bik", t, other[1]))
        return g.emit("sum", name, t.sum())
    # nn
    if t.dim() == 2:
        op = r.choice(["layer_norm", "cross_entropy", "normalize", "nll_loss", "bce", "huber", "l1"])
        if op in ("huber", "l1"):
            other = g.pick(lambda u: u.shape == t.shape)
            if op == "l1":
                return g.emit(op, f"{name} {other[0]}", tf.l1_loss(t, other[1]))
            d = round(r.uniform(0.3, 1.5), 3)
            return g.emit(op, f"{name} {other[0]} c={d}", tf.huber_loss(t, other[1], delta=d))
        if op == "bce":
            m, mt = g.mask(list(t.shape))
            return g.emit(op, f"{name} mask={m}", tf.binary_cross_entropy_with_logits(t, mt.double()))
        if op == "layer_norm":
            return g.emit(op, f"{name} last=1", tf.layer_norm(t, [t.shape[1]], eps=1e-5))
        if op == "normalize":
            return g.emit(op, f"{name} axis=1", tf.normalize(t, 2.0, 1))
        labels = [r.randrange(t.shape[1]) for _ in range(t.shape[0])]
        if op == "nll_loss":
            lp = g.emit("log_softmax", f"{name} axis=1", torch.log_softmax(t, 1))
            return g.emit(op, f"{lp[0]} labels={','.join(map(str, labels))}", tf.nll_loss(lp[1], torch.tensor(labels)))
        s = r.choice([0.0, 0.1])
        return g.emit(op, f"{name} labels={','.join(map(str, labels))} c={s}", tf.cross_entropy(t, torch.tensor(labels), label_smoothing=s))
    return g.emit("gelu", name, tf.gelu(t))


def graph(k, rng):
    g = Graph(rng)
    lines = [f"graph {k}"]
    shapes = [[], [3], [2, 3], [3, 2], [2, 2, 3], [2], [4]]
    xs, ws = [], []
    for i in range(rng.randint(2, 3)):
        shape = rng.choice(shapes[1:]) if i == 0 else rng.choice(shapes)
        x = torch.tensor([rng.uniform(-1.5, 1.5) for _ in range(prod(shape))]).reshape(shape)
        w = torch.tensor([rng.uniform(-1, 1) for _ in range(prod(shape))]).reshape(shape)
        x.requires_grad_(True)
        lines.append(f"input x{i} {fmt_shape(shape)} : {fmt_vals(x)}")
        lines.append(f"weight x{i} {fmt_shape(shape)} : {fmt_vals(w)}")
        xs.append(x)
        ws.append(w)
        g.vals.append((f"x{i}", x))
    for _ in range(rng.randint(3, 7)):
        step(g)
    loss = sum(t.sum() for _, t in g.vals[len(xs):])
    grads = torch.autograd.grad(loss, xs, create_graph=True, allow_unused=True)
    grads = [gr if gr is not None else torch.zeros_like(x) for gr, x in zip(grads, xs)]
    s = sum((gr * w).sum() for gr, w in zip(grads, ws))
    if s.requires_grad:
        g2 = torch.autograd.grad(s, xs, allow_unused=True)
        g2 = [gr if gr is not None else torch.zeros_like(x) for gr, x in zip(g2, xs)]
    else:
        g2 = [torch.zeros_like(x) for x in xs]
    lines += g.lines
    lines.append(f"loss {loss.item()!r}")
    for i, gr in enumerate(grads):
        lines.append(f"grad x{i} : {fmt_vals(gr)}")
    for i, gr in enumerate(g2):
        lines.append(f"grad2 x{i} : {fmt_vals(gr)}")
    lines.append("end")
    return lines


def main():
    rng = random.Random(20261202)
    print(f"# torch {torch.__version__}, float64; written by tools/torch_graphs.py")
    k = 0
    while k < N_GRAPHS:
        lines = graph(k, rng)
        if any("nan" in l or "inf" in l for l in lines):
            continue  # a graph that left the functions' domain: draw another
        print("\n".join(lines))
        k += 1


if __name__ == "__main__":
    main()
