"""tpjit_client against a fake tpjitd on a socketpair or a temporary Unix socket (stdlib only)."""
import json
import os
import socket
import struct
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tools", "python"))

import tpjit_client as tc  # noqa: E402


class FakeServer:
    """Reads request frames and answers each with handler(request) -> dict or raw bytes."""

    def __init__(self, handler, sock):
        self.handler, self.sock, self.requests = handler, sock, []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            while True:
                request = json.loads(tc.read_frame(self.sock).decode("utf-8"))
                self.requests.append(request)
                reply = self.handler(request)
                if reply is None:
                    continue  # no answer at all
                self.sock.sendall(reply if isinstance(reply, bytes) else tc.encode_frame(reply))
        except (tc.TpjitError, OSError):
            pass  # the client closed or the test sent garbage on purpose
        finally:
            self.sock.close()

    def join(self):
        self.thread.join(timeout=10)


def ok(request, body):
    return {"id": request["id"], "ok": True, "body": body}


class ClientOverSocketpair(unittest.TestCase):
    def start(self, handler, **client_args):
        a, b = socket.socketpair()
        self.server = FakeServer(handler, b)
        self.client = tc.Client(sock=a, **client_args)
        self.addCleanup(self.client.close)
        return self.client

    def test_hello_round_trip(self):
        c = self.start(lambda r: ok(r, {"protocol": 1, "server": "fake 0.1",
                                        "capabilities": {"requests": ["hello"]}}))
        body = c.hello()
        self.assertEqual(body["server"], "fake 0.1")
        req = self.server.requests[0]
        self.assertEqual(req["type"], "hello")
        self.assertEqual(req["body"], {"protocol": 1, "client": tc.CLIENT_NAME})
        self.assertIsInstance(req["id"], int)

    def test_compile_sends_graph_file_and_token_counts(self):
        graph = {"format": "tpjit.graph/1", "name": "g", "nodes": []}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(graph, f)
        self.addCleanup(os.unlink, f.name)
        c = self.start(lambda r: ok(r, {"graph": r["body"]["graph"]["name"], "m": r["body"]["m"]}))
        plan = c.compile(f.name, m=[128, 2048], archs=["sm_90a"])
        self.assertEqual(plan, {"graph": "g", "m": [128, 2048]})
        body = self.server.requests[0]["body"]
        self.assertEqual(body["graph"], graph)
        self.assertEqual(body["archs"], ["sm_90a"])

    def test_warmup_sends_what_compile_does_under_its_own_type(self):
        graph = {"format": "tpjit.graph/1", "name": "g", "nodes": []}
        c = self.start(lambda r: ok(r, {"graph": "g", "kernels": 2, "compiled": 2}))
        self.assertEqual(c.warmup(graph, m=[16], archs=["sm_90a"])["compiled"], 2)
        req = self.server.requests[0]
        self.assertEqual(req["type"], "warmup")
        self.assertEqual(req["body"], {"graph": graph, "m": [16], "archs": ["sm_90a"]})

    def test_run_sends_the_options_it_is_given(self):
        graph = {"format": "tpjit.graph/1", "name": "g", "nodes": []}
        c = self.start(lambda r: ok(r, {"graph": r["body"]["graph"]["name"], "m": r["body"]["m"]}))
        self.assertEqual(c.run(graph, m=4096), {"graph": "g", "m": 4096})
        self.assertEqual(self.server.requests[0]["type"], "run")
        self.assertEqual(self.server.requests[0]["body"], {"graph": graph, "m": 4096})
        c.run(graph, m=2048, inputs="in", outputs="out", check=True, iters=3, chunks=2,
              execution="unfused")
        body = self.server.requests[1]["body"]
        self.assertEqual(body["inputs"], os.path.abspath("in"))  # the daemon wants absolute
        self.assertEqual(body["outputs"], os.path.abspath("out"))
        self.assertEqual((body["check"], body["iters"], body["chunks"], body["execution"]),
                         (True, 3, 2, "unfused"))

    def test_request_ids_increase_and_replies_match(self):
        c = self.start(lambda r: ok(r, {"echo": r["id"]}))
        got = [c.stats()["echo"] for _ in range(3)]
        self.assertEqual(got, [1, 2, 3])
        self.assertEqual([r["id"] for r in self.server.requests], [1, 2, 3])

    def test_wrong_reply_id_is_refused(self):
        c = self.start(lambda r: {"id": r["id"] + 7, "ok": True, "body": {}})
        with self.assertRaises(tc.TpjitError) as cm:
            c.stats()
        self.assertEqual(cm.exception.code, "id_mismatch")

    def test_error_reply_raises_with_fields(self):
        err = {"code": "graph.bad_shape", "message": "K mismatch: 8192 vs 4096",
               "where": "nodes[1] 'qkv_proj'"}
        c = self.start(lambda r: {"id": r["id"], "ok": False, "error": err}
                       if r["type"] == "compile" else ok(r, {"fine": True}))
        with self.assertRaises(tc.TpjitError) as cm:
            c.compile({"name": "g"}, m=[128])
        e = cm.exception
        self.assertEqual((e.code, e.message, e.where), (err["code"], err["message"], err["where"]))
        self.assertIn("K mismatch", str(e))
        self.assertEqual(c.stats(), {"fine": True})  # an error reply leaves the connection usable

    def test_oversize_reply_refused_before_reading_payload(self):
        # Only the header is sent: a client that trusted the length would block on the payload.
        c = self.start(lambda r: struct.pack(">4sI", b"TPJF", 2048), max_frame_bytes=1024,
                       timeout=30)
        with self.assertRaises(tc.TpjitError) as cm:
            c.stats()
        self.assertEqual(cm.exception.code, "frame_too_large")
        self.assertIsNone(c._sock)  # closed: the stream is out of step

    def test_oversize_request_refused_before_sending(self):
        c = self.start(lambda r: ok(r, {}), max_frame_bytes=64)
        with self.assertRaises(tc.TpjitError) as cm:
            c.call("compile", {"graph": {"pad": "x" * 100}})
        self.assertEqual(cm.exception.code, "frame_too_large")
        self.assertEqual(self.server.requests, [])

    def test_bad_magic(self):
        c = self.start(lambda r: b"JUNK" + struct.pack(">I", 2) + b"{}")
        with self.assertRaises(tc.TpjitError) as cm:
            c.hello()
        self.assertEqual(cm.exception.code, "bad_magic")

    def test_payload_not_json(self):
        c = self.start(lambda r: struct.pack(">4sI", b"TPJF", 3) + b"\xff{}")
        with self.assertRaises(tc.TpjitError) as cm:
            c.hello()
        self.assertEqual(cm.exception.code, "bad_json")

    def test_server_closes_mid_frame(self):
        def half(r):
            self.server.sock.sendall(struct.pack(">4sI", b"TPJF", 100) + b"{\"id\"")
            self.server.sock.shutdown(socket.SHUT_WR)
            return None
        c = self.start(half)
        with self.assertRaises(tc.TpjitError) as cm:
            c.stats()
        self.assertEqual(cm.exception.code, "closed")

    def test_timeout_when_no_reply(self):
        c = self.start(lambda r: None, timeout=0.2)
        with self.assertRaises(tc.TpjitError) as cm:
            c.stats()
        self.assertEqual(cm.exception.code, "timeout")
        with self.assertRaises(tc.TpjitError) as cm:
            c.stats()  # a timed-out connection is closed, never reused
        self.assertEqual(cm.exception.code, "closed")


