#!/usr/bin/env python3
"""Drives `kestrel mcp` with the official Python MCP client (PyPI `mcp`) and with raw bytes.

Usage: mcp-client-check.py KESTREL_EXECUTABLE [--transport blocking|sdk]

1. Client session: initialize, list tools, call every tool with valid arguments and validate each
   structuredContent against the tool's outputSchema (jsonschema, Draft 2020-12), read the
   resources, cancel a long benchmark_run after its first progress notification.
2. Raw JSON-RPC over pipes: malformed JSON, unknown method, unknown tool, arguments violating the
   schema, a 10 MB request line, EOF in the middle of a request, a client that disappears. Each
   must give the JSON-RPC error code of the specification (or end cleanly), the server must keep
   serving, and its memory must stay bounded.
Exits non-zero on the first failure, printing what differed.
"""
import asyncio
import json
import os
import select
import subprocess
import sys
import tempfile
import time

import jsonschema
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client

KESTREL = os.path.abspath(sys.argv[1])
TRANSPORT = sys.argv[sys.argv.index("--transport") + 1] if "--transport" in sys.argv else "blocking"
STATE = tempfile.mkdtemp(prefix="kestrel-mcp-check-")
TOKEN_LOG = os.path.join(STATE, "tokens.jsonl")

# Valid arguments for every tool the server may list (a listed tool missing here fails the check).
SAMPLES = {
    "kernel_info": {"roofline": "skip"},
    "benchmark_run": {"case": "memory.f16-storage-reduction", "quick": True, "save_baseline": "check"},
    "bottleneck_analyze": {"component": "scan", "dim": 64, "count": 2000, "calls": 20, "metrics": ["latency", "cpu"]},
    "token_usage": {"path": TOKEN_LOG},
    "quantize_report": {"format": "q4_0", "generate": {"rows": 8, "cols": 64, "seed": 3}},
    "metrics_store": {"namespace": "mcp-check", "key": "latency_ms", "value": 1.5, "ttl_seconds": 3600},
    "metrics_query": {"namespace": "mcp-check"},
    "performance_report": {"format": "json", "timeframe": "all"},
    "index_build": {"name": "mcp-check", "path": os.path.join(STATE, "vectors.fvecs"), "kind": "hnsw"},
    "index_search": {"name": "mcp-check", "query": [0.1] * 16, "k": 3},
}
ORDER = ["kernel_info", "benchmark_run", "bottleneck_analyze", "token_usage", "quantize_report",
         "metrics_store", "metrics_query", "performance_report", "index_build", "index_search"]


