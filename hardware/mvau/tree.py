"""One PE lane's SIMD-wide dot product as generated Verilog: leaves, a pipelined adder tree, exact widths.

Every node of the tree is an integer wire with a known range [lo, hi]; its
width is the narrowest code of that range (unsigned when lo >= 0). A node may
stand for ``-(wire << shift)``, so shifted and subtracted terms (weight bit
planes, a two's complement sign plane) cost no extra adder: the shift is
wiring and the sign turns an adder into a subtractor. Adding two nodes is done
modulo 2**width of the result, which is exact because the result's range fits.

Multipliers:

* ``lut``: shift-and-add over the weight's bits. Plane j sums the inputs whose
  weight has bit j set (``{IN_B{w[j]}} & x``, the AND folds into the adder's
  LUT); the planes are then added with shifts j, the sign plane of a signed
  weight subtracted. No ``*`` operator, so Yosys builds it from LUTs and
  carry chains (it maps any ``*`` with a product of 9 or more bits to a DSP48E1).
* ``lut`` with ``pow2`` weights (encoding.py: every code 0 or +-2**k): one term
  per input, x shifted by a multiplexer, XOR-negated, its +1 summed in a second
  group of one-bit leaves (a popcount); no adder per product.
* ``dsp``: one ``*`` per product (a DSP48E1 each), then the adder tree.

A register follows every ``LEVELS_PER_STAGE`` adder levels and the root, and
in ``dsp`` mode the products; ``stages`` counts them (the lane's latency).

Every adder's result wire carries ``(* keep *)``: otherwise Yosys' alumacc
merges the whole tree into one $macc, which maccmap builds as a carry-save
tree of LUT full adders (measured on a 16-input tree: 102 LUTs, 7 LUT levels,
against 71 LUTs, 4 levels on carry chains with the attribute).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from frontend.fixedpoint import FixedFormat

from hardware.mvau.encoding import WeightEncoding
from hardware.mvau.formats import bits_for_range

LEVELS_PER_STAGE = 3  # adder levels between pipeline registers (about 5 ns on xc7 at these widths)
DSP_MIN_PRODUCT_BITS = 9  # Yosys synth_xilinx leaves a `*` with a narrower product in LUTs


@dataclass(frozen=True)
class Node:
    name: str
    lo: int
    hi: int
    shift: int = 0
    neg: bool = False   # the node contributes -(wire << shift)
    bits: int = 0       # declared width when wider than the range needs (0: the range's width)

    @property
    def width(self) -> int:
        return max(bits_for_range(self.lo, self.hi)[0], self.bits)

    @property
    def signed(self) -> bool:
        return self.lo < 0


def resized(node: Node, width: int, shift: int = 0) -> str:
    """Verilog expression of (node << shift) modulo 2**width: zero/sign extension or truncation."""
    bits = width - shift
    if bits <= 0:
        return f"{width}'d0"
    w = node.width
    if bits < w:
        core = f"{node.name}[{bits - 1}:0]"
    elif bits == w:
        core = node.name
    else:
        fill = f"{node.name}[{w - 1}]" if node.signed else "1'b0"
        core = f"{{{{{bits - w}{{{fill}}}}}, {node.name}}}"
    return f"{{{core}, {shift}'d0}}" if shift else core


@dataclass
class Netlist:
    """Accumulates the wire and register declarations of one generated module."""

    lines: list[str] = field(default_factory=list)
    count: int = 0

    def _fresh(self, stem: str) -> str:
        self.count += 1
        return f"{stem}{self.count}"

    def wire(self, lo: int, hi: int, expr: str, shift: int = 0, neg: bool = False, stem: str = "t",
             width: int = 0, keep: bool = False) -> Node:
        node = Node(self._fresh(stem), lo, hi, shift, neg, width)
        attribute = "(* keep *) " if keep else ""
        self.lines.append(f"    {attribute}wire [{node.width - 1}:0] {node.name} = {expr};")
        return node

    def register(self, node: Node) -> Node:
        reg = Node(self._fresh("r"), node.lo, node.hi, node.shift, node.neg, node.bits)
        self.lines.append(f"    reg [{reg.width - 1}:0] {reg.name};")
        self.lines.append(f"    always @(posedge clk) {reg.name} <= {node.name};")
        return reg

    def add(self, a: Node, b: Node) -> Node:
        """a + b, aligned to the smaller shift; subtraction when exactly one is negated.

        A result is as wide as its range, except that a padded operand (a DSP product widened so Yosys
        maps its `*` to a DSP48E1) is never truncated: the result keeps at least its width.
        """
        shift = min(a.shift, b.shift)
        da, db = a.shift - shift, b.shift - shift
        pad = max(a.width + da if a.bits else 0, b.width + db if b.bits else 0)
        if a.neg == b.neg:
            lo, hi = (a.lo << da) + (b.lo << db), (a.hi << da) + (b.hi << db)
            width = max(Node("", lo, hi).width, pad)
            return self.wire(lo, hi, f"{resized(a, width, da)} + {resized(b, width, db)}", shift, a.neg,
                             width=width if pad else 0, keep=True)
        pos, neg = (b, a) if a.neg else (a, b)
        dp, dn = pos.shift - shift, neg.shift - shift
        lo, hi = (pos.lo << dp) - (neg.hi << dn), (pos.hi << dp) - (neg.lo << dn)
        width = max(Node("", lo, hi).width, pad)
        return self.wire(lo, hi, f"{resized(pos, width, dp)} - {resized(neg, width, dn)}", shift,
                         width=width if pad else 0, keep=True)


def reduce_tree(net: Netlist, groups: list[list[Node]], registered_leaves: bool) -> tuple[Node, int]:
    """Sum every leaf; groups (weight bit planes) reduce first, then their sums. Returns (root, stages).

    Levels advance in lock step over all groups, so a register level cuts every
    path at the same depth.
    """
    stages = int(registered_leaves)
    level = 0
    while len(groups) > 1 or len(groups[0]) > 1:
        if all(len(g) == 1 for g in groups):
            groups = [[g[0] for g in groups]]
        groups = [[net.add(g[i], g[i + 1]) if i + 1 < len(g) else g[i] for i in range(0, len(g), 2)]
                  for g in groups]
        level += 1
        if level % LEVELS_PER_STAGE == 0:
            groups = [[net.register(n) for n in g] for g in groups]
            stages += 1
    root = groups[0][0]
    if level % LEVELS_PER_STAGE or level == 0 and not registered_leaves:
        root = net.register(root)
        stages += 1
    return root, stages


def lut_leaves(net: Netlist, simd: int, x_fmt: FixedFormat, w_fmt: FixedFormat) -> list[list[Node]]:
    """Gated inputs, one group per weight bit plane: plane j holds x[s] where w[s] has bit j set."""
    xw, ww = x_fmt.width, w_fmt.width
    lo, hi = min(x_fmt.min_code, 0), max(x_fmt.max_code, 0)
    planes = []
    for j in range(ww):
        neg = w_fmt.signed and j == ww - 1
        planes.append([net.wire(lo, hi, f"{{{xw}{{w[{s * ww + j}]}}}} & x[{s * xw} +: {xw}]", j, neg, stem="g")
                       for s in range(simd)])
    return planes


def dsp_leaves(net: Netlist, simd: int, x_fmt: FixedFormat, w_fmt: FixedFormat, w_lo: int, w_hi: int) -> list[Node]:
    """One registered ``*`` per input, at least DSP_MIN_PRODUCT_BITS wide so Yosys makes each a DSP48E1."""
    xw, ww = x_fmt.width, w_fmt.width
    corners = [a * b for a in (x_fmt.min_code, x_fmt.max_code) for b in (w_lo, w_hi)]
    lo, hi = min(corners + [0]), max(corners + [0])
    width = max(bits_for_range(lo, hi)[0], DSP_MIN_PRODUCT_BITS)
    products = []
    for s in range(simd):
        x = net.wire(x_fmt.min_code, x_fmt.max_code, f"x[{s * xw} +: {xw}]", stem="xs")
        w = net.wire(w_fmt.min_code, w_fmt.max_code, f"w[{s * ww} +: {ww}]", stem="ws")
        product = net.wire(lo, hi, f"$signed({resized(x, width)}) * $signed({resized(w, width)})", stem="p",
                           width=width)
        products.append(net.register(product))
    return products


def pow2_leaves(net: Netlist, simd: int, x_fmt: FixedFormat, enc: WeightEncoding) -> list[list[Node]]:
    """Products by 0 / +-2**k weights: a shift multiplexer, XOR for the sign, the sign's +1 in a popcount group."""
    xw, ew, ww = x_fmt.width, enc.exponent_bits, enc.width
    k_min = enc.exponents[0]
    shifts = [k - k_min for k in enc.exponents]
    m_lo, m_hi = min(x_fmt.min_code, 0) << shifts[-1], max(x_fmt.max_code, 0) << shifts[-1]
    m_w = bits_for_range(m_lo, m_hi)[0]
    lo, hi = (min(m_lo, -m_hi - 1), max(m_hi, -m_lo - 1)) if enc.has_sign else (m_lo, m_hi)
    v_w = bits_for_range(lo, hi)[0]
    terms, corrections = [], []
    for s in range(simd):
        base = s * ww
        x = net.wire(x_fmt.min_code, x_fmt.max_code, f"x[{s * xw} +: {xw}]", stem="xs")
        choices = [resized(x, m_w, d) for d in shifts]
        m_expr = choices[-1]
        for i in range(len(shifts) - 2, -1, -1):  # exponent index -> shift, a multiplexer
            m_expr = f"(w[{base} +: {ew}] == {ew}'d{i}) ? {choices[i]} : {m_expr}"
        m = net.wire(m_lo, m_hi, m_expr, stem="m")
        expr = resized(m, v_w)
        sign = f"w[{base + ew}]" if enc.has_sign else None
        nonzero = f"w[{base + ew + int(enc.has_sign)}]" if enc.has_zero else None
        if sign:
            expr = f"({expr} ^ {{{v_w}{{{sign}}}}})"   # ~v; the +1 of -v is in `corrections`
        if nonzero:
            expr = f"({{{v_w}{{{nonzero}}}}} & {expr})"
        terms.append(net.wire(lo, hi, expr, k_min, stem="g"))
        if sign:
            corrections.append(net.wire(0, 1, f"{sign} & {nonzero}" if nonzero else sign, k_min, stem="c"))
    return [terms, corrections] if corrections else [terms]


