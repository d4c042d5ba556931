#!/usr/bin/env python3
"""A local stand-in for the Hugging Face hub, for tests (stdlib only, loopback only).

It serves model folders under the hub's routes with the hub's headers, as huggingface_hub reads
them (file_download.py, hf_api.py):

  GET  /api/models/ORG/NAME[/revision/REV]  {"id", "sha", "siblings": [{"rfilename"}...]}; with
                                           ?blobs=true each sibling also has blobId, size, lfs
  GET  /api/models/ORG/NAME/tree/REV[/DIR]  ?recursive=&expand=: [{"type": "file"|"directory",
                                           "oid", "size", "lfs"?, "path"}...] (directories first,
                                           then files; recursive lists a directory's contents
                                           after it), 1000 entries a page (50 with expand,
                                           which adds lastCommit), the next page named by a
                                           Link: <URL&cursor=...>; rel="next" header
  POST /api/models/ORG/NAME/paths-info/REV  form (or JSON) paths=P&paths=Q&expand=: the tree
                                           entries of those paths; paths that do not exist are
                                           left out
  HEAD/GET /ORG/NAME/resolve/REV/FILE      small files: 200, ETag = git blob sha1, X-Repo-Commit;
                                           *.safetensors (LFS): 302 to the file store with
                                           X-Linked-Etag = sha256, X-Linked-Size, X-Repo-Commit
  GET  /lfs/SHA256                         the file store (Range: bytes=N- answered with 206)

Object ids are git's: a file's oid is the sha1 of its git blob (for an LFS file, the blob of its
git-lfs pointer file), a directory's the sha1 of its git tree. The repos are not Xet-backed: no
X-Xet-Hash or xet-auth Link on resolve, no xetHash in the tree, so clients download over HTTP.

Errors carry X-Error-Code as the hub's do (RepoNotFound, RevisionNotFound, GatedRepo,
EntryNotFound; resolve's EntryNotFound also carries X-Repo-Commit). Failure injection comes from
the command line (see main()). Each request is appended to --log as one JSON line {method, path,
host, range, auth, status, body_bytes}, so that tests can count what was transferred.
"""

import argparse
import base64
import hashlib
import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

LAST_MODIFIED = "2024-01-01T00:00:00.000Z"
TREE_PAGE = 1000  # entries a page of /tree, as the hub pages it
TREE_PAGE_EXPANDED = 50


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
        # Every file's tree entry; directories (all the parents of a file) get theirs below.
        self.entries = {}
        self.children = {"": []}  # directory -> the paths directly in it
        for name, data in sorted(self.files.items()):
            entry = {"type": "file", "oid": self.blob_oid(name), "size": len(data)}
            if self.is_lfs(name):
                entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data),
                                "pointerSize": len(lfs_pointer(data))}
            entry["path"] = name
            self.entries[name] = entry
            path = name
            while path:
                parent = path.rpartition("/")[0]
                known = parent in self.children
                self.children.setdefault(parent, [])
                if path not in self.children[parent]:
                    self.children[parent].append(path)
                if known:
                    break
                path = parent
        # Deepest first: a tree's id needs the ids of the trees in it.
        for directory in sorted(self.children, key=lambda d: d.count("/"), reverse=True):
            if directory:
                self.entries[directory] = {"type": "directory", "oid": self.tree_oid(directory),
                                           "size": 0, "path": directory}

    def is_lfs(self, name):
        return name.endswith(".safetensors") or name.endswith(".bin")

    def blob_oid(self, name):
        """The git blob id the repo stores for NAME: the file's, or its LFS pointer's."""
        data = self.files[name]
        return git_sha1(lfs_pointer(data) if self.is_lfs(name) else data)

    def tree_oid(self, directory):
        """git's tree id for DIRECTORY, from the ids of its entries."""
        def sort_key(path):
            base = path.rpartition("/")[2]
            return base + "/" if path in self.children else base
        body = b""
        for path in sorted(self.children[directory], key=sort_key):
            mode = b"40000" if path in self.children else b"100644"
            body += mode + b" " + path.rpartition("/")[2].encode() + b"\0"
            body += bytes.fromhex(self.entries[path]["oid"])
        return hashlib.sha1(b"tree %d\0" % len(body) + body).hexdigest()

    def tree(self, directory, recursive):
        """The entries under DIRECTORY in the hub's order: its directories, each followed by its
        contents when RECURSIVE, then its files."""
        names = self.children[directory]
        out = []
        for path in sorted(p for p in names if p in self.children):
            out.append(self.entries[path])
            if recursive:
                out.extend(self.tree(path, True))
        out.extend(self.entries[p] for p in sorted(p for p in names if p not in self.children))
        return out


def git_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(data):
    """The git-lfs pointer file git stores in place of DATA."""
    return (f"version https://git-lfs.github.com/spec/v1\n"
            f"oid sha256:{hashlib.sha256(data).hexdigest()}\nsize {len(data)}\n").encode()


