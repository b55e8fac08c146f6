#!/usr/bin/env python3
"""fakellm.py - a fake LLM provider for sutra's tests and benchmarks.

Serves both wire formats on 127.0.0.1 only:
  POST /v1/chat/completions, /chat/completions   OpenAI chat completions
  POST /v1/messages                                Anthropic Messages
streaming (SSE, chunked) and not, with tool calls and usage, and injects
faults on demand.  Tests script the next responses:

  fakellm.py serve PORTFILE          listen on a free port, write it to PORTFILE
  fakellm.py ctl PORT script JSON    queue steps: {"steps": [STEP...],
                                     "default": STEP} (default: every
                                     request once the queue is empty)
  fakellm.py ctl PORT log            the requests received (JSON list)
  fakellm.py ctl PORT stats          {"connections": N, "requests": N}
                                     (connections that carried chat requests)
  fakellm.py ctl PORT reset          forget steps, log and counters

A STEP is an object; every field is optional:
  status, error_type, error_code, message   an HTTP error in the format's shape
  headers {NAME: VALUE}                      extra response headers
  delay_ms       wait before the status line (slow first byte)
  text           the answer (default "echo: " + the last user message)
  tool_calls     [{id, name, arguments: TEXT}]
  usage          {input, output, cached}, or false to send none
  finish_reason, model
  reset          close the connection with a TCP RST instead of answering
  malformed      a 200 whose body is not JSON
  content_type   override the Content-Type
  chunk          streams: write N bytes at a time (split anywhere)
  event_delay_ms streams: pause between events
  stall_after, stall_ms   streams: go silent after N events for stall_ms
  truncate_after streams: drop the connection after N events
  error_after    streams: send the format's error event after N events
  error_event_type        its error type (default overloaded_error/server_error)
  no_done        streams: leave out [DONE] / message_stop
"""
import json
import os
import socket
import struct
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.steps = []
        self.default = {}
        self.log = []
        self.connections = 0
        self.requests = 0

    def next_step(self):
        with self.lock:
            self.requests += 1
            return self.steps.pop(0) if self.steps else dict(self.default)


STATE = State()


def last_user_text(body):
    for m in reversed(body.get("messages") or []):
        if m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                return c
            if isinstance(c, list):
                return " ".join(p.get("text", "") for p in c
                                if isinstance(p, dict) and
                                p.get("type") in ("text", "tool_result")
                                and isinstance(p.get("text", ""), str))
    return ""