def fail(message):
    print(f"mcp-client-check: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def server_args():
    return ["mcp", "--transport", TRANSPORT, "--state-dir", STATE, "--db", os.path.join(STATE, "history.sqlite")]


async def client_session_checks():
    import random
    import struct
    rng = random.Random(1)
    with open(os.path.join(STATE, "vectors.fvecs"), "wb") as f:  # 500 vectors of 16 floats, .fvecs layout
        for _ in range(500):
            f.write(struct.pack("<i", 16) + struct.pack("<16f", *[rng.uniform(-1, 1) for _ in range(16)]))
    with open(TOKEN_LOG, "w") as f:
        for op, i, o, c in [("plan", 1500, 80, 0), ("plan", 1500, 60, 1200), ("edit", 400, 300, 0)]:
            f.write(json.dumps({"operation": op, "input_tokens": i, "output_tokens": o, "cache_read_input_tokens": c}) + "\n")
    params = StdioServerParameters(command=KESTREL, args=server_args())
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            t0 = time.monotonic()
            init = await session.initialize()
            if init.serverInfo.name != "kestrel":
                fail(f"serverInfo.name is {init.serverInfo.name!r}")
            print(f"mcp-client-check: initialize answered ({(time.monotonic() - t0) * 1000:.1f} ms after the session began)")
            tools = (await session.list_tools()).tools
            names = [t.name for t in tools]
            print(f"mcp-client-check: {len(tools)} tools: {', '.join(names)}")
            for required in ["benchmark_run", "bottleneck_analyze", "kernel_info", "token_usage", "quantize_report"]:
                if required not in names:
                    fail(f"tool {required} not listed")
            by_name = {t.name: t for t in tools}
            for name in sorted(names, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER)):
                tool = by_name[name]
                if name not in SAMPLES:
                    fail(f"no sample arguments for listed tool {name}")
                jsonschema.Draft202012Validator.check_schema(tool.inputSchema)
                jsonschema.validate(SAMPLES[name], tool.inputSchema)
                if tool.outputSchema is None:
                    fail(f"{name} has no outputSchema")
                jsonschema.Draft202012Validator.check_schema(tool.outputSchema)
                t0 = time.monotonic()
                result = await session.call_tool(name, SAMPLES[name])
                took = (time.monotonic() - t0) * 1000
                if result.isError:
                    fail(f"{name} returned an error: {result.content}")
                try:
                    jsonschema.validate(result.structuredContent, tool.outputSchema)
                except jsonschema.ValidationError as e:
                    fail(f"{name}: structuredContent violates its outputSchema: {e.message} at {list(e.absolute_path)}")
                print(f"mcp-client-check: {name}: valid against its outputSchema ({took:.1f} ms)")

            report = (await session.call_tool("benchmark_run", SAMPLES["benchmark_run"])).structuredContent
            if [r["name"] for r in report["results"]] != ["memory.f16-storage-reduction"] or report["schemaVersion"] != 1:
                fail(f"benchmark_run report: {report['results']}")
            tokens = (await session.call_tool("token_usage", SAMPLES["token_usage"])).structuredContent
            if tokens["totals"]["inputTokens"] != 3400 or tokens["totals"]["cachedInputTokens"] != 1200 or tokens["records"] != 3:
                fail(f"token_usage totals: {tokens['totals']}")

            uris = [str(r.uri) for r in (await session.list_resources()).resources]
            for uri in ["kestrel://reports/last", "kestrel://baselines/check"]:
                if uri not in uris:
                    fail(f"resource {uri} not listed ({uris})")
                contents = (await session.read_resource(uri)).contents
                if json.loads(contents[0].text)["schemaVersion"] != 1:
                    fail(f"resource {uri} is not a report")
            print(f"mcp-client-check: resources: {', '.join(uris)}")

            # Cancel a long run after its first progress notification.
            os.remove(os.path.join(STATE, "last-report.json"))
            first_progress = asyncio.Event()

            async def on_progress(progress, total, message):
                first_progress.set()

            request_id = session._request_id  # the id the next request gets (ClientSession numbers them)
            long_run = asyncio.create_task(session.call_tool("benchmark_run", {"suite": "all"}, progress_callback=on_progress))
            await asyncio.wait_for(first_progress.wait(), 60)
            await session.send_notification(types.ClientNotification(types.CancelledNotification(
                method="notifications/cancelled", params=types.CancelledNotificationParams(requestId=request_id, reason="check"))))
            t0 = time.monotonic()
            info = await session.call_tool("kernel_info", {"roofline": "skip"})
            if info.isError:
                fail("kernel_info after the cancellation failed")
            answered = (time.monotonic() - t0) * 1000
            await asyncio.sleep(3)
            if long_run.done():
                fail("the cancelled benchmark_run answered")
            long_run.cancel()
            if os.path.exists(os.path.join(STATE, "last-report.json")):
                fail("the cancelled benchmark_run wrote a report")
            print(f"mcp-client-check: benchmark_run cancelled after its first progress notification; "
                  f"kernel_info answered in {answered:.1f} ms meanwhile; no report written 3 s later")