def flag(values):
    """A boolean query or form parameter: requests sends True, httpx true."""
    return bool(values) and values[-1].lower() in ("true", "1")


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

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length > 0 else b""
        self.route(head=False)

    def route(self, head):
        self.sent = 0
        self.status = 0
        url = urlsplit(self.path)
        self.raw_path = url.path
        self.query = parse_qs(url.query)
        path = unquote(url.path)
        try:
            if url.path.startswith("/api/models/"):
                self.api_model(url.path[len("/api/models/"):])
            elif self.command == "POST":
                self.error(404, "", "no such route")
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

    def error(self, status, code, message, headers=None):
        body = json.dumps({"error": message}).encode()
        self.status = status
        self.send_response(status)
        if code:
            self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
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

    def api_model(self, raw):
        """RAW: the still-quoted path after /api/models/: ORG/NAME (or NAME) alone, or followed
        by /revision/REV, /tree/REV[/DIR] or /paths-info/REV."""
        parts = raw.split("/")
        routes = ("revision", "tree", "paths-info")
        at = next((i for i in (2, 1) if len(parts) > i + 1 and parts[i] in routes), None)
        if at is None and len(parts) <= 2:
            route, repo_id, revision, rest = "revision", unquote(raw), "main", []
        elif at is None:
            self.error(404, "", "no such route")
            return
        else:
            route, repo_id = parts[at], unquote("/".join(parts[:at]))
            revision, rest = unquote(parts[at + 1]), [unquote(p) for p in parts[at + 2:]]
            if route == "revision":
                # The revision route takes a branch like refs/pr/1 quoted or not.
                revision, rest = "/".join([revision] + rest), []
        if (self.command == "POST") != (route == "paths-info"):
            self.error(405, "", "method not allowed")
            return
        repo = self.find_repo(repo_id)
        if repo is None:
            return
        if revision not in ("main", repo.commit):
            self.error(404, "RevisionNotFound", "Invalid rev id: " + revision)
            return
        if route == "revision":
            self.model_info(repo)
        elif route == "tree":
            self.tree(repo, revision, "/".join(rest))
        else:
            self.paths_info(repo)

    def model_info(self, repo):
        siblings = []
        for name in sorted(repo.files):
            sibling = {"rfilename": name}
            if flag(self.query.get("blobs")):
                entry = repo.entries[name]
                sibling.update({"blobId": entry["oid"], "size": entry["size"]})
                if "lfs" in entry:
                    lfs = entry["lfs"]
                    sibling["lfs"] = {"sha256": lfs["oid"], "size": lfs["size"],
                                      "pointerSize": lfs["pointerSize"]}
            siblings.append(sibling)
        self.send_json({
            "_id": repo.commit[:24], "id": repo.id, "modelId": repo.id, "sha": repo.commit,
            "private": False, "disabled": False, "gated": False, "tags": [], "library_name": None,
            "lastModified": LAST_MODIFIED, "siblings": siblings,
        })

    def expanded(self, repo, entry):
        return dict(entry, lastCommit={"id": repo.commit, "title": "Upload model",
                                       "date": LAST_MODIFIED})

    def tree(self, repo, revision, directory):
        directory = directory.strip("/")
        if directory not in repo.children:
            self.error(404, "EntryNotFound", f"{directory} does not exist on \"{revision}\"")
            return
        expand = flag(self.query.get("expand"))
        entries = repo.tree(directory, flag(self.query.get("recursive")))
        # The hub pages with an opaque cursor; this one names the index of the page's first entry.
        start = 0
        cursor = self.query.get("cursor", [""])[-1]
        if cursor:
            try:
                start = int(base64.urlsafe_b64decode(cursor.encode()).decode())
            except ValueError:
                self.error(400, "", "Invalid cursor")
                return
        page = entries[start:start + (TREE_PAGE_EXPANDED if expand else TREE_PAGE)]
        headers = {}
        if start + len(page) < len(entries):
            query = {k: v[-1] for k, v in self.query.items() if k != "cursor"}
            query["cursor"] = base64.urlsafe_b64encode(str(start + len(page)).encode()).decode()
            next_url = f"http://{self.headers.get('Host', '')}{self.raw_path}?{urlencode(query)}"
            headers["Link"] = f'<{next_url}>; rel="next"'
        self.send_json([self.expanded(repo, e) if expand else e for e in page], headers)

    def paths_info(self, repo):
        if self.headers.get("Content-Type", "").startswith("application/json"):
            try:
                form = json.loads(self.body or b"{}")
                paths, expand = form.get("paths", []), bool(form.get("expand"))
            except (ValueError, AttributeError):
                self.error(400, "", "Invalid JSON body")
                return
        else:
            form = parse_qs(self.body.decode("utf-8", "replace"))
            paths, expand = form.get("paths", []), flag(form.get("expand"))
        found = []
        for path in paths:
            entry = repo.entries.get(str(path).strip("/"))
            if entry is not None and entry not in found:
                found.append(entry)
        self.send_json([self.expanded(repo, e) if expand else e for e in found])

    def send_json(self, value, headers=None):
        body = json.dumps(value).encode()
        self.status = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        for key, header in (headers or {}).items():
            self.send_header(key, header)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
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
            # With the commit, as the hub's, so that a client can note the file's absence there.
            self.error(404, "EntryNotFound", name + " does not exist",
                       {"X-Repo-Commit": repo.commit})
            return
        if repo.is_lfs(name):
            sha = hashlib.sha256(data).hexdigest()
            host = self.hub.lfs_host or self.headers.get("Host", "").rsplit(":", 1)[0]
            port = self.server.server_address[1]
            self.status = 302
            self.send_response(302)
            self.send_header("Location", f"http://{host}:{port}/lfs/{sha}")
            self.send_header("X-Repo-Commit", repo.commit)
            self.send_header("ETag", '"' + repo.blob_oid(name) + '"')
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
