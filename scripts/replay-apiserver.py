#!/usr/bin/env python3
"""A replay Kubernetes API server for the demo: the API server's recorded answers, on a Unix socket.

    scripts/replay-apiserver.py SOCKET FIXTURES [STATE]

Lists come from FIXTURES (the test fixtures: the lab's Nodes in two pages, metrics-server's APIService and
EndpointSlice on node-b's pod, webhooks, a namespace stuck Terminating). Watches stay open a second and end
with no event (clients watch again), except that once the file STATE/route-controller-speaks exists, the
Events watch delivers node-b's FailedToCreateRoute. POSTs (Events) are answered 201, PATCHes (node status)
200, and both are appended to STATE/requests.log. No network: only the socket file.

TokenReviews are answered as for a projected ServiceAccount token of routeprobe-agent bound to a pod on the
node that STATE/agent-tokens.json ({"TOKEN": "NODE"}) names; any other token is not authenticated. Leases
are kept in memory with the API server's rules: GET of a missing one is 404, POST creates (409 if it
exists), PUT replaces it when its metadata.resourceVersion is the stored one (409 otherwise).
"""
import datetime
import json
import os
import socketserver
import sys
import threading
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
leases = {}
leases_lock = threading.Lock()


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

    def status(self, code, reason, message):
        return self.answer(code, json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                             "message": message, "reason": reason, "code": code}))

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode(errors="replace")

    def do_GET(self):
        global delivered
        path, _, query = self.path.partition("?")
        if "/leases/" in path:
            with leases_lock:
                lease = leases.get(path)
            if lease is None:
                return self.status(404, "NotFound", 'leases.coordination.k8s.io "%s" not found' % path.rsplit("/", 1)[1])
            return self.answer(200, json.dumps(lease))
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
        if self.path.endswith("/tokenreviews"):
            return self.review(json.loads(self.body()))
        if self.path.endswith("/leases"):
            lease = json.loads(self.body())
            key = self.path + "/" + lease["metadata"]["name"]
            with leases_lock:
                if key in leases:
                    return self.status(409, "AlreadyExists", "leases.coordination.k8s.io already exists")
                lease["metadata"]["resourceVersion"] = "1"
                leases[key] = lease
            return self.answer(201, json.dumps(lease))
        self.record(201)

    def do_PUT(self):
        lease = json.loads(self.body())
        with leases_lock:
            stored = leases.get(self.path)
            if stored is None:
                return self.status(404, "NotFound", "leases.coordination.k8s.io not found")
            if lease["metadata"].get("resourceVersion") != stored["metadata"]["resourceVersion"]:
                return self.status(409, "Conflict", "the object has been modified; please apply your changes to the latest version and try again")
            lease["metadata"]["resourceVersion"] = str(int(stored["metadata"]["resourceVersion"]) + 1)
            leases[self.path] = lease
        return self.answer(200, json.dumps(lease))

    def review(self, request):
        try:
            with open(os.path.join(STATE, "agent-tokens.json")) as file:
                node = json.load(file).get(request["spec"]["token"])
        except FileNotFoundError:
            node = None
        if node is None:
            request["status"] = {"authenticated": False, "error": "invalid bearer token"}
            return self.answer(201, json.dumps(request))
        review = json.loads(fixture("tokenreview-bound.json"))
        review["spec"] = request["spec"]
        review["status"]["user"]["extra"]["authentication.kubernetes.io/node-name"] = [node]
        review["status"]["user"]["extra"]["authentication.kubernetes.io/pod-name"] = ["routeprobe-agent-" + node]
        return self.answer(201, json.dumps(review))

    def do_PATCH(self):
        self.record(200)


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


if os.path.exists(SOCKET):
    os.unlink(SOCKET)
with Server(SOCKET, Handler) as server:
    server.serve_forever()
