"""Python client for tpjitd, standard library only.

Wire format (CONTRACTS.md "Wire"): every message is a frame
    "TPJF" | u32 big-endian payload length | payload (UTF-8 JSON)
with the payload capped (16 MiB by default) and the cap checked before anything is allocated.
Requests are {"id", "type", "body"}; replies {"id", "ok": true, "body"} or
{"id", "ok": false, "error": {"code", "message", "where"}}, raised here as TpjitError.

    with Client() as c:
        c.hello()
        plan = c.compile("tests/data/graphs/llama3-70b-attn-tp2.json", m=[128, 2048])
        result = c.run("tests/data/graphs/llama3-70b-attn-tp2.json", m=4096, check=True)
"""
import itertools
import json
import os
import socket
import struct

MAGIC = b"TPJF"
HEADER = struct.Struct(">4sI")
DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024
PROTOCOL = 1
CLIENT_NAME = "tpjit_client.py"


class TpjitError(Exception):
    """An error reply from tpjitd, or a local failure with a code of its own:
    connect, timeout, closed, bad_magic, frame_too_large, bad_json, bad_reply, id_mismatch."""

    def __init__(self, code: str, message: str, where: str = ""):
        super().__init__(f"{code}: {message}" + (f" (at {where})" if where else ""))
        self.code, self.message, self.where = code, message, where


def default_socket_path(env=None, uid=None) -> str:
    """$XDG_RUNTIME_DIR/tpjit/tpjitd.sock, else /tmp/tpjit-$UID/tpjitd.sock."""
    env = os.environ if env is None else env
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "tpjit", "tpjitd.sock")
    return f"/tmp/tpjit-{os.getuid() if uid is None else uid}/tpjitd.sock"


