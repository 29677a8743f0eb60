"""Maps a traced FX graph (fx_export.Traced) to a tpjit.graph/1 object.

Names: graph inputs keep the forward's parameter names; a node is named after the submodule
that made it (qkv_proj, o_proj, gather, ...), or submodule + FX name when the submodule made
several; a node's single output is <node>_out, quantize_fp8's are <node>_q and <node>_scale;
the block's return values get the spec's output_names.
"""
import operator

import torch
import torch.fx

import graphspec as gs
from fx_export import RecordError, _dtype_name, _metas_of, _norm_dim, _schema_args, layout_of
from fx_export import qualified_name, target_name

_CALLS = ("call_function", "call_method", "call_module")
_SCALED_MM = {"torch._scaled_mm", "aten::_scaled_mm", "tpjit::scaled_mm"}
_COLLECTIVES = {"tpjit::all_gather": "all_gather", "tpjit::reduce_scatter": "reduce_scatter",
                "tpjit::all_reduce": "all_reduce"}
_VIEWS = {"reshape", "view", "unsqueeze", "squeeze", "flatten"}
_MM = {"torch.mm", "torch.matmul", "aten::mm", "method.mm", "method.matmul"}
_EXPECTED_OPAQUE = {"attention", "silu_and_mul"}


def _jsonable(value):
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, torch.dtype):
        return _dtype_name(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


class _Mapper:
    def __init__(self, spec, traced):
        self.spec, self.traced = spec, traced
        self.m1, self.m2 = traced.m_values
        self.tensors, self.nodes, self.inputs, self.outputs = {}, [], [], []
        self.names = {}          # FX node name -> tensor name, or list of names (tuple results)
        self.layout_notes = {}
        self.opaque = []

    def metas(self, fx_name):
        a = _metas_of(self.traced.metas[0].get(fx_name))
        b = _metas_of(self.traced.metas[1].get(fx_name))
        if len(a) != len(b):
            raise RecordError("map", f"node {fx_name}: result count differs between runs")
        return list(zip(a, b))

    def declare(self, name, pair, where):
        a, b = pair
        if name in self.tensors:
            raise RecordError("map", f"{where}: tensor name {name!r} used twice")
        if a.dtype != b.dtype:
            raise RecordError("map", f"{where}: dtype differs between runs ({a.dtype}, {b.dtype})")
        try:
            shape = gs.derive_shape(list(a.shape), list(b.shape), self.m1, self.m2)
        except gs.DimError as e:
            raise RecordError("map", f"{where}: {e}") from e
        layout = layout_of(list(a.shape), list(a.stride))
        if layout == "batch_col_major":  # the contract has col_major for 2-D tensors only
            self.layout_notes[name] = (f"col_major per batch (last two dims), strides "
                                       f"{list(a.stride)} at M={self.m1}")
            layout = "row_major"
        dtype = _dtype_name(a.dtype)
        self.tensors[name] = {"name": name, "shape": shape, "dtype": dtype, "layout": layout}
        return shape

    def tensor_of(self, arg, where):
        if not isinstance(arg, torch.fx.Node) or arg.name not in self.names:
            raise RecordError("map", f"{where}: argument {arg!r} is not a tensor of the graph")
        name = self.names[arg.name]
        if isinstance(name, list):
            raise RecordError("map", f"{where}: argument {arg.name} is a tuple, not one tensor")
        return name

    def classify(self, n, out_shape):
        """-> (op, attrs, input nodes) for one FX call node."""
        qual, args, where = qualified_name(n), _schema_args(n), f"node {n.name} ({qualified_name(n)})"
        pos = list(args.values())
        if qual in _SCALED_MM:
            a, b = args.get("self", args.get("a")), args.get("mat2", args.get("b"))
            if args.get("scale_result") is not None:
                raise RecordError("map", f"{where}: scale_result is not in the tpjit contract")
            out = args.get("out_dtype")
            if out is None:
                raise RecordError("map", f"{where}: out_dtype must be given (bf16/f16/f32)")
            attrs = {"out_dtype": _dtype_name(out)}
            if args.get("use_fast_accum"):
                attrs["use_fast_accum"] = True
            ins = [a, b, args["scale_a"], args["scale_b"]]
            return "scaled_mm", attrs, ins + ([args["bias"]] if args.get("bias") is not None else [])
        if qual == "tpjit::bmm_fp8":
            return "bmm_fp8", {"out_dtype": _dtype_name(args["dtype"])}, \
                [args["A"], args["B"], args["A_scale"], args["B_scale"]]
        if qual in _COLLECTIVES:
            op, x = _COLLECTIVES[qual], args["x"]
            if args.get("world_size", self.spec.tp) != self.spec.tp:
                raise RecordError("map", f"{where}: world size {args['world_size']} != tp {self.spec.tp}")
            attrs = {} if op == "all_reduce" else {"dim": _norm_dim(args["dim"], len(out_shape))}
            if op != "all_gather":
                attrs["op"] = "sum"
            return op, attrs, [x]
        if qual == "tpjit::quantize_fp8":
            return "quantize_fp8", {"granularity": args["granularity"]}, [args["x"]]
        short = target_name(n)
        if short in _VIEWS and n.op != "call_module":
            x = pos[0]
            rest = dict(n.kwargs)
            extra = list(n.args[1:])
            if short in ("reshape", "view"):
                return short, {"shape": list(out_shape)}, [x]
            if short in ("unsqueeze", "squeeze"):
                d = rest.get("dim", extra[0] if extra else None)
                if not isinstance(d, int):
                    raise RecordError("map", f"{where}: {short} needs one int dim, got {d!r}")
                # unsqueeze's dim ranges over the output's dims, squeeze's over the input's
                rank = len(out_shape) if short == "unsqueeze" else len(out_shape) + 1
                return short, {"dim": _norm_dim(d, rank)}, [x]
            s = rest.get("start_dim", extra[0] if extra else 0)
            e = rest.get("end_dim", extra[1] if len(extra) > 1 else -1)
            rank = self.tensors[self.tensor_of(x, where)]["shape"].__len__()
            return "flatten", {"start_dim": _norm_dim(s, rank), "end_dim": _norm_dim(e, rank)}, [x]
        if qual in _MM:
            return "mm", {}, [pos[0], pos[1]]
        # Opaque: tensor arguments in order become inputs, the rest attributes.
        items = list(args.items()) if n.op == "call_function" else \
            [(f"arg{i}", v) for i, v in enumerate(n.args)] + list(n.kwargs.items())
        ins = [v for _, v in items if isinstance(v, torch.fx.Node) and v.name in self.names]
        attrs = {k: _jsonable(v) for k, v in items if not isinstance(v, torch.fx.Node)}
        op = gs.sanitize_name(short)
        if op not in _EXPECTED_OPAQUE:
            self.opaque.append(f"{n.name} -> opaque op {op!r} ({qual})")
        return op, attrs, ins

    def node_names(self, planned):
        """Submodule path when it made one node, else path_<op>[_<k>] counted within the path."""
        scopes = getattr(self.traced.tracer, "node_name_to_scope", None) or {}
        path_of = {n.name: scopes.get(n.name, ("", None))[0] for n in planned}
        per_scope, seen = {}, {}
        for n in planned:
            per_scope[path_of[n.name]] = per_scope.get(path_of[n.name], 0) + 1
        out, used = {}, set(self.tensors)
        for n in planned:
            path, short = path_of[n.name], gs.sanitize_name(target_name(n))
            if path and per_scope[path] == 1:
                base = path
            else:
                k = seen.get((path, short), 0)
                seen[(path, short)] = k + 1
                base = (f"{path}_" if path else "") + short + (f"_{k}" if k else "")
            name = gs.sanitize_name(base)
            i = 2
            while name in used:
                name, i = f"{gs.sanitize_name(base)}_{i}", i + 1
            used.add(name)
            out[n.name] = name
        return out

    def run(self):
        graph = self.traced.gm.graph
        out_node = next(n for n in graph.nodes if n.op == "output")
        results = out_node.args[0]
        results = list(results) if isinstance(results, (tuple, list)) else [results]
        if len(results) != len(self.spec.output_names):
            raise RecordError("map", f"the block returns {len(results)} values, output_names has "
                                     f"{list(self.spec.output_names)}")
        aliases, planned = {}, []
        for n in graph.nodes:
            if n.op not in _CALLS or self.traced.metas[0].get(n.name) is None:
                continue  # shape arithmetic (x.shape[0] and the like) is not a tensor op
            src = n.args[0] if n.args else None
            if n.target is operator.getitem and isinstance(src, torch.fx.Node) \
                    and len(_metas_of(self.traced.metas[0].get(src.name))) > 1:
                aliases[n.name] = (src.name, n.args[1])
                continue
            planned.append(n)
        for n in graph.nodes:
            if n.op == "placeholder":
                name = gs.sanitize_name(str(n.target))
                self.declare(name, self.metas(n.name)[0], f"input {n.target}")
                self.inputs.append(name)
                self.names[n.name] = name
        node_names = self.node_names(planned)
        for n in graph.nodes:
            if n.name in aliases:
                src, idx = aliases[n.name]
                self.names[n.name] = self.names[src][idx]
            elif n.name in node_names:
                self.add_node(n, node_names[n.name])
        for r, want in zip(results, self.spec.output_names):
            self.rename(self.tensor_of(r, "graph output"), want)
            self.names[r.name] = want
        self.outputs = [self.names[r.name] for r in results]

    def add_node(self, n, name):
        pairs = self.metas(n.name)
        where = f"node {n.name} ({qualified_name(n)})"
        labels = ["out"] if len(pairs) == 1 else \
            ["q", "scale"] if qualified_name(n) == "tpjit::quantize_fp8" else \
            [f"out{i}" for i in range(len(pairs))]
        if not pairs:
            raise RecordError("map", f"{where}: produces no tensor")
        try:
            out_shape = gs.derive_shape(list(pairs[0][0].shape), list(pairs[0][1].shape),
                                        self.m1, self.m2)
        except gs.DimError as e:
            raise RecordError("map", f"{where}: {e}") from e
        op, attrs, ins = self.classify(n, out_shape)
        inputs = [self.tensor_of(x, where) for x in ins]
        outs = [f"{name}_{label}" for label in labels]
        for out, pair in zip(outs, pairs):
            self.declare(out, pair, where)
        self.names[n.name] = outs[0] if len(outs) == 1 else outs
        self.nodes.append({"name": name, "op": op, "inputs": inputs, "outputs": outs, "attrs": attrs})

    def rename(self, old, new):
        if old == new:
            return
        if new in self.tensors:
            raise RecordError("map", f"output name {new!r} is already a tensor name")
        if old in self.inputs:
            raise RecordError("map", f"graph output {old!r} is a graph input; cannot rename")
        self.tensors[old]["name"] = new
        self.tensors = {(new if k == old else k): v for k, v in self.tensors.items()}
        for node in self.nodes:
            node["inputs"] = [new if x == old else x for x in node["inputs"]]
            node["outputs"] = [new if x == old else x for x in node["outputs"]]
        for k, v in list(self.names.items()):
            if v == old:
                self.names[k] = new
            elif isinstance(v, list):
                self.names[k] = [new if x == old else x for x in v]


def to_graph(spec, traced) -> tuple:
    """-> (graph dict without meta, extra meta: layout notes and opaque-op notes)."""
    m = _Mapper(spec, traced)
    m.run()
    tensors = list(m.tensors.values())  # inputs first, then in the order nodes make them
    graph = {"format": gs.FORMAT, "name": spec.name,
             "group": {"name": "tp", "world_size": spec.tp}, "symbols": ["M"],
             "tensors": tensors, "inputs": m.inputs, "outputs": m.outputs, "nodes": m.nodes}
    extra = {}
    if m.layout_notes:
        extra["layout_notes"] = m.layout_notes
    if m.opaque:
        extra["unexpected_opaque_ops"] = m.opaque
    return graph, extra
