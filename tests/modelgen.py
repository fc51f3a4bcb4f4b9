"""A seeded generator of PyTorch model source files with known ReLU sites and relations.

``generate(seed)`` returns the source of a few ``nn.Module`` classes (a root
``G<seed>`` and its blocks) together with what a correct analysis must report, derived
from the construction alone — not from torch, not from relufind:

- every ReLU-family site in execution order: owning module path, kind, variant, source
  line, and for embedded RNN sites the containing anchor;
- for every site the nearest anchors upstream (``after``) and downstream (``before``),
  computed on the generator's own data-flow graph: the first anchor met along each path,
  the model input and output contributing nothing;
- the set of anchors, and the blocks fx cannot trace (relufind's ``untraced`` regions).

The data-flow graph follows aliasing as a forward pass does: views share storage, and an
in-place op (``x.relu_()``, ``nn.ReLU(inplace=True)``, ...) writes it, so a residual's
saved ``skip`` read after the write depends on that write.

Models mix random nesting of custom blocks, ``nn.Sequential`` / ``nn.ModuleList`` /
``nn.ModuleDict``, a shared ``nn.ReLU`` instance registered in many places, a block
called twice, loops, residual adds, transposes between channel-first and sequence-first
layouts, every ReLU spelling (module, function, method, clamp, threshold, in place, also
as a bare statement), variants and look-alikes that are no ReLU, Conv1d / ConvTranspose1d
/ functional conv1d / RNN / LSTM / GRU / RNNCell / LSTMCell / GRUCell anchors in random
order, ``TransformerEncoderLayer``s, a second model output, values kept as extra outputs (a
skip to the output), a conv whose output lends only its shape (``new_zeros(s.shape)``,
``view(s.size(0), ...)``: relations must not follow it), and guarded blocks: a shape guard
(``if x.shape[-1] < 1: raise``, traced), a branch on values (read from source) or a
statement fx cannot trace mid-forward (a partial trace). Every block maps a ``(B, C, L)`` tensor to the
same shape.

``python tests/modelgen.py SEED`` prints one model with its expected sites.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

#: share of blocks whose forward starts with a guard: a shape guard (traced: relufind takes its
#: one way forward), a branch on values (untraceable: read from source) or, mid-forward, a
#: statement fx cannot trace (a partial trace: before it traced, after it read from source)
GUARD_RATE = 0.15
GUARDS = ("shape", "data", "partial")
C = 4  # channels (= RNN hidden size = d_model)
L = 5  # sequence length
B = 2  # batch
INPUT_SHAPE = (B, C, L)
HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"


# -- what the analysis must find --------------------------------------------------------------

@dataclass
class ExpectedSite:
    path: str
    kind: str
    variant: str
    line: int
    inside: str | None = None  # containing anchor of an embedded RNN site
    input_path: bool = False  # some path from the model input reaches it crossing no anchor
    output_path: bool = False  # some path from it reaches the model output crossing no anchor
    bare_inplace: bool = False  # `x.relu_()` as a statement: the mutated x flows on
    region: str | None = None  # the untraceable block it runs in (innermost), if any
    inplace: bool = False  # the call writes its input in place
    after: frozenset[str] = frozenset()
    before: frozenset[str] = frozenset()

    def key(self) -> tuple[str, str, str]:
        return (self.path, self.kind, self.variant)


@dataclass
class Generated:
    seed: int
    name: str  # the root class
    source: str  # class definitions (no imports); start_line is where they begin in a file
    start_line: int
    sites: list[ExpectedSite]
    anchors: set[str]
    spellings: set[str]  # labels of the spellings used, for coverage checks
    untraced: set[str] = field(default_factory=set)  # paths of the untraceable blocks
    guards: int = 0  # shape guards in traced code (each an assumption in the report)

    @staticmethod
    def within(path: str, region: str) -> bool:
        return path == region or path.startswith(region + ".")

    def in_untraced(self, path: str) -> bool:
        return any(self.within(path, region) for region in self.untraced)


# -- the data-flow graph the generator keeps -------------------------------------------------------

@dataclass(eq=False)
class Node:
    inputs: list[Node]
    anchor: str | None = None  # anchor path when this node is an anchor call
    users: list[Node] = field(default_factory=list)
    index: int = 0  # execution order
    storage: object = None  # tensors sharing memory share this (views, in-place results)


class Flow:
    """Data flow of one forward pass: nodes in execution order, sites attached to nodes.

    Aliasing is followed as at run time: a view (transpose, permute, nn.Identity) shares its
    input's storage, and an in-place op writes that storage, so every later read of any
    tensor on it (a residual's saved ``skip`` included) depends on the write.
    """

    def __init__(self) -> None:
        self.input = Node([], storage=object())
        self.nodes: list[Node] = [self.input]
        self.writer: dict[int, Node] = {}  # storage -> its last in-place writer
        self.sites: list[tuple[ExpectedSite, Node]] = []
        self.anchors: list[str] = []
        self.regions: list[str] = []  # the untraceable blocks running now, outermost first
        self.untraced: set[str] = set()
        self.graphs: list[str] = [""]  # the traced graph being built: the root, or a partial block
        self.functional: dict[str, int] = {}  # functional convs per graph (fx names them conv1d, conv1d_1)
        self.guards: set[str] = set()  # shape-guarded blocks in traced code
        self.output: Node | None = None

    def op(self, *inputs: Node, anchor: str | None = None, view: bool = False, inplace: bool = False) -> Node:
        reads: list[Node] = []
        for i in inputs:
            writer = self.writer.get(id(i.storage))
            for n in (i, writer) if writer is not None and writer.index > i.index else (i,):
                if n not in reads:
                    reads.append(n)
        node = Node(reads, anchor, index=len(self.nodes))
        node.storage = inputs[0].storage if (view or inplace) and inputs else object()
        if inplace:
            self.writer[id(node.storage)] = node
        for i in reads:
            i.users.append(node)
        self.nodes.append(node)
        if anchor is not None and anchor not in self.anchors:
            self.anchors.append(anchor)
        return node

    def site(
        self, node: Node, path: str, kind: str, variant: str, line: int, inside: str | None = None, bare: bool = False
    ) -> None:
        region = self.regions[-1] if self.regions else None
        inplace = self.writer.get(id(node.storage)) is node
        self.sites.append((ExpectedSite(path, kind, variant, line, inside, bare, region, inplace), node))

    def resolve(self) -> list[ExpectedSite]:
        """Fill in after/before: nearest anchors along every path, one pass each way; and
        whether the input reaches a site (the site the output) along a path with no anchor."""
        up: dict[Node, frozenset[str]] = {}
        from_input: dict[Node, bool] = {}
        for node in self.nodes:
            up[node] = frozenset().union(*(frozenset([i.anchor]) if i.anchor else up[i] for i in node.inputs))
            from_input[node] = any(not i.anchor and (i is self.input or from_input[i]) for i in node.inputs)
        down: dict[Node, frozenset[str]] = {}
        to_output: dict[Node, bool] = {}
        for node in reversed(self.nodes):
            down[node] = frozenset().union(*(frozenset([u.anchor]) if u.anchor else down[u] for u in node.users))
            to_output[node] = any(not u.anchor and (u is self.output or to_output[u]) for u in node.users)
        for site, node in self.sites:
            site.after, site.before = up[node], down[node]
            site.input_path, site.output_path = from_input[node], to_output[node]
        return [s for s, _ in self.sites]


# -- module attributes -------------------------------------------------------------------------

@dataclass
class Mod:
    """A submodule: how to construct it and what calling it does to the flow."""

    expr: str
    role: str  # act, op, conv, rnn, cell, lstmcell, transformer, block, seq, list, dict, shared
    variant: str | None = None  # act: the ReLU-family variant; rnn/cell: "relu" when embedded
    transformer_act: str | None = None  # transformer: "relu" | "module" | None
    alias: str = ""  # "view" (returns its input: nn.Identity) or "inplace" (nn.ReLU(inplace=True))
    block: ClassSpec | None = None
    members: list[tuple[str, Mod]] = field(default_factory=list)  # Sequential children


@dataclass
class ClassSpec:
    name: str
    attrs: list[tuple[str, Mod]] = field(default_factory=list)
    body: list[Stmt] = field(default_factory=list)
    returns: str = "x"
    guard: str | None = None  # one of GUARDS: a shape guard, a branch on values, a partial trace


Runner = Callable[["Ctx", Node, str], Node]


@dataclass
class Stmt:
    """One forward statement: source lines and its effect on the flow.

    ``run(ctx, x, path)`` applies the statement to the flow value ``x`` inside the module
    instance at ``path`` and returns the new value; ``line`` (the file line of the first
    source line) is set when the source is emitted, before any ``run``.
    """

    lines: list[str]
    run: Runner
    line: int = 0
    children: list[Stmt] = field(default_factory=list)  # a residual's body
    closing: list[str] = field(default_factory=list)  # lines after the children


@dataclass
class Ctx:
    flow: Flow
    extra_outputs: list[Node] = field(default_factory=list)

    def apply(self, mod: Mod, x: Node, path: str, line: int) -> Node:
        """Call ``mod`` (at ``path``) on ``x`` from user code at ``line``."""
        flow = self.flow
        if mod.role == "shared":
            node = flow.op(x)
            flow.site(node, "shared", "module", "relu", line)
            return node
        if mod.role == "act":
            node = flow.op(x, view=mod.alias == "view", inplace=mod.alias == "inplace")
            if mod.variant:
                flow.site(node, path, "module", mod.variant, line)
            return node
        if mod.role == "op":
            return flow.op(x)
        if mod.role in ("conv", "rnn"):
            node = flow.op(x, anchor=path)
            if mod.variant:
                flow.site(node, path, "embedded", mod.variant, line, inside=path)
            return node
        if mod.role == "transformer":
            node = flow.op(x)
            if mod.transformer_act == "relu":
                flow.site(node, path, "embedded", "relu", line)
            elif mod.transformer_act == "module":
                flow.site(node, f"{path}.activation", "embedded", "relu", line)
            return node
        if mod.role == "block":
            assert mod.block is not None
            guard = mod.block.guard
            if guard == "shape":  # each block instance is traced once, by some analysis
                flow.guards.add(path)
            if guard in ("data", "partial"):
                flow.untraced.add(path)
            if guard == "data":
                flow.regions.append(path)
            if guard == "partial":  # a graph of its own until the failing statement
                flow.graphs.append(path)
            depth = len(flow.regions)
            for stmt in mod.block.body:
                x = stmt.run(self, x, path)
            del flow.regions[depth - (guard == "data"):]  # the failing statement pushed one too
            if guard == "partial":
                flow.graphs.pop()
            return x
        if mod.role == "seq":
            for name, member in mod.members:
                x = self.apply(member, x, f"{path}.{name}", line)
            return x
        raise AssertionError(mod.role)


#: for the mutation test only: expectations as a relate pass that follows ``size()`` edges sees them
FOLLOW_METADATA = False


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# -- spellings -------------------------------------------------------------------------------------

#: functional spellings: (label, code with {x}, kind, variant or None for look-alikes)
CALLS: list[tuple[str, str, str, str | None]] = [
    ("F.relu", "F.relu({x})", "function", "relu"),
    ("F.relu-inplace", "F.relu({x}, inplace=True)", "function", "relu"),
    ("F.relu_", "F.relu_({x})", "function", "relu"),
    ("torch.relu", "torch.relu({x})", "function", "relu"),
    ("torch.relu_", "torch.relu_({x})", "function", "relu"),
    ("Tensor.relu", "{x}.relu()", "method", "relu"),
    ("Tensor.relu_", "{x}.relu_()", "method", "relu"),
    ("clamp-min", "{x}.clamp(min=0)", "clamp", "relu"),
    ("clamp-pos", "{x}.clamp(0)", "clamp", "relu"),
    ("clamp-float", "{x}.clamp(min=0.0)", "clamp", "relu"),
    ("torch.clamp", "torch.clamp({x}, min=0)", "clamp", "relu"),
    ("torch.clip", "torch.clip({x}, 0)", "clamp", "relu"),
    ("Tensor.clip", "{x}.clip(min=0)", "clamp", "relu"),
    ("Tensor.clamp_", "{x}.clamp_(min=0)", "clamp", "relu"),
    ("Tensor.clamp_min", "{x}.clamp_min(0)", "clamp", "relu"),
    ("torch.clamp_min", "torch.clamp_min({x}, 0.0)", "clamp", "relu"),
    ("Tensor.clamp_min_", "{x}.clamp_min_(0)", "clamp", "relu"),
    ("F.threshold", "F.threshold({x}, 0, 0)", "threshold", "relu"),
    ("F.threshold-inplace", "F.threshold({x}, 0.0, 0.0, inplace=True)", "threshold", "relu"),
    ("torch.threshold", "torch.threshold({x}, 0, 0)", "threshold", "relu"),
    ("F.relu6", "F.relu6({x})", "function", "relu6"),
    ("F.hardtanh06", "F.hardtanh({x}, 0.0, 6.0)", "function", "relu6"),
    ("clamp06", "{x}.clamp(0, 6)", "clamp", "relu6"),
    ("F.leaky_relu", "F.leaky_relu({x}, 0.2)", "function", "leaky_relu"),
    ("not:clamp-neg", "{x}.clamp(min=-1)", "", None),
    ("clamp01", "{x}.clamp(0, 1)", "clamp", "clipped_relu"),
    ("not:clamp-half", "{x}.clamp(min=0.5)", "", None),
    ("not:clamp-max", "{x}.clamp(max=0)", "", None),
    ("not:threshold", "F.threshold({x}, 0.1, 0.0)", "", None),
    ("not:hardtanh", "F.hardtanh({x})", "", None),
    ("not:elu", "F.elu({x})", "", None),
    ("not:tanh", "torch.tanh({x})", "", None),
    ("not:scale", "{x} * 0.5", "", None),
]

#: in-place spellings written as a bare statement (the result is not assigned)
BARE: list[tuple[str, str, str, str]] = [
    ("bare:Tensor.relu_", "x.relu_()", "method", "relu"),
    ("bare:F.relu-inplace", "F.relu(x, inplace=True)", "function", "relu"),
    ("bare:torch.relu_", "torch.relu_(x)", "function", "relu"),
    ("bare:Tensor.clamp_", "x.clamp_(min=0)", "clamp", "relu"),
    ("bare:F.threshold_", "F.threshold_(x, 0, 0)", "threshold", "relu"),
]

#: spellings that write their input in place
INPLACE = {
    "F.relu-inplace", "F.relu_", "torch.relu_", "Tensor.relu_", "Tensor.clamp_", "Tensor.clamp_min_",
    "F.threshold-inplace", "nn.ReLU-inplace",
}

#: activation modules: (label, expression, variant or None)
ACTS: list[tuple[str, str, str | None]] = [
    ("nn.ReLU", "nn.ReLU()", "relu"),
    ("nn.ReLU-inplace", "nn.ReLU(inplace=True)", "relu"),
    ("nn.Threshold", "nn.Threshold(0, 0)", "relu"),
    ("nn.ReLU6", "nn.ReLU6()", "relu6"),
    ("nn.Hardtanh06", "nn.Hardtanh(0.0, 6.0)", "relu6"),
    ("nn.Hardtanh020", "nn.Hardtanh(0.0, 20.0)", "clipped_relu"),
    ("nn.LeakyReLU", "nn.LeakyReLU(0.1)", "leaky_relu"),
    ("nn.PReLU", "nn.PReLU()", "prelu"),
    ("nn.RReLU", "nn.RReLU()", "rrelu"),
    ("not:nn.Tanh", "nn.Tanh()", None),
    ("not:nn.Hardtanh", "nn.Hardtanh()", None),
    ("not:nn.Threshold", "nn.Threshold(0.5, 0.0)", None),
    ("not:nn.ELU", "nn.ELU()", None),
    ("not:nn.Identity", "nn.Identity()", None),
]


# -- the generator ---------------------------------------------------------------------------------

class _Gen:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.classes: list[ClassSpec] = []  # in definition order: blocks before their users
        self.names = 0
        self.spellings: set[str] = set()

    # ---- submodules
    def _attr(self, cls: ClassSpec, stem: str, mod: Mod) -> str:
        name = f"{stem}{len(cls.attrs)}"
        cls.attrs.append((name, mod))
        return name

    def _act_mod(self) -> Mod:
        label, expr, variant = self.rng.choice(ACTS)
        self.spellings.add(label)
        alias = "inplace" if label in INPLACE else "view" if label == "not:nn.Identity" else ""
        return Mod(expr, "act", variant, alias=alias)

    def _single_mod(self, depth: int) -> Mod:
        """A one-tensor, channel-first module for a Sequential / ModuleList / ModuleDict."""
        r = self.rng.random()
        if r < 0.35:
            return self._act_mod()
        if r < 0.45:
            self.spellings.add("shared")
            return Mod("shared", "shared")
        if r < 0.6:
            self.spellings.add("nn.Conv1d")
            return Mod(f"nn.Conv1d({C}, {C}, 3, padding=1)", "conv")
        if r < 0.67:
            self.spellings.add("nn.ConvTranspose1d")
            return Mod(f"nn.ConvTranspose1d({C}, {C}, 3, padding=1)", "conv")
        if r < 0.75:
            return Mod(f"nn.BatchNorm1d({C})", "op")
        if r < 0.85 and depth < 3:
            self.spellings.add("nn.Sequential")
            return self._seq_mod(depth + 1)
        if depth < 3:
            return self._block_mod(depth + 1)
        return self._act_mod()

    def _seq_mod(self, depth: int) -> Mod:
        members = [(str(i), self._single_mod(depth)) for i in range(self.rng.randint(1, 4))]
        exprs = ", ".join(m.expr for _, m in members)
        return Mod(f"nn.Sequential({exprs})", "seq", members=members)

    def _block_mod(self, depth: int) -> Mod:
        spec = self._class(depth)
        return Mod(f"{spec.name}(shared)", "block", block=spec)

    # ---- classes and their forward bodies
    def _class(self, depth: int, root: bool = False) -> ClassSpec:
        name = f"G{self.seed}" if root else f"G{self.seed}_{self.names}"
        self.names += 1
        spec = ClassSpec(name)
        # every class registers the shared nn.ReLU first; the root's "shared" is registered
        # before anything else, so that is the instance's path (as in named_modules())
        spec.attrs.append(("shared", Mod("shared", "shared")))
        n = self.rng.randint(3, 8) if root else self.rng.randint(1, 5)
        layout = "cl"
        aux_at = self.rng.randrange(n) if root and self.rng.random() < 0.3 else None
        for i in range(n):
            if i == aux_at:  # a second output: aux = <ReLU>(self.head(x)); return x, aux
                layout = self._need(spec.body, layout, "cl")
                spec.body.append(self._aux_stmt(spec))
                spec.returns += ", aux"
            layout = self._stmt(spec, spec.body, depth, layout, 0)
        if layout != "cl":
            spec.body.append(self._transpose())
        if not root and self.rng.random() < GUARD_RATE:
            spec.guard = self.rng.choice(GUARDS)
            self.spellings.add(f"guard-{spec.guard}")
            if spec.guard == "shape":
                guard = ["if x.shape[-1] < 1:", "    raise ValueError('empty input')"]
                spec.body.insert(0, Stmt(guard, lambda ctx, x, path: x))
            elif spec.guard == "data":
                guard = ["if x.abs().sum() > 1e9:", "    x = x * 0.5"]
                spec.body.insert(0, Stmt(guard, lambda ctx, x, path: x))
            else:  # fx cannot turn a proxy into a float: the rest of forward is read from source
                at = self.rng.randint(0, len(spec.body))
                spec.body.insert(at, Stmt(["_ = float(x.detach().mean())"], self._run_failure))
        self.classes.append(spec)
        return spec

    def _body(self, cls: ClassSpec, body: list[Stmt], depth: int, n: int, layout: str, nest: int) -> str:
        for _ in range(n):
            layout = self._stmt(cls, body, depth, layout, nest)
        return layout

    def _need(self, body: list[Stmt], layout: str, want: str) -> str:
        if layout != want:
            body.append(self._transpose())
        return want

    @staticmethod
    def _run_failure(ctx: Ctx, x: Node, path: str) -> Node:
        ctx.flow.regions.append(path)  # popped where the block ends
        return x

    def _transpose(self) -> Stmt:
        code = self.rng.choice(["x = x.transpose(1, 2)", "x = x.permute(0, 2, 1)", "x = torch.transpose(x, 1, 2)"])
        return Stmt([code], lambda ctx, x, path: ctx.flow.op(x, view=True))

    def _stmt(self, cls: ClassSpec, body: list[Stmt], depth: int, layout: str, nest: int) -> str:
        rng = self.rng
        choice = rng.choices(
            ["call", "act", "shared", "conv", "fconv", "rnn", "cell", "transformer", "transpose",
             "block", "seq", "list", "dict", "loop", "residual", "twice", "op", "conv-call", "bare",
             "meta", "keep"],
            weights=[10, 6, 3, 4, 2, 4, 2, 1, 3, 3 if depth < 3 else 0, 3, 2, 2, 2,
                     2 if nest < 2 else 0, 1 if depth < 3 else 0, 2, 2, 1, 2, 1 if depth == 0 and nest == 0 else 0],
        )[0]
        if choice == "call":
            body.append(self._call_stmt())
        elif choice == "conv-call":  # x = F.relu(self.conv(x)): anchor and site on one line
            layout = self._need(body, layout, "cl")
            self.spellings.add("conv-call")
            mod = Mod(f"nn.Conv1d({C}, {C}, 1)", "conv")
            body.append(self._call_stmt(inner=(self._attr(cls, "conv", mod), mod)))
        elif choice == "bare":
            body.append(self._bare_stmt())
        elif choice == "meta":  # a conv's output lends only its shape: no value flows from it
            layout = self._need(body, layout, "cl")
            self.spellings.add("metadata")
            mod = Mod(f"nn.Conv1d({C}, {C}, 3, padding=1)", "conv")
            body.append(self._meta_stmt(self._attr(cls, "shape_conv", mod), mod))
        elif choice == "keep":  # the value here is also a model output (a skip to the output)
            self.spellings.add("skip-to-output")
            body.append(self._keep_stmt(cls))
        elif choice == "act":
            mod = self._act_mod()
            body.append(self._apply_stmt(self._attr(cls, "act", mod), mod))
        elif choice == "shared":
            self.spellings.add("shared")
            body.append(self._apply_stmt("shared", Mod("shared", "shared")))
        elif choice == "conv":
            layout = self._need(body, layout, "cl")
            kind = rng.choice(["nn.Conv1d", "nn.ConvTranspose1d"])
            self.spellings.add(kind)
            mod = Mod(f"{kind}({C}, {C}, 3, padding=1)", "conv")
            body.append(self._apply_stmt(self._attr(cls, "conv", mod), mod))
        elif choice == "fconv":
            layout = self._need(body, layout, "cl")
            self.spellings.add("F.conv1d")
            attr = self._attr(cls, "w", Mod(f"nn.Parameter(torch.randn({C}, {C}, 3) * 0.1)", "param"))
            body.append(Stmt([f"x = F.conv1d(x, self.{attr}, padding=1)"], self._run_fconv))
        elif choice == "rnn":
            layout = self._need(body, layout, "lc")
            body.append(self._rnn_stmt(cls))
        elif choice == "cell":
            layout = self._need(body, layout, "cl")
            body.append(self._cell_stmt(cls))
        elif choice == "transformer":
            layout = self._need(body, layout, "lc")
            act = rng.choice(["relu", "module", None])
            arg = {"relu": "", "module": ", activation=nn.ReLU()", None: ", activation='gelu'"}[act]
            self.spellings.add(f"transformer-{act}")
            expr = f"nn.TransformerEncoderLayer({C}, 2, 8, dropout=0.0, batch_first=True{arg})"
            mod = Mod(expr, "transformer", transformer_act=act)
            body.append(self._apply_stmt(self._attr(cls, "enc", mod), mod))
        elif choice == "transpose":
            body.append(self._transpose())
            layout = "lc" if layout == "cl" else "cl"
        elif choice in ("block", "twice"):
            layout = self._need(body, layout, "cl")
            mod = self._block_mod(depth + 1)
            attr = self._attr(cls, "block", mod)
            body.append(self._apply_stmt(attr, mod))
            if choice == "twice":  # the same instance called again
                self.spellings.add("block-twice")
                body.append(self._apply_stmt(attr, mod))
        elif choice == "seq":
            layout = self._need(body, layout, "cl")
            mod = self._seq_mod(depth)
            body.append(self._apply_stmt(self._attr(cls, "seq", mod), mod))
        elif choice == "list":
            layout = self._need(body, layout, "cl")
            self.spellings.add("nn.ModuleList")
            members = [(str(i), self._single_mod(depth)) for i in range(rng.randint(1, 3))]
            expr = "nn.ModuleList([" + ", ".join(m.expr for _, m in members) + "])"
            attr = self._attr(cls, "layers", Mod(expr, "list"))
            body.append(self._list_stmt(attr, members))
        elif choice == "dict":
            layout = self._need(body, layout, "cl")
            self.spellings.add("nn.ModuleDict")
            members = [(f"k{i}", self._single_mod(depth)) for i in range(rng.randint(1, 3))]
            expr = "nn.ModuleDict({" + ", ".join(f"'{k}': {m.expr}" for k, m in members) + "})"
            attr = self._attr(cls, "heads", Mod(expr, "dict"))
            key, member = rng.choice(members)
            body.append(self._apply_stmt(attr, member, call=f"self.{attr}['{key}']", sub=key))
        elif choice == "loop":
            self.spellings.add("loop")
            if rng.random() < 0.6:
                inner = self._call_stmt()
            else:
                mod = self._act_mod()
                inner = self._apply_stmt(self._attr(cls, "act", mod), mod)
            body.append(self._loop_stmt(inner, rng.randint(2, 3)))
        elif choice == "residual":
            self.spellings.add("residual")
            inner: list[Stmt] = []
            end = self._body(cls, inner, depth, rng.randint(1, 3), layout, nest + 1)
            if end != layout:
                inner.append(self._transpose())
            body.append(self._residual_stmt(inner, nest))
        else:
            code = rng.choice(["x = x * 0.5", "x = x + 1.0", "x = torch.sigmoid(x) - 0.5"])
            body.append(Stmt([code], lambda ctx, x, path: ctx.flow.op(x)))
        return layout

    # ---- statements
    @staticmethod
    def _self_ref(lines: list[str], run: Callable[[Ctx, Node, str, Stmt], Node]) -> Stmt:
        """A statement whose ``run`` can read the statement itself (for its line)."""
        holder: list[Stmt] = []
        stmt = Stmt(lines, lambda ctx, x, path: run(ctx, x, path, holder[0]))
        holder.append(stmt)
        return stmt

    def _call_stmt(self, inner: tuple[str, Mod] | None = None) -> Stmt:
        """``x = <spelling>(x)``, or ``<spelling>(self.<inner>(x))`` for an inner module call."""
        label, code, kind, variant = self.rng.choice(CALLS)
        self.spellings.add(label)

        def run(ctx: Ctx, x: Node, path: str, me: Stmt) -> Node:
            if inner is not None:
                x = ctx.apply(inner[1], x, _join(path, inner[0]), me.line)
            node = ctx.flow.op(x, inplace=label in INPLACE)
            if variant:
                ctx.flow.site(node, path, kind, variant, me.line)
            return node

        arg = "x" if inner is None else f"self.{inner[0]}(x)"
        return self._self_ref([f"x = {code.format(x=arg)}"], run)

    def _aux_stmt(self, cls: ClassSpec) -> Stmt:
        self.spellings.add("aux-output")
        mod = Mod(f"nn.Conv1d({C}, {C}, 1)", "conv")
        attr = self._attr(cls, "head", mod)
        label, code, kind, variant = self.rng.choice([c for c in CALLS if c[3] == "relu"])
        self.spellings.add(label)

        def run(ctx: Ctx, x: Node, path: str, me: Stmt) -> Node:
            node = ctx.flow.op(ctx.apply(mod, x, _join(path, attr), me.line), inplace=label in INPLACE)
            ctx.flow.site(node, path, kind, variant, me.line)
            ctx.extra_outputs.append(node)
            return x

        return self._self_ref([f"aux = {code.format(x=f'self.{attr}(x)')}"], run)

    def _meta_stmt(self, attr: str, mod: Mod) -> Stmt:
        var = f"s_{attr}"

        def run(ctx: Ctx, x: Node, path: str, me: Stmt) -> Node:
            shape_source = ctx.apply(mod, x, _join(path, attr), me.line)  # only its metadata is read
            if FOLLOW_METADATA:
                return ctx.flow.op(x, shape_source)
            return ctx.flow.op(x)  # view, then + zeros: values of x only

        lines = [
            f"{var} = self.{attr}(x)",
            f"x = x.view({var}.size(0), {var}.size(1), -1) + {var}.new_zeros({var}.shape)",
        ]
        return self._self_ref(lines, run)

    def _keep_stmt(self, cls: ClassSpec) -> Stmt:
        name = f"keep{cls.returns.count('keep')}"
        cls.returns += f", {name}"

        def run(ctx: Ctx, x: Node, path: str) -> Node:
            ctx.extra_outputs.append(x)
            return x

        return Stmt([f"{name} = x"], run)

    def _bare_stmt(self) -> Stmt:
        label, code, kind, variant = self.rng.choice(BARE)
        self.spellings.add(label)

        def run(ctx: Ctx, x: Node, path: str, me: Stmt) -> Node:
            node = ctx.flow.op(x, inplace=True)  # later reads of x read what it wrote
            ctx.flow.site(node, path, kind, variant, me.line, bare=True)
            return node

        return self._self_ref([code], run)

    def _apply_stmt(self, attr: str, mod: Mod, call: str | None = None, sub: str | None = None) -> Stmt:
        """``x = self.attr(x)`` (or ``call(x)``, say a ModuleDict entry ``sub``) calling ``mod``."""

        def run(ctx: Ctx, x: Node, path: str, me: Stmt) -> Node:
            where = _join(path, attr) if sub is None else f"{_join(path, attr)}.{sub}"
            return ctx.apply(mod, x, "shared" if mod.role == "shared" else where, me.line)

        return self._self_ref([f"x = {call or f'self.{attr}'}(x)"], run)

    def _run_fconv(self, ctx: Ctx, x: Node, path: str) -> Node:
        flow = ctx.flow
        if flow.regions:  # not in the model's graph: no name to expect (never matches one)
            return flow.op(x, anchor=f"<conv1d in {flow.regions[-1]} #{len(flow.nodes)}>")
        graph = flow.graphs[-1]
        n = flow.functional.get(graph, 0)
        flow.functional[graph] = n + 1
        # a functional anchor is named by its graph node: conv1d, conv1d_1, ... (a partial
        # block's graph is analysed on its own, its names under the block's path)
        return flow.op(x, anchor=_join(graph, "conv1d" if n == 0 else f"conv1d_{n}"))

    def _rnn_stmt(self, cls: ClassSpec) -> Stmt:
        rng = self.rng
        kind = rng.choice(["RNN", "RNN-relu", "LSTM", "GRU"])
        self.spellings.add(f"nn.{kind}")
        bidirectional = rng.random() < 0.3
        args = f"{C}, {C // 2 if bidirectional else C}, num_layers={rng.choice([1, 1, 2])}, batch_first=True"
        if bidirectional:
            args += ", bidirectional=True"
        if kind == "RNN-relu":
            expr, variant = f"nn.RNN({args}, nonlinearity='relu')", "relu"
        else:
            expr, variant = f"nn.{kind}({args})", None
        attr = self._attr(cls, "rnn", Mod(expr, "rnn", variant))

        def run(ctx: Ctx, x: Node, path: str, me: Stmt) -> Node:
            where = _join(path, attr)
            node = ctx.flow.op(x, anchor=where)
            if variant:
                ctx.flow.site(node, where, "embedded", variant, me.line, inside=where)
            return ctx.flow.op(node)  # the output tuple's first element

        unpack = rng.choice(["x, _ = self.{a}(x)", "x = self.{a}(x)[0]"])
        return self._self_ref([unpack.format(a=attr)], run)

    def _cell_stmt(self, cls: ClassSpec) -> Stmt:
        kind = self.rng.choice(["RNNCell", "RNNCell-relu", "LSTMCell", "GRUCell"])
        self.spellings.add(f"nn.{kind}")
        if kind == "RNNCell-relu":
            expr, variant = f"nn.RNNCell({C}, {C}, nonlinearity='relu')", "relu"
        else:
            expr, variant = f"nn.{kind}({C}, {C})", None
        attr = self._attr(cls, "cell", Mod(expr, "rnn", variant))
        first = f"h, _ = self.{attr}(x.mean(2))" if kind == "LSTMCell" else f"h = self.{attr}(x.mean(2))"

        def run(ctx: Ctx, x: Node, path: str, me: Stmt) -> Node:
            where = _join(path, attr)
            cell = ctx.flow.op(ctx.flow.op(x), anchor=where)  # mean, then the cell
            if variant:
                ctx.flow.site(cell, where, "embedded", variant, me.line, inside=where)
            return ctx.flow.op(x, ctx.flow.op(cell, view=True))  # x + h.unsqueeze(2)

        return self._self_ref([first, "x = x + h.unsqueeze(2)"], run)

    def _list_stmt(self, attr: str, members: list[tuple[str, Mod]]) -> Stmt:
        def run(ctx: Ctx, x: Node, path: str, me: Stmt) -> Node:
            for name, member in members:
                where = "shared" if member.role == "shared" else f"{_join(path, attr)}.{name}"
                x = ctx.apply(member, x, where, me.line + 1)
            return x

        return self._self_ref([f"for m in self.{attr}:", "    x = m(x)"], run)

    def _loop_stmt(self, inner: Stmt, times: int) -> Stmt:
        def run(ctx: Ctx, x: Node, path: str, me: Stmt) -> Node:
            inner.line = me.line + 1
            for _ in range(times):
                x = inner.run(ctx, x, path)
            return x

        return self._self_ref([f"for _ in range({times}):", *("    " + s for s in inner.lines)], run)

    def _residual_stmt(self, inner: list[Stmt], nest: int) -> Stmt:
        var = f"skip{nest}"

        def run(ctx: Ctx, x: Node, path: str, me: Stmt) -> Node:
            skip = x
            for stmt in inner:
                x = stmt.run(ctx, x, path)
            return ctx.flow.op(x, skip)

        stmt = self._self_ref([f"{var} = x"], run)
        stmt.children, stmt.closing = inner, [f"x = x + {var}"]
        return stmt

    # ---- source
    def emit(self, start_line: int) -> tuple[str, ClassSpec]:
        root = self._class(0, root=True)
        out: list[str] = []

        def line(text: str) -> int:
            out.append(text)
            return start_line + len(out) - 1

        def emit_body(body: list[Stmt], indent: str) -> None:
            for stmt in body:
                stmt.line = line(indent + stmt.lines[0])
                for text in stmt.lines[1:]:
                    line(indent + text)
                emit_body(stmt.children, indent)
                for text in stmt.closing:
                    line(indent + text)

        for spec in self.classes:  # blocks first, the root last
            is_root = spec is root
            line(f"class {spec.name}(nn.Module):")
            line("    def __init__(self):" if is_root else "    def __init__(self, shared):")
            line("        super().__init__()")
            if is_root:
                line("        shared = nn.ReLU()")
            for attr, mod in spec.attrs:
                line(f"        self.{attr} = {mod.expr}")
            line("")
            line("    def forward(self, x):")
            emit_body(spec.body, "        ")
            line(f"        return {spec.returns}")
            line("")
            line("")
        return "\n".join(out) + "\n", root


def generate(seed: int, start_line: int = 1) -> Generated:
    """Model ``G<seed>``: its source (to be placed at ``start_line`` of a file) and expectations."""
    gen = _Gen(seed)
    source, root = gen.emit(start_line)
    ctx = Ctx(Flow())
    x = ctx.flow.input
    for stmt in root.body:
        x = stmt.run(ctx, x, "")
    ctx.flow.output = ctx.flow.op(x, *ctx.extra_outputs)  # the output
    sites = ctx.flow.resolve()
    return Generated(
        seed, root.name, source, start_line, sites, set(ctx.flow.anchors), gen.spellings, ctx.flow.untraced,
        len(ctx.flow.guards),
    )


def write_batch(seeds: list[int], path: str) -> list[Generated]:
    """Write the models of ``seeds`` into one file; return their expectations."""
    generated = []
    parts = [HEADER, "\n"]
    line = HEADER.count("\n") + 2
    for seed in seeds:
        g = generate(seed, start_line=line)
        generated.append(g)
        parts.append(g.source)
        line += g.source.count("\n")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("".join(parts))
    return generated


if __name__ == "__main__":  # print one model's source: python tests/modelgen.py SEED
    import sys as _sys

    _g = generate(int(_sys.argv[1]), start_line=HEADER.count("\n") + 2)
    print(HEADER)
    print(_g.source)
    for _site in _g.sites:
        print("#", _site)