def dot_module(name: str, simd: int, x_fmt: FixedFormat, enc: WeightEncoding, w_lo: int, w_hi: int,
               multiplier: str) -> tuple[str, Node, int]:
    """Verilog of module ``name`` (clk, x, w -> dot) and its root node and register stages."""
    net = Netlist()
    if multiplier == "dsp":
        root, stages = reduce_tree(net, [dsp_leaves(net, simd, x_fmt, enc.fmt, w_lo, w_hi)], registered_leaves=True)
    elif enc.kind == "pow2":
        root, stages = reduce_tree(net, pow2_leaves(net, simd, x_fmt, enc), registered_leaves=False)
    else:
        root, stages = reduce_tree(net, lut_leaves(net, simd, x_fmt, enc.fmt), registered_leaves=False)
    kind = multiplier if enc.kind == "twos" else f"{multiplier}, {enc.kind} weights"
    text = f"""// One PE lane: sum over {simd} inputs of x[s] * w[s] ({kind}), {stages} register stage(s).
// dot = {'-' if root.neg else ''}(value << {root.shift}); range of the value [{root.lo}, {root.hi}].
module {name} (
    input clk,
    input [{simd * x_fmt.width - 1}:0] x,
    input [{simd * enc.width - 1}:0] w,
    output [{root.width - 1}:0] dot
);
{chr(10).join(net.lines)}
    assign dot = {root.name};
endmodule
"""
    return text, Node("dot", root.lo, root.hi, root.shift, root.neg, root.bits), stages
