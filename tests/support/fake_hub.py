#!/usr/bin/env python3
"""A local stand-in for the Hugging Face hub, for tests (stdlib only, loopback only).

It serves model folders under the hub's routes with the hub's headers, as huggingface_hub reads
them (file_download.py, hf_api.py):

  GET  /api/models/ORG/NAME/revision/REV   {"id", "sha", "siblings": [{"rfilename"}...]}
  HEAD/GET /ORG/NAME/resolve/REV/FILE      small files: 200, ETag = git blob sha1, X-Repo-Commit;
                                           *.safetensors (LFS): 302 to the file store with
                                           X-Linked-Etag = sha256, X-Linked-Size, X-Repo-Commit
  GET  /lfs/SHA256                         the file store (Range: bytes=N- answered with 206)

Errors carry X-Error-Code as the hub's do (RepoNotFound, RevisionNotFound, GatedRepo,
EntryNotFound). Failure injection comes from the command line (see main()). Each request is
appended to --log as one JSON line {method, path, host, range, auth, status, body_bytes}, so that
tests can count what was transferred.
"""

import argparse
import hashlib
import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


class Repo:
    def __init__(self, repo_id, folder, extra_files):
        self.id = repo_id
        self.files = {}
        for root, _, names in os.walk(folder):
            for name in names:
                path = os.path.join(root, name)
                with open(path, "rb") as f:
                    self.files[os.path.relpath(path, folder)] = f.read()
        if extra_files:
            # What a real repo often holds beside safetensors: pickle weights and code, which a
            # client must never fetch.
            self.files["pytorch_model.bin"] = b"PICKLE" * 1000
            self.files["modeling_custom.py"] = b"raise SystemExit('remote code ran')\n"
        listing = "".join(f"{n}:{git_sha1(d)}\n" for n, d in sorted(self.files.items()))
        self.commit = hashlib.sha1(listing.encode()).hexdigest()

    def is_lfs(self, name):
        return name.endswith(".safetensors") or name.endswith(".bin")


