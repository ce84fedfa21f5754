"""nginx for the tests: deploy/nginx/skincare.conf filled in and run as a plain
process in a temporary folder (`nginx -p FOLDER -c CONF`), no root paths, no
daemon. Without nginx the tests that need it are skipped on a developer's machine
and fail in CI (where CI is set), as the browser tests do for Chromium."""

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

CONFIG = Path(settings.BASE_DIR) / "deploy" / "nginx" / "skincare.conf"
NGINX_DEFAULT_PATH = "/usr/sbin/nginx"
INSTALL_HINT = (
    "nginx is not installed: front proxy tests skipped. "
    "Install it with: sudo apt-get install nginx"
)
CI_MISSING = (
    "nginx is not installed, and the front proxy tests must run in CI. "
    "Install it with: sudo apt-get install nginx"
)
# What deploy/nginx/skincare.conf leaves to the one who installs it.
PLACEHOLDERS = (
    "@LISTEN@",
    "@SERVER_NAME@",
    "@UPSTREAM@",
    "@CACHE_DIR@",
    "@REFRESH_SECRET@",
)
# nginx.conf around the site's file: everything nginx writes stays in the folder.
MAIN = """user {user};
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/skincare.conf;
}}
"""


def nginx_path() -> str | None:
    if os.access(NGINX_DEFAULT_PATH, os.X_OK):
        return NGINX_DEFAULT_PATH
    return shutil.which("nginx")


def required_nginx() -> str:
    executable = nginx_path()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail(CI_MISSING, pytrace=False)
        pytest.skip(INSTALL_HINT)
    return executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class FrontProxy:
    executable: str
    folder: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def main_config(self) -> Path:
        return self.folder / "nginx.conf"

    def command(self, *arguments: str) -> list[str]:
        return [
            self.executable,
            "-p",
            str(self.folder),
            "-c",
            str(self.main_config),
            "-e",
            str(self.folder / "error.log"),
            *arguments,
        ]


def render(executable: str, folder: Path, *, upstream: str, secret: str) -> FrontProxy:
    """The site's configuration with every placeholder filled, inside a main
    configuration that keeps nginx's files in `folder`."""
    proxy = FrontProxy(executable, folder, free_port())
    values = {
        "@LISTEN@": f"127.0.0.1:{proxy.port}",
        "@SERVER_NAME@": "127.0.0.1 localhost",
        "@UPSTREAM@": upstream,
        "@CACHE_DIR@": str(folder / "cache"),
        "@REFRESH_SECRET@": secret,
    }
    text = CONFIG.read_text()
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    (folder / "skincare.conf").write_text(text)
    proxy.main_config.write_text(MAIN.format(folder=folder, user=getpass.getuser()))
    return proxy


@contextmanager
def running(proxy: FrontProxy) -> Iterator[FrontProxy]:
    """nginx in the foreground until the block ends."""
    process = subprocess.Popen(
        proxy.command("-g", "daemon off;"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"nginx stopped: {process.stderr.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", proxy.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield proxy
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