def pieces(text, n=3):
    return [text[i:i + n] for i in range(0, len(text), n)] or []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakellm/1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn_id = None

    # ---- control ----
    def reply_json(self, obj, status=200):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_log":
            with STATE.lock:
                self.reply_json(STATE.log)
        elif self.path == "/_stats":
            with STATE.lock:
                self.reply_json({"connections": STATE.connections,
                                 "requests": STATE.requests})
        else:
            self.reply_json({"error": "not found"}, 404)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_POST(self):
        raw = self.read_body()
        if self.path == "/_script":
            spec = json.loads(raw or b"{}")
            with STATE.lock:
                STATE.steps.extend(spec.get("steps", []))
                if "default" in spec:
                    STATE.default = spec["default"]
            return self.reply_json({"ok": True})
        if self.path == "/_reset":
            with STATE.lock:
                STATE.reset()
            return self.reply_json({"ok": True})
        if self.path.endswith("/chat/completions"):
            fmt = "openai"
        elif self.path.endswith("/v1/messages"):
            fmt = "anthropic"
        else:
            return self.reply_json({"error": {"message": "no such path " +
                                              self.path}}, 404)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        with STATE.lock:
            # Only connections that carry provider requests count: the
            # control requests of the tests come on their own.
            if self.conn_id is None:
                STATE.connections += 1
                self.conn_id = STATE.connections
            STATE.log.append({
                "path": self.path, "conn": self.conn_id,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body if body is not None else raw.decode("latin-1"),
                "t": time.time()})
        step = STATE.next_step()
        self.answer(fmt, body if isinstance(body, dict) else {}, step)

    # ---- answers ----
    def answer(self, fmt, body, step):
        if step.get("delay_ms"):
            time.sleep(step["delay_ms"] / 1000.0)
        if step.get("reset"):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        status = step.get("status", 200)
        if status >= 400:
            return self.error(fmt, step, status)
        if step.get("malformed"):
            return self.raw(200, step.get("content_type", "application/json"),
                            b'{"choices": [ {"message": ', step)
        if body.get("stream"):
            return self.stream(fmt, body, step)
        obj = (self.openai_body if fmt == "openai" else
               self.anthropic_body)(body, step)
        ctype = step.get("content_type", "application/json")
        data = json.dumps(obj).encode()
        if "html" in ctype:
            data = b"<html><body>502 Bad Gateway</body></html>"
        self.raw(200, ctype, data, step)

    def raw(self, status, ctype, data, step):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (step.get("headers") or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(data)

    def error(self, fmt, step, status):
        msg = step.get("message", "injected error %d" % status)
        if fmt == "openai":
            err = {"message": msg,
                   "type": step.get("error_type", "server_error"),
                   "code": step.get("error_code")}
            obj = {"error": err}
        else:
            obj = {"type": "error",
                   "error": {"type": step.get("error_type", "api_error"),
                             "message": msg}}
        self.raw(status, "application/json", json.dumps(obj).encode(), step)

    @staticmethod
    def reply(body, step):
        text = step.get("text")
        if text is None:
            text = "echo: " + last_user_text(body)
        usage = step.get("usage", {"input": 10, "output": 5, "cached": 0})
        return text, step.get("tool_calls") or [], usage

    def openai_body(self, body, step):
        text, calls, usage = self.reply(body, step)
        msg = {"role": "assistant", "content": text if text or not calls
               else None}
        if calls:
            msg["tool_calls"] = [{"id": c.get("id", "call_%d" % i),
                                  "type": "function",
                                  "function": {"name": c["name"],
                                               "arguments": c["arguments"]}}
                                 for i, c in enumerate(calls)]
        fr = step.get("finish_reason", "tool_calls" if calls else "stop")
        obj = {"id": "chatcmpl-1", "object": "chat.completion",
               "model": step.get("model", body.get("model")),
               "choices": [{"index": 0, "message": msg,
                            "finish_reason": fr}]}
        if usage:
            obj["usage"] = {"prompt_tokens": usage["input"],
                            "completion_tokens": usage["output"],
                            "total_tokens": usage["input"] + usage["output"],
                            "prompt_tokens_details":
                                {"cached_tokens": usage.get("cached", 0)}}
        return obj

    def anthropic_body(self, body, step):
        text, calls, usage = self.reply(body, step)
        content = [{"type": "text", "text": text}] if text else []
        for i, c in enumerate(calls):
            try:
                inp = json.loads(c["arguments"])
            except ValueError:
                inp = {}
            content.append({"type": "tool_use", "id": c.get("id", "tu_%d" % i),
                            "name": c["name"], "input": inp})
        obj = {"id": "msg_1", "type": "message", "role": "assistant",
               "model": step.get("model", body.get("model")),
               "content": content,
               "stop_reason": step.get("finish_reason",
                                       "tool_use" if calls else "end_turn")}
        if usage:
            obj["usage"] = {"input_tokens": usage["input"] -
                            usage.get("cached", 0),
                            "cache_read_input_tokens": usage.get("cached", 0),
                            "output_tokens": usage["output"]}
        return obj

    # ---- streams ----
    def openai_events(self, body, step):
        text, calls, usage = self.reply(body, step)
        model = step.get("model", body.get("model"))

        def chunk(delta, fr=None):
            return {"id": "c1", "object": "chat.completion.chunk",
                    "model": model, "choices": [
                        {"index": 0, "delta": delta, "finish_reason": fr}]}
        ev = [chunk({"role": "assistant", "content": ""})]
        ev += [chunk({"content": p}) for p in pieces(text)]
        for i, c in enumerate(calls):
            a = c["arguments"]
            h = len(a) // 2
            ev.append(chunk({"tool_calls": [{
                "index": i, "id": c.get("id", "call_%d" % i),
                "type": "function",
                "function": {"name": c["name"], "arguments": a[:h]}}]}))
            ev.append(chunk({"tool_calls": [{
                "index": i, "function": {"arguments": a[h:]}}]}))
        ev.append(chunk({}, step.get("finish_reason",
                                     "tool_calls" if calls else "stop")))
        inc = (body.get("stream_options") or {}).get("include_usage")
        if usage and inc:
            ev.append({"id": "c1", "choices": [], "usage": {
                "prompt_tokens": usage["input"],
                "completion_tokens": usage["output"],
                "prompt_tokens_details": {"cached_tokens":
                                          usage.get("cached", 0)}}})
        out = [(None, json.dumps(e)) for e in ev]
        if not step.get("no_done"):
            out.append((None, "[DONE]"))
        return out

    def anthropic_events(self, body, step):
        text, calls, usage = self.reply(body, step)
        usage = usage or {"input": 0, "output": 0, "cached": 0}
        ev = [("message_start", {"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant",
            "model": step.get("model", body.get("model")), "content": [],
            "usage": {"input_tokens": usage["input"] - usage.get("cached", 0),
                      "cache_read_input_tokens": usage.get("cached", 0),
                      "output_tokens": 1}}}),
            ("ping", {"type": "ping"})]
        idx = 0
        if text:
            ev.append(("content_block_start", {"type": "content_block_start",
                       "index": 0, "content_block": {"type": "text",
                                                     "text": ""}}))
            ev += [("content_block_delta", {"type": "content_block_delta",
                    "index": 0, "delta": {"type": "text_delta", "text": p}})
                   for p in pieces(text)]
            ev.append(("content_block_stop", {"type": "content_block_stop",
                                              "index": 0}))
            idx = 1
        for i, c in enumerate(calls):
            a = c["arguments"]
            h = len(a) // 2
            ev.append(("content_block_start", {
                "type": "content_block_start", "index": idx + i,
                "content_block": {"type": "tool_use",
                                  "id": c.get("id", "tu_%d" % i),
                                  "name": c["name"], "input": {}}}))
            for part in (a[:h], a[h:]):
                ev.append(("content_block_delta", {
                    "type": "content_block_delta", "index": idx + i,
                    "delta": {"type": "input_json_delta",
                              "partial_json": part}}))
            ev.append(("content_block_stop", {"type": "content_block_stop",
                                              "index": idx + i}))
        ev.append(("message_delta", {"type": "message_delta", "delta": {
            "stop_reason": step.get("finish_reason",
                                    "tool_use" if calls else "end_turn")},
            "usage": {"output_tokens": usage["output"]}}))
        if not step.get("no_done"):
            ev.append(("message_stop", {"type": "message_stop"}))
        return [(n, json.dumps(d)) for n, d in ev]

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def stream(self, fmt, body, step):
        events = (self.openai_events if fmt == "openai" else
                  self.anthropic_events)(body, step)
        self.send_response(200)
        self.send_header("Content-Type",
                         step.get("content_type", "text/event-stream"))
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        for k, v in (step.get("headers") or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.flush()
        size = step.get("chunk")
        for n, (name, data) in enumerate(events):
            if n == step.get("error_after"):
                self.send_error_event(fmt, step, size)
                return self.end_stream()
            if n == step.get("truncate_after"):
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if n == step.get("stall_after"):
                time.sleep(step.get("stall_ms", 5000) / 1000.0)
            text = ("event: %s\n" % name if name else "") + \
                "data: %s\n\n" % data
            self.send_bytes(text.encode(), size)
            if step.get("event_delay_ms"):
                time.sleep(step["event_delay_ms"] / 1000.0)
        self.end_stream()

    def send_bytes(self, data, size):
        if not size:
            return self.write_chunk(data)
        for i in range(0, len(data), size):
            self.write_chunk(data[i:i + size])

    def send_error_event(self, fmt, step, size):
        if fmt == "openai":
            t = step.get("error_event_type", "server_error")
            text = "data: %s\n\n" % json.dumps(
                {"error": {"message": "injected stream error", "type": t}})
        else:
            t = step.get("error_event_type", "overloaded_error")
            text = "event: error\ndata: %s\n\n" % json.dumps(
                {"type": "error", "error": {"type": t,
                                            "message": "Overloaded"}})
        self.send_bytes(text.encode(), size)

    def end_stream(self):
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # Clients that hang up on purpose (timeouts, cancel) are part of
        # the tests, not errors worth a traceback.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError,
                                              ConnectionResetError)):
            super().handle_error(request, client_address)


def serve(port_file):
    srv = Server(("127.0.0.1", 0), Handler)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, port_file)
    srv.serve_forever(poll_interval=0.05)


def ctl(port, what, arg=None):
    url = "http://127.0.0.1:%d/" % int(port)
    if what == "script":
        req = urllib.request.Request(url + "_script", data=arg.encode(),
                                     method="POST")
    elif what == "reset":
        req = urllib.request.Request(url + "_reset", data=b"{}",
                                     method="POST")
    else:
        req = urllib.request.Request(url + "_" + what)
    with urllib.request.urlopen(req, timeout=10) as r:
        sys.stdout.write(r.read().decode() + "\n")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "serve":
        serve(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "ctl":
        ctl(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4
            else None)
    else:
        sys.exit(__doc__)