class Raw:
    """`kestrel mcp` on raw pipes."""

    def __init__(self):
        self.p = subprocess.Popen([KESTREL] + server_args(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL)
        self.buf = b""

    def send(self, data):
        self.p.stdin.write(data if isinstance(data, bytes) else (data + "\n").encode())
        self.p.stdin.flush()

    def line(self, timeout=60):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.p.stdout], [], [], left)[0]:
                fail("no answer within the timeout")
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def response(self):
        while True:
            msg = self.line()
            if msg is None:
                fail("server output ended")
            if "id" in msg:
                return msg

    def request(self, rid, method, params=None):
        self.send(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}}))
        r = self.response()
        if r.get("id") != rid:
            fail(f"response id {r.get('id')} for request {rid}")
        return r

    def rss_kib(self):
        with open(f"/proc/{self.p.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def wait(self, timeout):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            fail(f"server still running {timeout} s after its client went")


def expect_error(r, code, what):
    got = r.get("error", {}).get("code")
    if got != code:
        fail(f"{what}: expected error {code}, got {r}")
    print(f"mcp-client-check: {what}: error {code} ({r['error']['message'][:70]})")


def raw_checks():
    s = Raw()
    s.request(0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}})
    s.send('{"jsonrpc":"2.0","method":"notifications/initialized"}')
    s.send("{this is not json")
    r = s.response()
    expect_error(r, -32700, "malformed JSON")
    if r["id"] is not None:
        if TRANSPORT == "blocking":
            fail(f"a parse error must have id null, got {r['id']}")
        print(f"mcp-client-check: deviation of the SDK transport: the parse error has id {r['id']!r}, not null")
    expect_error(s.request(1, "no/such/method"), -32601, "unknown method")
    expect_error(s.request(2, "tools/call", {"name": "no_such_tool", "arguments": {}}), -32602, "unknown tool")
    expect_error(s.request(3, "tools/call", {"name": "kernel_info", "arguments": {"roofline": 7}}), -32602, "argument of the wrong type")
    expect_error(s.request(4, "tools/call", {"name": "bottleneck_analyze", "arguments": {"component": "scan", "calls": 0}}),
                 -32602, "argument below its minimum")
    before = s.rss_kib()
    if TRANSPORT == "blocking":
        s.send(b'{"jsonrpc":"2.0","id":5,"method":"ping","params":{"pad":"' + b"x" * 10_000_000 + b'"}}\n')
        expect_error(s.response(), -32600, "10 MB request line")
        grew = s.rss_kib() - before
        if grew > 16 * 1024:
            fail(f"RSS grew by {grew} KiB after a 10 MB line (cap 4 MiB)")
        print(f"mcp-client-check: RSS grew by {grew} KiB over the 10 MB line")
    if "result" not in s.request(6, "ping"):
        fail("no ping result after the bad input")
    if "result" not in s.request(7, "tools/call", {"name": "kernel_info", "arguments": {}}):
        fail("kernel_info failed after the bad input")
    print("mcp-client-check: still serving after the bad input")
    # EOF in the middle of a request.
    s.send(b'{"jsonrpc":"2.0","id":8,"method":"tools/li')
    s.p.stdin.close()
    if TRANSPORT == "blocking":
        expect_error(s.response(), -32700, "EOF mid-request")
    if s.wait(30) != 0:
        fail(f"exit status {s.p.returncode} after EOF")
    print("mcp-client-check: exit status 0 after EOF in the middle of a request")

    # A client that disappears during a long call.
    s = Raw()
    s.request(0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}})
    s.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                       "params": {"name": "benchmark_run", "arguments": {"suite": "all"}, "_meta": {"progressToken": 1}}}))
    s.line()  # its first progress notification: the run has started
    t0 = time.monotonic()
    s.p.stdin.close()
    s.p.stdout.close()
    status = s.wait(60)
    if status != 0:
        fail(f"exit status {status} after the client went")
    print(f"mcp-client-check: client gone mid-run: server exited with status {status} after {time.monotonic() - t0:.1f} s")


def main():
    print(f"mcp-client-check: {KESTREL} mcp --transport {TRANSPORT}")
    asyncio.run(client_session_checks())
    raw_checks()
    print("mcp-client-check: passed")


if __name__ == "__main__":
    main()