def git_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Hub:
    def __init__(self, args):
        self.repos = {}
        for spec in args.model:
            repo_id, folder = spec.split("=", 1)
            self.repos[repo_id] = Repo(repo_id, folder, args.extra_files)
        self.token = args.token
        self.gated = set(args.gated)
        self.lfs_host = args.lfs_host
        self.slow_bps = args.slow_bps
        self.corrupt = set(args.corrupt)
        self.absurd_size = set(args.absurd_size)
        self.cuts = {}  # file name -> [fraction, times left]
        for spec in args.cut:
            name, rest = spec.split("=", 1)
            fraction, _, times = rest.partition(":")
            self.cuts[name] = [float(fraction), int(times or "1")]
        self.lock = threading.Lock()
        self.log_path = args.log
        self.blobs = {}  # sha256 -> (repo, name)
        for repo in self.repos.values():
            for name, data in repo.files.items():
                if repo.is_lfs(name):
                    self.blobs[hashlib.sha256(data).hexdigest()] = (repo, name)

    def take_cut(self, name):
        with self.lock:
            cut = self.cuts.get(os.path.basename(name))
            if cut is None or cut[1] == 0:
                return None
            cut[1] -= 1
            return cut[0]

    def log(self, entry):
        if self.log_path:
            with self.lock, open(self.log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub = None

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.route(head=True)

    def do_GET(self):
        self.route(head=False)

    def route(self, head):
        self.sent = 0
        self.status = 0
        path = unquote(urlsplit(self.path).path)
        try:
            if path.startswith("/api/models/"):
                self.api_model(path[len("/api/models/"):])
            elif path.startswith("/lfs/"):
                self.lfs(path[len("/lfs/"):], head)
            elif "/resolve/" in path:
                self.resolve(path.lstrip("/"), head)
            else:
                self.error(404, "EntryNotFound", "no such route")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        self.hub.log({"method": self.command, "path": path, "host": self.headers.get("Host", ""),
                      "range": self.headers.get("Range", ""),
                      "auth": self.headers.get("Authorization", ""), "status": self.status,
                      "body_bytes": self.sent})

    def error(self, status, code, message):
        body = json.dumps({"error": message}).encode()
        self.status = status
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def find_repo(self, repo_id):
        """The repo, or None after answering as the hub does (401 unauthenticated, else 404)."""
        if self.hub.token and self.headers.get("Authorization") != "Bearer " + self.hub.token:
            self.error(401, "", "Invalid credentials in Authorization header")
            return None
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            status = 404 if self.headers.get("Authorization") else 401
            self.error(status, "RepoNotFound", "Repository not found")
            return None
        if repo_id in self.hub.gated:
            self.error(403 if self.headers.get("Authorization") else 401, "GatedRepo",
                       "Access to model " + repo_id + " is restricted")
            return None
        return repo

    def api_model(self, rest):
        repo_id, sep, revision = rest.partition("/revision/")
        repo = self.find_repo(repo_id if sep else rest)
        if repo is None:
            return
        if sep and revision not in ("main", repo.commit):
            self.error(404, "RevisionNotFound", "Invalid rev id: " + revision)
            return
        body = json.dumps({
            "_id": repo.commit[:24], "id": repo.id, "modelId": repo.id, "sha": repo.commit,
            "private": False, "disabled": False, "gated": False, "tags": [], "library_name": None,
            "lastModified": "2024-01-01T00:00:00.000Z",
            "siblings": [{"rfilename": n} for n in sorted(repo.files)],
        }).encode()
        self.status = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.sent = len(body)

    def resolve(self, path, head):
        repo_id, _, rest = path.partition("/resolve/")
        repo = self.find_repo(repo_id)
        if repo is None:
            return
        revision, _, name = rest.partition("/")
        if revision not in ("main", repo.commit):
            self.error(404, "RevisionNotFound", "Invalid rev id: " + revision)
            return
        data = repo.files.get(name)
        if data is None:
            self.error(404, "EntryNotFound", name + " does not exist")
            return
        if repo.is_lfs(name):
            sha = hashlib.sha256(data).hexdigest()
            host = self.hub.lfs_host or self.headers.get("Host", "").rsplit(":", 1)[0]
            port = self.server.server_address[1]
            self.status = 302
            self.send_response(302)
            self.send_header("Location", f"http://{host}:{port}/lfs/{sha}")
            self.send_header("X-Repo-Commit", repo.commit)
            self.send_header("ETag", '"' + git_sha1(b"pointer " + data[:64]) + '"')
            self.send_header("X-Linked-Etag", '"' + sha + '"')
            absurd = os.path.basename(name) in self.hub.absurd_size
            self.send_header("X-Linked-Size", "9" * 25 if absurd else str(len(data)))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_file(data, name, head, {"ETag": '"' + git_sha1(data) + '"',
                                          "X-Repo-Commit": repo.commit})

    def lfs(self, sha, head):
        if self.headers.get("Authorization"):
            # The file store is another host: a client must not hand it the hub token.
            self.error(400, "", "the file store got an Authorization header")
            return
        found = self.hub.blobs.get(sha)
        if found is None:
            self.error(404, "EntryNotFound", "no such blob")
            return
        repo, name = found
        self.send_file(repo.files[name], name, head, {"ETag": '"' + sha + '"'})

    def send_file(self, data, name, head, headers):
        start = 0
        range_header = self.headers.get("Range", "")
        if range_header.startswith("bytes=") and range_header.endswith("-"):
            start = min(int(range_header[6:-1]), len(data))
        self.status = 206 if start else 200
        self.send_response(self.status)
        for key, value in headers.items():
            self.send_header(key, value)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if head:
            return
        body = data[start:]
        if os.path.basename(name) in self.hub.corrupt:
            middle = len(body) // 2
            body = body[:middle] + bytes([body[middle] ^ 0xFF]) + body[middle + 1:]
        cut = self.hub.take_cut(name)
        limit = len(body) if cut is None else max(0, int(len(data) * cut) - start)
        self.write_body(body[:limit])
        if cut is not None:
            # The connection drops mid-file, as a flaky network would do it.
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)

    def write_body(self, body):
        step = 16384
        for offset in range(0, len(body), step):
            chunk = body[offset:offset + step]
            self.wfile.write(chunk)
            self.sent += len(chunk)
            if self.hub.slow_bps:
                time.sleep(len(chunk) / self.hub.slow_bps)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-file", required=True, help="written with the port once listening")
    parser.add_argument("--model", action="append", default=[], help="ORG/NAME=FOLDER")
    parser.add_argument("--log", help="append one JSON line per request here")
    parser.add_argument("--token", help="require 'Authorization: Bearer TOKEN'")
    parser.add_argument("--gated", action="append", default=[], help="ORG/NAME answered as gated")
    parser.add_argument("--lfs-host", help="host name the file store redirects go to")
    parser.add_argument("--slow-bps", type=float, default=0, help="throttle bodies to N bytes/s")
    parser.add_argument("--corrupt", action="append", default=[], help="FILE served with a byte flipped")
    parser.add_argument("--absurd-size", action="append", default=[],
                        help="LFS FILE announced with a 25-digit X-Linked-Size")
    parser.add_argument("--cut", action="append", default=[],
                        help="FILE=FRACTION[:TIMES]: drop the connection after FRACTION of FILE")
    parser.add_argument("--extra-files", action="store_true",
                        help="add pytorch_model.bin and modeling_custom.py to every repo")
    args = parser.parse_args()
    Handler.hub = Hub(args)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    temporary = args.port_file + ".tmp"
    with open(temporary, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(temporary, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
