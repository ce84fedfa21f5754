"""A fake web for the source check's tests and bench: a threaded HTTP server on
127.0.0.1 answering the cases the check meets (fine, moved, missing, gone, slow,
HEAD refused), the DOI resolver, Crossref's works API and PubMed's esummary, and
a TLS listener with a self-signed certificate. Every request is logged with its
time, so tests can assert what was (or was not) asked, and how far apart."""

import datetime
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

RETRACTED_DOI = "10.1234/retracted"
RELATION_RETRACTED_DOI = "10.1234/relation-retracted"
FINE_DOI = "10.1234/fine"
UNKNOWN_DOI = "10.1234/unknown"
FINE_PMID = "111"
RETRACTED_PMID = "222"
MISSING_PMID = "333"


@dataclass(frozen=True)
class Seen:
    at: float
    method: str
    path: str
    agent: str


@dataclass
class FakeWeb:
    base: str
    seen: list[Seen] = field(default_factory=list)
    # How long /slow waits before answering (past the tests' timeout).
    slow_seconds: float = 2.0
    # Paths answered 200 instead of what they would answer (a fixed link).
    fixed: set[str] = field(default_factory=set)
    # Off for the bench: the log would grow with every request it measures.
    logging: bool = True

    def url(self, path: str) -> str:
        return self.base + path

    def paths(self) -> list[str]:
        return [s.path for s in self.seen]


def handler_for(web: FakeWeb) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            pass

        def do_HEAD(self):
            self.answer("HEAD")

        def do_GET(self):
            self.answer("GET")

        def send(self, status: int, body: bytes = b"", **headers: str) -> None:
            self.send_response(status)
            headers.setdefault("Content-Type", "text/html")
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def json(self, data: dict) -> None:
            self.send(200, json.dumps(data).encode(), Content_Type="application/json")

        def answer(self, method: str) -> None:
            if web.logging:
                web.seen.append(
                    Seen(
                        time.monotonic(),
                        method,
                        self.path,
                        self.headers.get("User-Agent", ""),
                    )
                )
            parts = urlsplit(self.path)
            path = parts.path
            if path in web.fixed:
                return self.send(200, b"<p>fine</p>")
            if path.startswith("/ok"):
                return self.send(200, b"<p>fine</p>")
            if path == "/moved":
                return self.send(301, Location=web.url("/ok/new-home"))
            if path == "/moved-308":
                return self.send(308, Location="/ok/other-home")
            if path == "/temporary":
                return self.send(302, Location="/ok/for-now")
            if path == "/missing":
                return self.send(404, b"not here")
            if path == "/gone":
                return self.send(410, b"gone")
            if path == "/slow":
                time.sleep(web.slow_seconds)
                return self.send(200, b"late")
            if path == "/head-refused":
                if method == "HEAD":
                    return self.send(405, Allow="GET")
                return self.send(200, b"<p>fine by GET</p>")
            if path.startswith("/doi/"):
                doi = path.removeprefix("/doi/")
                if doi == UNKNOWN_DOI:
                    return self.send(404, b"DOI not found")
                return self.send(302, Location=web.url(f"/ok/landing/{doi}"))
            if path.startswith("/crossref/"):
                return self.crossref(path.removeprefix("/crossref/"))
            if path == "/eutils/esummary.fcgi":
                return self.esummary(parse_qs(parts.query).get("id", [""])[0])
            return self.send(404, b"unknown path")

        def crossref(self, doi: str) -> None:
            message = {"DOI": doi, "type": "journal-article", "title": ["A study"]}
            if doi == RETRACTED_DOI:
                message["updated-by"] = [
                    {
                        "DOI": "10.1234/notice",
                        "type": "retraction",
                        "source": "publisher",
                    }
                ]
            if doi == RELATION_RETRACTED_DOI:
                message["relation"] = {
                    "is-retracted-by": [{"id-type": "doi", "id": "10.1234/notice2"}]
                }
            self.json({"status": "ok", "message-type": "work", "message": message})

        def esummary(self, pmid: str) -> None:
            if pmid == MISSING_PMID:
                entry = {"uid": pmid, "error": "cannot get document summary"}
            else:
                pubtype = ["Journal Article"]
                if pmid == RETRACTED_PMID:
                    pubtype.append("Retracted Publication")
                entry = {"uid": pmid, "title": "A study", "pubtype": pubtype}
            self.json({"result": {"uids": [pmid], pmid: entry}})

    return Handler


def serve(web_base: str = "http://127.0.0.1", *, tls_dir: Path | None = None):
    """Start a fake web (TLS with a self-signed certificate when `tls_dir` is
    given, for its files). Returns (FakeWeb, stop)."""
    web = FakeWeb(base="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(web))
    server.daemon_threads = True
    scheme = "http"
    if tls_dir is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self_signed(tls_dir))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    web.base = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return web, stop


def self_signed(directory: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 nobody vouches for, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)