class FramingFunctions(unittest.TestCase):
    def test_encode_layout(self):
        frame = tc.encode_frame({"a": "é"})
        payload = json.dumps({"a": "é"}, separators=(",", ":"), ensure_ascii=False).encode()
        self.assertEqual(frame[:4], b"TPJF")
        self.assertEqual(struct.unpack(">I", frame[4:8])[0], len(payload))
        self.assertEqual(frame[8:], payload)

    def test_read_frame_round_trip(self):
        a, b = socket.socketpair()
        with a, b:
            a.sendall(tc.encode_frame({"id": 5, "ok": True, "body": {"x": [1, 2]}}))
            self.assertEqual(tc.decode_payload(tc.read_frame(b)),
                             {"id": 5, "ok": True, "body": {"x": [1, 2]}})

    def test_default_socket_path(self):
        self.assertEqual(tc.default_socket_path({"XDG_RUNTIME_DIR": "/run/user/7"}, 7),
                         "/run/user/7/tpjit/tpjitd.sock")
        self.assertEqual(tc.default_socket_path({}, 1234), "/tmp/tpjit-1234/tpjitd.sock")
        self.assertEqual(tc.default_socket_path({"XDG_RUNTIME_DIR": ""}, 9),
                         "/tmp/tpjit-9/tpjitd.sock")


class ClientOverUnixSocket(unittest.TestCase):
    def test_connect_by_path_and_context_manager(self):
        d = tempfile.mkdtemp()
        self.addCleanup(os.rmdir, d)
        path = os.path.join(d, "tpjitd.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        self.addCleanup(os.unlink, path)
        listener.listen(1)
        servers = []

        def accept():
            conn, _ = listener.accept()
            servers.append(FakeServer(lambda r: ok(r, {"protocol": 1, "server": "unix"}), conn))

        t = threading.Thread(target=accept, daemon=True)
        t.start()
        with tc.Client(path, timeout=10) as c:
            self.assertEqual(c.hello()["server"], "unix")
        t.join(timeout=10)
        listener.close()
        self.assertIsNone(c._sock)
        servers[0].join()

    def test_connect_failure_names_the_path(self):
        path = os.path.join(tempfile.gettempdir(), f"tpjit-no-such-{os.getpid()}.sock")
        with self.assertRaises(tc.TpjitError) as cm:
            tc.Client(path, timeout=1)
        self.assertEqual(cm.exception.code, "connect")
        self.assertIn(path, str(cm.exception))


if __name__ == "__main__":
    unittest.main()