def encode_frame(message, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> bytes:
    """A JSON-able object (or ready payload bytes) -> one frame; refuses payloads over the cap."""
    payload = message if isinstance(message, (bytes, bytearray)) else \
        json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(payload) > max_bytes:
        raise TpjitError("frame_too_large", f"payload of {len(payload)} bytes exceeds the "
                         f"{max_bytes}-byte frame cap", "send")
    return HEADER.pack(MAGIC, len(payload)) + payload


def _recv_exact(sock, n: int, what: str) -> bytes:
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise TpjitError("closed", f"connection closed after {got} of {n} bytes of {what}",
                             "receive")
        got += k
    return bytes(buf)


def read_frame(sock, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> bytes:
    """Reads one frame's payload; the length is checked against the cap before reading it."""
    magic, length = HEADER.unpack(_recv_exact(sock, HEADER.size, "a frame header"))
    if magic != MAGIC:
        raise TpjitError("bad_magic", f"frame starts with {magic!r}, expected {MAGIC!r}", "receive")
    if length > max_bytes:
        raise TpjitError("frame_too_large", f"frame announces {length} bytes, over the "
                         f"{max_bytes}-byte cap", "receive")
    return _recv_exact(sock, length, "a frame payload")


def decode_payload(payload: bytes) -> dict:
    try:
        value = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise TpjitError("bad_json", f"payload is not UTF-8 JSON: {e}", "receive") from None
    if not isinstance(value, dict):
        raise TpjitError("bad_json", f"payload is a JSON {type(value).__name__}, not an object",
                         "receive")
    return value


def load_graph(graph):
    """A graph dict, or a path to its JSON file -> dict."""
    if isinstance(graph, dict):
        return graph
    with open(os.fspath(graph), encoding="utf-8") as f:
        return json.load(f)


class Client:
    """One connection to tpjitd. Not thread-safe: one request at a time, replies in order."""

    def __init__(self, socket_path=None, timeout: float = 60.0, compile_timeout: float = 600.0,
                 max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES, sock=None):
        self.timeout, self.compile_timeout = timeout, compile_timeout
        self.max_frame_bytes = max_frame_bytes
        self.socket_path = socket_path or default_socket_path()
        self._ids = itertools.count(1)
        if sock is not None:          # an already connected stream socket (tests, socketpair)
            self._sock = sock
            return
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(self.socket_path)
        except OSError as e:
            self._sock.close()
            raise TpjitError("connect", f"cannot connect to tpjitd at {self.socket_path}: "
                             f"{e.strerror or e}; is tpjitd running?", self.socket_path) from None

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def call(self, type_: str, body=None, timeout=None) -> dict:
        """Sends one request and returns the reply body; raises TpjitError on error replies."""
        if self._sock is None:
            raise TpjitError("closed", "the client is closed", type_)
        request_id = next(self._ids)
        frame = encode_frame({"id": request_id, "type": type_, "body": body or {}},
                             self.max_frame_bytes)
        try:
            self._sock.settimeout(self.timeout if timeout is None else timeout)
            self._sock.sendall(frame)
            reply = decode_payload(read_frame(self._sock, self.max_frame_bytes))
        except socket.timeout:
            self.close()  # a late reply would pair with the next request
            raise TpjitError("timeout", f"no reply to {type_!r} within "
                             f"{self.timeout if timeout is None else timeout} s", type_) from None
        except TpjitError:
            self.close()  # the stream is out of step after a framing error
            raise
        except OSError as e:
            self.close()
            raise TpjitError("closed", f"connection failed during {type_!r}: {e}", type_) from None
        return self._unpack(reply, request_id, type_)

    def _unpack(self, reply: dict, request_id: int, type_: str) -> dict:
        if reply.get("ok") is False:
            err = reply.get("error") if isinstance(reply.get("error"), dict) else {}
            raise TpjitError(str(err.get("code", "unknown")), str(err.get("message", reply)),
                             str(err.get("where", "")))
        if reply.get("id") != request_id:
            self.close()
            raise TpjitError("id_mismatch", f"reply id {reply.get('id')!r} to request "
                             f"{request_id} ({type_})", type_)
        if reply.get("ok") is not True or not isinstance(reply.get("body", {}), dict):
            raise TpjitError("bad_reply", f"reply is neither ok nor an error: {reply!r}"[:500], type_)
        return reply.get("body", {})

    def hello(self, client: str = CLIENT_NAME) -> dict:
        """Protocol greeting -> {"protocol", "server", "capabilities"}."""
        return self.call("hello", {"protocol": PROTOCOL, "client": client})

    def compile(self, graph, m, archs=None, timeout=None) -> dict:
        """graph (dict or JSON path) + token counts -> the plan (regions, kernels, ...)."""
        body = {"graph": load_graph(graph), "m": [int(x) for x in m]}
        if archs:
            body["archs"] = list(archs)
        return self.call("compile", body, self.compile_timeout if timeout is None else timeout)

    def warmup(self, graph, m, archs=None, timeout=None) -> dict:
        """Compiles what compile would into the daemon's cache and returns the counts:
        {"graph", "m", "archs", "kernels", "compiled", "cache_hits", "tuned", "fused_regions",
        "compile_ms_total"} (docs/protocol.md, "warmup"). One token count per call gives a
        caller progress to show; several in one call are fine too."""
        body = {"graph": load_graph(graph), "m": [int(x) for x in m]}
        if archs:
            body["archs"] = list(archs)
        return self.call("warmup", body, self.compile_timeout if timeout is None else timeout)

    def run(self, graph, m, seed=None, inputs=None, outputs=None, check=False, iters=None,
            chunks=None, execution=None, timeout=None) -> dict:
        """Executes the plan on the daemon's GPUs (docs/protocol.md, "run") -> per-region
        execution, times and, with check, errors against the unfused and float64 references.
        inputs / outputs: directories of per-rank .npy files (sent as absolute paths);
        execution: "plan" (the daemon's default: as the plan chose), "fused", "unfused" or
        "unfused_cublaslt" (NCCL and cuBLASLt's GEMM)."""
        body = {"graph": load_graph(graph), "m": int(m)}
        if seed is not None:
            body["seed"] = int(seed)
        for key, path in (("inputs", inputs), ("outputs", outputs)):
            if path is not None:
                body[key] = os.path.abspath(path)
        if check:
            body["check"] = True
        for key, value in (("iters", iters), ("chunks", chunks)):
            if value is not None:
                body[key] = int(value)
        if execution is not None:
            body["execution"] = execution
        return self.call("run", body, self.compile_timeout if timeout is None else timeout)

    def stats(self) -> dict:
        return self.call("stats")

    def shutdown(self) -> dict:
        return self.call("shutdown")


def main(argv=None) -> int:
    """CLI: python3 -m tpjit_client [--socket P]
    {hello|stats|shutdown|compile GRAPH --m N ...|warmup GRAPH --m N ...|
     run GRAPH --m M [--check] [--execution E]}."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="tpjit_client", description="Talk to tpjitd.")
    ap.add_argument("--socket", help=f"socket path (default {default_socket_path()})")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("hello", "stats", "shutdown"):
        sub.add_parser(name)
    comp = sub.add_parser("compile", help="compile a tpjit.graph/1 file and print the plan")
    comp.add_argument("graph")
    comp.add_argument("--m", type=int, nargs="+", required=True, help="token counts")
    comp.add_argument("--arch", action="append", help="sm_90a or sm_100a (repeatable)")
    warm = sub.add_parser("warmup", help="compile a graph's kernels into the cache; print counts")
    warm.add_argument("graph")
    warm.add_argument("--m", type=int, nargs="+", required=True, help="token counts")
    warm.add_argument("--arch", action="append", help="sm_90a or sm_100a (repeatable)")
    run = sub.add_parser("run", help="execute the plan on the daemon's GPUs and print the result")
    run.add_argument("graph")
    run.add_argument("--m", type=int, required=True, help="token count")
    run.add_argument("--check", action="store_true", help="also check against the references")
    run.add_argument("--execution", choices=("plan", "fused", "unfused", "unfused_cublaslt"),
                     help="as the plan chose (default), or forced")
    args = ap.parse_args(argv)
    try:
        with Client(args.socket, timeout=args.timeout) as c:
            if args.cmd in ("compile", "warmup"):
                out = getattr(c, args.cmd)(args.graph, args.m, args.arch)
            elif args.cmd == "run":
                out = c.run(args.graph, args.m, check=args.check, execution=args.execution)
            else:
                out = getattr(c, args.cmd)()
    except (TpjitError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
