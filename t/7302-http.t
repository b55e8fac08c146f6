#!/bin/sh
# ctx.http.fetch: only for agents granted `http`, only to the hosts their
# manifest lists, http(s) only, no redirects followed, bounded.  Traffic
# goes to a server on 127.0.0.1 that this test starts.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

command -v python3 >/dev/null || skip_all "python3 not available"
mkdir www
printf '{"greeting": "hello"}' > www/data.json
head -c 300000 /dev/zero | tr '\0' a > www/big.txt
cat > server.py <<'PY'
import http.server, socketserver, sys, time
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path == "/moved":
            self.send_response(302); self.send_header("Location", "http://127.0.0.2/x"); self.end_headers(); return
        if self.path == "/slow":
            time.sleep(3)
        return super().do_GET()
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Seen", self.headers.get("X-Token", ""))
        self.end_headers()
        self.wfile.write(b'{"got": ' + body + b'}')
socketserver.TCPServer.allow_reuse_address = True
with socketserver.ThreadingTCPServer(("127.0.0.1", 0), H) as s:
    open(sys.argv[1], "w").write(str(s.server_address[1]))
    s.serve_forever()
PY
(cd www && exec python3 ../server.py "$TEST_DIR/port") &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do [ -s "$TEST_DIR/port" ] && break; sleep 0.05; done
PORT=$(cat "$TEST_DIR/port")

mkagent fetcher 'return { run = function(input, ctx) return ctx.http.fetch(input) end }' http
printf 'hosts: ["127.0.0.1"]\n' >> catalog/fetcher/agent.yaml

sutra agent run fetcher --input "{\"url\":\"http://127.0.0.1:$PORT/data.json\"}"
is "$rc" 0 "an agent granted http fetches from a listed host"
like "$out" '"status":200' "with the status"
like "$out" '"json":\{"greeting":"hello"\}' "and the body parsed as JSON"

sutra agent run fetcher --input "{\"url\":\"http://127.0.0.1:$PORT/post\",\"body\":{\"a\":1},\"headers\":{\"X-Token\":\"t1\"}}"
like "$out" '"status":201' "a JSON body is POSTed"
like "$out" '"json":\{"got":\{"a":1\}\}' "as JSON"
like "$out" '"x-seen":"t1"' "with the request headers, and response headers in lower case"

sutra agent run fetcher --input "{\"url\":\"http://localhost:$PORT/data.json\"}"
is "$rc" 1 "a host the manifest does not list is refused"
like "$err" "host 'localhost' is not in the 'hosts' of .*fetcher/agent.yaml" "naming the manifest"

sutra agent run fetcher --input '{"url":"file:///etc/passwd"}'
like "$err" "scheme 'file' is not allowed" "only http and https"

sutra agent run fetcher --input "{\"url\":\"http://127.0.0.1:$PORT/moved\"}"
like "$out" '"status":302' "redirects are not followed"

sutra agent run fetcher --input "{\"url\":\"http://127.0.0.1:$PORT/big.txt\",\"max_bytes\":1000}"
like "$err" "larger than 1000 bytes" "responses are bounded"

start=$(date +%s%N)
sutra agent run fetcher --input "{\"url\":\"http://127.0.0.1:$PORT/slow\"}" --timeout 300ms
end=$(date +%s%N)
is "$rc" 1 "a slow response is stopped at the deadline"
ok "promptly" test $(( (end - start) / 1000000 )) -lt 2000

mkagent nohttp 'return { run = function(input, ctx) return ctx.http.fetch(input) end }'
sutra agent run nohttp --input "{\"url\":\"http://127.0.0.1:$PORT/data.json\"}"
like "$err" "permission 'http' not granted" "without the permission there is no ctx.http"

done_testing
