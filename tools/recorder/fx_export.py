"""torch.fx graph + ShapeProp metadata -> tpjit.graph/1 object.

trace(spec) symbolic-traces the block, runs ShapeProp under FakeTensorMode at two token counts
and keeps each run's tensor metadata; fx_map.to_graph() then maps the FX nodes to tpjit ops.
Also the small FX helpers both use. Every failure raises RecordError naming the stage and node.
"""
import re

import torch
import torch.fx
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata


class RecordError(RuntimeError):
    """stage: trace | shape-prop | map | self-check; node/cause: the FX node and the first error."""

    def __init__(self, stage: str, message: str, node=None, cause: str = ""):
        super().__init__(f"[{stage}] {message}")
        self.stage, self.node, self.cause = stage, node, cause or message


class Traced:
    """The FX graph of one block, its tracer (for module scopes) and per-run node metadata."""

    def __init__(self, gm, tracer, metas, m_values, device):
        self.gm, self.tracer, self.metas, self.m_values, self.device = gm, tracer, metas, m_values, device


def make_inputs(spec, m: int, mode, device: str) -> list:
    with mode:
        out = []
        for s in spec.inputs():
            shape = tuple(s.shape(m))
            if s.col_major:  # torch._scaled_mm's b: the transposed view of a row-major [N, K]
                t = torch.empty(shape[::-1], dtype=s.dtype, device=device).t()
            else:
                t = torch.empty(shape, dtype=s.dtype, device=device)
            out.append(t)
        return out


def trace(spec, m_values, impl: str = "torch") -> Traced:
    try:
        tracer = torch.fx.Tracer()
        graph = tracer.trace(spec.build(impl))
        gm = torch.fx.GraphModule(tracer.root, graph)
    except Exception as e:
        raise RecordError("trace", f"torch.fx symbolic tracing failed: {type(e).__name__}: {e}") from e
    names = [n.target for n in graph.nodes if n.op == "placeholder"]
    want = [s.name for s in spec.inputs()]
    if names != want:
        raise RecordError("trace", f"placeholders {names} differ from the input specs {want}")
    # Fake CUDA tensors make torch._scaled_mm's meta kernel check layouts and alignment as on
    # a GPU (it checks nothing for other devices); no GPU is needed for that.
    device = "cuda"
    try:
        make_inputs(spec, m_values[0], FakeTensorMode(), device)
    except Exception as e:
        print(f"note: fake CUDA tensors unavailable ({type(e).__name__}: {e}); using fake CPU "
              "tensors, so torch._scaled_mm's layout checks are skipped")
        device = "cpu"
    metas = []
    for m in m_values:
        mode = FakeTensorMode()
        inputs = make_inputs(spec, m, mode, device)
        try:
            ShapeProp(gm, fake_mode=mode).propagate(*inputs)
        except Exception as e:
            root = e.__cause__ if e.__cause__ is not None else e
            found = re.search(r"node=%(\w+)", str(e))
            node = next((n for n in graph.nodes if found and n.name == found.group(1)), None)
            cause = f"{type(root).__name__}: {str(root).strip()}"
            raise RecordError("shape-prop", f"at M={m}, node {found.group(1) if found else '?'}"
                              f" ({node.format_node() if node else 'unknown'}): {cause}",
                              node, cause) from e
        metas.append({n.name: n.meta.get("tensor_meta") for n in graph.nodes})
    return Traced(gm, tracer, metas, list(m_values), device)


def _schema(node):
    """The op schema of a torch.ops call (OpOverload or OpOverloadPacket), else None."""
    if node.op != "call_function":
        return None
    t = node.target
    return getattr(t, "_schema", None) or getattr(getattr(t, "default", None), "_schema", None)


def qualified_name(node) -> str:
    """'tpjit::all_gather', 'aten::_scaled_mm', 'torch._scaled_mm', 'method.view', ..."""
    schema = _schema(node)
    if schema is not None:
        return schema.name
    if node.op in ("call_method", "call_module"):
        return f"{node.op.split('_')[1]}.{node.target}"
    t = node.target
    return f"{getattr(t, '__module__', None) or 'builtins'}.{getattr(t, '__name__', str(t))}"


def target_name(node) -> str:
    """A short name for what an FX node calls: 'all_gather', '_scaled_mm', 'view', ..."""
    return qualified_name(node).replace("::", ".").split(".")[-1]


def _schema_args(node) -> dict:
    """Arguments by name: from the op schema for torch.ops, else from a fixed table."""
    t = node.target
    schema = _schema(node)
    if schema is not None:
        params = [a.name for a in schema.arguments]
    elif t is torch._scaled_mm:
        params = ["self", "mat2", "scale_a", "scale_b", "bias", "scale_result", "out_dtype",
                  "use_fast_accum"]
    else:
        params = [f"arg{i}" for i in range(len(node.args))]
    if len(node.args) > len(params):
        raise RecordError("map", f"node {node.name}: {len(node.args)} positional args, schema "
                                 f"has {params}")
    out = dict(zip(params, node.args))
    out.update(node.kwargs)
    return out


def _dtype_name(dtype) -> str:
    return str(dtype).replace("torch.", "")


def _norm_dim(d: int, rank: int) -> int:
    return d + rank if d < 0 else d


def _metas_of(meta):
    """TensorMetadata or a tuple/list of them -> list (None -> [])."""
    if meta is None:
        return []
    if isinstance(meta, TensorMetadata):
        return [meta]
    if isinstance(meta, (tuple, list)) and all(isinstance(m, TensorMetadata) for m in meta):
        return list(meta)
    raise RecordError("map", f"unexpected tensor metadata {type(meta).__name__}: {meta!r}")


def layout_of(shape, stride) -> str:
    """'row_major', 'col_major' (2-D transposed-dense) or 'batch_col_major' (rank > 2)."""
    dims = [(s, st) for s, st in zip(shape, stride) if s != 1]  # size-1 dims' strides are free

    def dense(pairs):
        expect = 1
        for size, st in reversed(pairs):
            if st != expect:
                return False
            expect *= size
        return True

    if dense(dims):
        return "row_major"
    if len(dims) >= 2 and dense(dims[:-2] + [dims[-1], dims[-2]]):
        return "col_major" if len(shape) == 2 else "batch_col_major"
    raise RecordError("map", f"tensor of shape {list(shape)} has non-dense strides {list(stride)}")
