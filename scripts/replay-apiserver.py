#!/usr/bin/env python3
"""A replay Kubernetes API server for the demo: the API server's recorded answers, on a Unix socket.

    scripts/replay-apiserver.py SOCKET FIXTURES [STATE]

Lists come from FIXTURES (the test fixtures: the lab's Nodes in two pages, metrics-server's APIService and
EndpointSlice on node-b's pod, webhooks, a namespace stuck Terminating). Watches stay open a second and end
with no event (clients watch again), except that once the file STATE/route-controller-speaks exists, the
Events watch delivers node-b's FailedToCreateRoute. POSTs (Events) are answered 201, PATCHes (node status)
200, and both are appended to STATE/requests.log. No network: only the socket file.
"""
import datetime
import json
import os
import socketserver
import sys
import time
from http.server import BaseHTTPRequestHandler

SOCKET, FIXTURES = sys.argv[1], sys.argv[2]
STATE = sys.argv[3] if len(sys.argv) > 3 else os.path.dirname(SOCKET)
EMPTY = '{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}'
LISTS = [("/api/v1/nodes", None), ("/apis/apiregistration.k8s.io/", "apiservices-list.json"),
         ("/apis/discovery.k8s.io/", "endpointslices-list.json"),
         ("/apis/admissionregistration.k8s.io/v1/validating", "validatingwebhooks-list.json"),
         ("/apis/admissionregistration.k8s.io/v1/mutating", "mutatingwebhooks-list.json"),
         ("/api/v1/namespaces", "namespace-terminating.json")]
delivered = False


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as file:
        return file.read()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def address_string(self):
        return "replay"

    def answer(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        global delivered
        path, _, query = self.path.partition("?")
        if "watch=1" in query:
            if path == "/api/v1/events" and not delivered and os.path.exists(os.path.join(STATE, "route-controller-speaks")):
                delivered = True
                stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                event = {"type": "ADDED", "object": {
                    "metadata": {"name": "node-b.17f2a9c1d4e5b6a7", "namespace": "default", "resourceVersion": "90001"},
                    "involvedObject": {"kind": "Node", "name": "node-b"}, "reason": "FailedToCreateRoute",
                    "message": "Could not create route 172.16.1.0/24 for node node-b: RouteTableLimitExceeded",
                    "source": {"component": "route_controller"}, "firstTimestamp": stamp, "lastTimestamp": stamp,
                    "count": 1, "type": "Warning"}}
                return self.answer(200, json.dumps(event) + "\n")
            time.sleep(1)
            return self.answer(200, "")
        for prefix, name in LISTS:
            if path.startswith(prefix):
                if name is None:
                    name = "nodes-list-page2.json" if "continue=" in query else "nodes-list-page1.json"
                return self.answer(200, fixture(name))
        return self.answer(200, EMPTY)

    def record(self, status):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode(errors="replace")
        with open(os.path.join(STATE, "requests.log"), "a") as log:
            log.write("%s %s %s\n" % (self.command, self.path, body))
        self.answer(status, "{}")

    def do_POST(self):
        self.record(201)

    def do_PATCH(self):
        self.record(200)


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


if os.path.exists(SOCKET):
    os.unlink(SOCKET)
with Server(SOCKET, Handler) as server:
    server.serve_forever()
