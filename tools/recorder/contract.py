"""Checks a tpjit.graph/1 object against CONTRACTS.md without torch (the recorder's self-check).

check_graph(graph, bindings_list) returns a list of problems ("where: what"); empty means valid.
Structure is checked once; op semantics (shapes, dtypes, arity) at every binding given, so a
dim that only divides for one token count shows up.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import graphspec as gs

DTYPES = {"float8_e4m3fn", "float8_e5m2", "bfloat16", "float16", "float32",
          "int32", "int64", "uint8", "bool"}
FP8 = {"float8_e4m3fn", "float8_e5m2"}
GEMM_OUT = {"bfloat16", "float16", "float32"}
RESHAPES = {"reshape", "view", "unsqueeze", "squeeze", "flatten"}
GRANULARITIES = {"tensor", "row", "block128"}
MAX_NODES, MAX_TENSORS, MAX_RANK, MAX_SYMBOLS = 4096, 8192, 8, 8


class _Problems(list):
    def add(self, where: str, what: str) -> None:
        self.append(f"{where}: {what}")


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _prod(values) -> int:
    out = 1
    for v in values:
        out *= v
    return out


def _check_structure(g: Mapping, p: _Problems) -> dict:
    """Top level, names, dims, dataflow order. Returns tensor name -> decl for the op checks."""
    if g.get("format") != gs.FORMAT:
        p.add("format", f"expected {gs.FORMAT!r}, got {g.get('format')!r}")
    if not gs.valid_graph_name(g.get("name")):
        p.add("name", f"missing or not a valid name: {g.get('name')!r}")
    group = g.get("group")
    if not isinstance(group, dict) or not isinstance(group.get("name"), str) \
            or not isinstance(group.get("world_size"), int) or group.get("world_size") < 1:
        p.add("group", f"expected {{name: str, world_size: int >= 1}}, got {group!r}")
    symbols = g.get("symbols", [])
    if not isinstance(symbols, list) or not all(gs.valid_symbol(s) for s in symbols) \
            or len(set(symbols)) != len(symbols) or len(symbols) > MAX_SYMBOLS:
        p.add("symbols", f"expected at most {MAX_SYMBOLS} distinct identifiers, got {symbols!r}")
        symbols = []
    tensors = {}
    decls = g.get("tensors")
    if not isinstance(decls, list) or len(decls) > MAX_TENSORS:
        p.add("tensors", "missing, not a list, or too long")
        decls = []
    for i, t in enumerate(decls):
        where = f"tensors[{i}]"
        if not isinstance(t, dict) or not gs.valid_name(t.get("name")):
            p.add(where, f"not an object with a valid name: {t!r}")
            continue
        where = f"tensors[{i}] {t['name']!r}"
        if t["name"] in tensors:
            p.add(where, "duplicate tensor name")
        tensors[t["name"]] = t
        shape = t.get("shape")
        if not isinstance(shape, list) or len(shape) > MAX_RANK:
            p.add(where, f"shape must be a list of at most {MAX_RANK} dims, got {shape!r}")
            t["shape"] = []
            continue
        for d in shape:
            try:
                unknown = [s for s in gs.dim_symbols(d) if s not in symbols]
                if unknown:
                    p.add(where, f"dim {d!r} uses symbols {unknown} not listed in 'symbols'")
            except gs.DimError as e:
                p.add(where, str(e))
        if t.get("dtype") not in DTYPES:
            p.add(where, f"dtype {t.get('dtype')!r} is not one of {sorted(DTYPES)}")
        layout = t.get("layout", "row_major")
        if layout not in ("row_major", "col_major"):
            p.add(where, f"layout {layout!r} is not row_major or col_major")
        elif layout == "col_major" and len(shape) != 2:
            p.add(where, "col_major is allowed on 2-D tensors only")
    for key in ("inputs", "outputs"):
        names = g.get(key)
        if not isinstance(names, list) or not names:
            p.add(key, "missing or empty list")
            continue
        for n in names:
            if n not in tensors:
                p.add(key, f"{n!r} is not a declared tensor")
        if len(set(names)) != len(names):
            p.add(key, "lists a tensor twice")
    produced = set(g.get("inputs") or [])
    node_names = set()
    nodes = g.get("nodes")
    if not isinstance(nodes, list) or not nodes or len(nodes) > MAX_NODES:
        p.add("nodes", f"missing, empty, or more than {MAX_NODES}")
        nodes = []
    for i, n in enumerate(nodes):
        where = f"nodes[{i}]"
        if not isinstance(n, dict) or not gs.valid_name(n.get("name")) \
                or not isinstance(n.get("op"), str) or not n.get("op"):
            p.add(where, f"needs a valid name and a non-empty op: {n!r}")
            continue
        where = f"nodes[{i}] {n['name']!r} ({n['op']})"
        if n["name"] in node_names:
            p.add(where, "duplicate node name")
        node_names.add(n["name"])
        if not isinstance(n.get("attrs", {}), dict):
            p.add(where, "attrs must be an object")
        for key in ("inputs", "outputs"):
            if not isinstance(n.get(key), list) or not all(isinstance(x, str) for x in n[key]):
                p.add(where, f"{key} must be a list of tensor names")
                n[key] = []
        for x in n["inputs"]:
            if x not in tensors:
                p.add(where, f"input {x!r} is not a declared tensor")
            elif x not in produced:
                p.add(where, f"input {x!r} is used before any node or graph input makes it")
        if not n["outputs"]:
            p.add(where, "has no outputs")
        for x in n["outputs"]:
            if x not in tensors:
                p.add(where, f"output {x!r} is not a declared tensor")
            elif x in produced:
                p.add(where, f"output {x!r} is already made by a graph input or earlier node")
            produced.add(x)
    for x in g.get("outputs") or []:
        if x in tensors and x not in produced:
            p.add("outputs", f"{x!r} is never made")
    unused = [t for t in tensors if t not in produced]
    if unused:
        p.add("tensors", f"declared but neither an input nor made by a node: {unused}")
    return tensors


def _check_scaled_mm(n, ins, out, p, where):
    if len(ins) not in (4, 5) or len(out) != 1:
        return p.add(where, f"needs 4 or 5 inputs and 1 output, got {len(ins)} and {len(out)}")
    (_, sa, da, la), (_, sb, db, lb) = ins[0], ins[1]
    if len(sa) != 2 or len(sb) != 2:
        return p.add(where, f"a and b must be 2-D, got {sa} and {sb}")
    if da not in FP8 or db not in FP8:
        p.add(where, f"a and b must be fp8, got {da} and {db}")
    if la != "row_major" or lb != "col_major":
        p.add(where, f"a must be row_major and b col_major, got {la} and {lb}")
    m, k, n_ = sa[0], sa[1], sb[1]
    if sb[0] != k:
        p.add(where, f"K mismatch: a {sa} vs b {sb}")
    ssa, ssb = ins[2][1], ins[3][1]
    if ins[2][2] != "float32" or ins[3][2] != "float32":
        p.add(where, "scales must be float32")
    kb = _ceil_div(k, 128)
    modes = {"tensor": ssa in ([], [1], [1, 1]) and ssb in ([], [1], [1, 1]),
             "row": ssa == [m, 1] and ssb == [1, n_],
             "block": ssa == [m, kb] and ssb == [kb, _ceil_div(n_, 128)]}
    if not any(modes.values()):
        p.add(where, f"scale shapes {ssa} and {ssb} match no scale mode for M={m} K={k} N={n_}")
    if len(ins) == 5 and ins[4][1] != [n_]:
        p.add(where, f"bias must be [{n_}], got {ins[4][1]}")
    want = n.get("attrs", {}).get("out_dtype")
    if want not in GEMM_OUT or out[0][2] != want:
        p.add(where, f"attrs.out_dtype {want!r} must be one of {sorted(GEMM_OUT)} and the output's")
    if out[0][1] != [m, n_]:
        p.add(where, f"output shape {out[0][1]} != [{m}, {n_}]")


def _check_reshape(n, ins, out, p, where):
    if len(ins) != 1 or len(out) != 1:
        return p.add(where, "needs 1 input and 1 output")
    src, dst, attrs = ins[0][1], out[0][1], n.get("attrs", {})
    if ins[0][2] != out[0][2]:
        p.add(where, f"dtype changes from {ins[0][2]} to {out[0][2]}")
    op = n["op"]
    if op in ("reshape", "view"):
        return  # the target shape itself is checked in _check_node (it may hold expressions)
    rank = len(src)
    if op == "unsqueeze":
        d = attrs.get("dim")
        if not isinstance(d, int) or not -rank - 1 <= d <= rank:
            return p.add(where, f"attrs.dim {d!r} out of range for rank {rank}")
        d %= rank + 1
        want = src[:d] + [1] + src[d:]
    elif op == "squeeze":
        d = attrs.get("dim")
        if not isinstance(d, int) or not -rank <= d < rank or src[d % rank] != 1:
            return p.add(where, f"attrs.dim {d!r} is not a size-1 dim of {src}")
        d %= rank
        want = src[:d] + src[d + 1:]
    else:  # flatten
        s, e = attrs.get("start_dim", 0), attrs.get("end_dim", -1)
        if not isinstance(s, int) or not isinstance(e, int) or rank == 0:
            return p.add(where, "attrs.start_dim/end_dim must be ints")
        s, e = s % rank, e % rank
        want = src[:s] + [_prod(src[s:e + 1])] + src[e + 1:]
    if dst != want:
        p.add(where, f"output shape {dst} != {want} from input {src}")


def _check_node(n, decls, ws, bindings, p, where):
    def info(name):
        t = decls[name]
        return name, gs.eval_shape(t["shape"], bindings), t.get("dtype"), t.get("layout", "row_major")

    ins, out = [info(x) for x in n["inputs"]], [info(x) for x in n["outputs"]]
    op, attrs = n["op"], n.get("attrs", {})
    if op in ("all_gather", "reduce_scatter", "all_reduce"):
        if len(ins) != 1 or len(out) != 1:
            return p.add(where, "needs 1 input and 1 output")
        src, dst = ins[0][1], out[0][1]
        if ins[0][2] != out[0][2]:
            p.add(where, f"dtype changes from {ins[0][2]} to {out[0][2]}")
        if op != "all_gather" and attrs.get("op", "sum") != "sum":
            p.add(where, f"attrs.op {attrs.get('op')!r} is not 'sum'")
        if op == "all_reduce":
            want = src
        else:
            d = attrs.get("dim", 0)
            if not isinstance(d, int) or not 0 <= d < len(src):
                return p.add(where, f"attrs.dim {d!r} out of range for {src}")
            want = list(src)
            if op == "all_gather":
                want[d] *= ws
            elif src[d] % ws:
                return p.add(where, f"dim {d} of {src} does not divide by world size {ws}")
            else:
                want[d] //= ws
        if dst != want:
            p.add(where, f"output shape {dst} != {want}")
    elif op == "scaled_mm":
        _check_scaled_mm(n, ins, out, p, where)
    elif op == "bmm_fp8":
        if len(ins) != 4 or len(out) != 1:
            return p.add(where, "needs 4 inputs and 1 output")
        sa, sb = ins[0][1], ins[1][1]
        if len(sa) != 3 or len(sb) != 3 or sa[0] != sb[0] or sa[2] != sb[1]:
            return p.add(where, f"A {sa} and B {sb} are not [Bt,M,K] and [Bt,K,N]")
        if ins[0][2] not in FP8 or ins[1][2] not in FP8:
            p.add(where, "A and B must be fp8")
        if any(x[1] not in ([], [1]) or x[2] != "float32" for x in ins[2:]):
            p.add(where, "scales must be scalar float32")
        want = attrs.get("out_dtype")
        if want not in GEMM_OUT or out[0][2] != want:
            p.add(where, f"attrs.out_dtype {want!r} must be one of {sorted(GEMM_OUT)} and the output's")
        if out[0][1] != [sa[0], sa[1], sb[2]]:
            p.add(where, f"output shape {out[0][1]} != {[sa[0], sa[1], sb[2]]}")
    elif op == "mm":
        if len(ins) != 2 or len(out) != 1 or len(ins[0][1]) != 2 or len(ins[1][1]) != 2:
            return p.add(where, "needs two 2-D inputs and 1 output")
        if ins[0][1][1] != ins[1][1][0] or out[0][1] != [ins[0][1][0], ins[1][1][1]]:
            p.add(where, f"shapes {ins[0][1]} x {ins[1][1]} -> {out[0][1]} do not agree")
    elif op == "quantize_fp8":
        if len(ins) != 1 or len(out) != 2:
            return p.add(where, "needs 1 input and 2 outputs (q, scale)")
        src, g = ins[0][1], attrs.get("granularity")
        if g not in GRANULARITIES:
            return p.add(where, f"attrs.granularity {g!r} is not one of {sorted(GRANULARITIES)}")
        if out[0][1] != src or out[0][2] != "float8_e4m3fn":
            p.add(where, f"q must be float8_e4m3fn of shape {src}")
        rows = _prod(src[:-1])
        want = {"tensor": [[], [1]], "row": [[rows, 1]],
                "block128": [[rows, _ceil_div(src[-1] if src else 1, 128)]]}[g]
        if out[1][1] not in want or out[1][2] != "float32":
            p.add(where, f"scale must be float32 of shape {' or '.join(map(str, want))}, got {out[1][1]}")
    elif op in RESHAPES:
        _check_reshape(n, ins, out, p, where)
        if op in ("reshape", "view"):
            target = attrs.get("shape")
            if not isinstance(target, list) or sum(1 for d in target if d == -1) > 1:
                return p.add(where, f"attrs.shape must be a list with at most one -1: {target!r}")
            try:
                dims = [-1 if d == -1 else gs.eval_dim(d, bindings) for d in target]
            except gs.DimError as e:
                return p.add(where, f"attrs.shape: {e}")
            numel = _prod(ins[0][1])
            if -1 in dims:
                known = _prod(d for d in dims if d != -1)
                if known == 0 or numel % known:
                    return p.add(where, f"attrs.shape {target}: -1 cannot be resolved for {ins[0][1]}")
                dims[dims.index(-1)] = numel // known
            if dims != out[0][1]:
                p.add(where, f"attrs.shape {target} -> {dims} does not give {out[0][1]}")
            if _prod(out[0][1]) != numel:
                p.add(where, f"element count changes: {ins[0][1]} -> {out[0][1]}")
    # any other op is opaque: its declared output shapes are trusted


def check_graph(graph: Mapping, bindings_list: Sequence[Mapping[str, int]] = ()) -> list:
    """All contract problems of `graph`; op semantics checked at each binding (default M=4096)."""
    p = _Problems()
    if not isinstance(graph, dict):
        return [f"graph: expected a JSON object, got {type(graph).__name__}"]
    graph = _deep_copy(graph)
    decls = _check_structure(graph, p)
    if p:
        return list(p)
    ws = graph["group"]["world_size"]
    for bindings in bindings_list or [{s: 4096 for s in graph.get("symbols", [])}]:
        for i, n in enumerate(graph["nodes"]):
            where = f"nodes[{i}] {n['name']!r} ({n['op']}) at {dict(bindings)}"
            try:
                _check_node(n, decls, ws, bindings, p, where)
            except gs.DimError as e:
                p.add(where, str(e))
    return list(dict.fromkeys(p))


def _deep_copy(value):
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
