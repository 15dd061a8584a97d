"""Fixtures for the AWS CLI / boto3 compatibility suite.

One `nagare serve` process is started per test session (port 0, temporary data dir, fsync
never) and stopped at the end (SIGTERM, then SIGKILL). Every test gets its own stream name so
tests do not see each other's streams.

Environment:
  NAGARE_BIN   server binary (default: <repo>/target/debug/nagare; build it with
               `cargo build -p nagare-cli`)
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "000000000000"
STARTUP_TIMEOUT_S = 20

# Credentials and settings for every client; nothing from the user's AWS config is read.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIDNAGARECOMPAT",
    "AWS_SECRET_ACCESS_KEY": "nagare-compat-secret",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_DEFAULT_OUTPUT": "json",
    "AWS_PAGER": "",
    # One attempt: an error or a dropped connection shows at once instead of after retries.
    "AWS_MAX_ATTEMPTS": "1",
    "AWS_RETRY_MODE": "standard",
    # Keep the CLI from looking up instance metadata for anything.
    "AWS_EC2_METADATA_DISABLED": "true",
}


def clean_aws_env() -> dict[str, str]:
    """The current environment minus every AWS_* variable, plus AWS_ENV."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENV)
    return env


# boto3 in this process must not read the user's config or credentials either.
for _k in [k for k in os.environ if k.startswith("AWS_")]:
    del os.environ[_k]
os.environ.update(AWS_ENV)


@dataclass
class Server:
    endpoint: str
    proc: subprocess.Popen
    stderr_path: Path

    def stderr_text(self, start: int = 0) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                f.seek(start)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stderr_size(self) -> int:
        try:
            return self.stderr_path.stat().st_size
        except OSError:
            return 0


def _server_binary() -> Path:
    path = Path(os.environ.get("NAGARE_BIN") or REPO / "target" / "debug" / "nagare")
    if not path.is_file():
        pytest.exit(
            f"nagare binary not found at {path}: run `cargo build -p nagare-cli` "
            "or set NAGARE_BIN",
            returncode=2,
        )
    return path


def _read_first_line(proc: subprocess.Popen, timeout: float) -> str | None:
    box: list[str] = []

    def read() -> None:
        box.append(proc.stdout.readline().decode("utf-8", "replace"))

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(timeout)
    return box[0] if box else None


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def server():
    binary = _server_binary()
    workdir = Path(tempfile.mkdtemp(prefix="nagare-compat-"))
    stderr_path = workdir / "server.stderr"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            [
                str(binary),
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                str(workdir / "data"),
                "--fsync",
                "never",
                # The suite creates streams faster than AWS's 5 CreateStream/s; throttling
                # has its own tests.
                "--throughput-limits",
                "off",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={k: v for k, v in os.environ.items() if not k.startswith("NAGARE_")},
        )
    try:
        line = _read_first_line(proc, STARTUP_TIMEOUT_S)
        m = re.fullmatch(r"nagare listening on (http://127\.0\.0\.1:\d+)\s*", line or "")
        if not m:
            _stop(proc)
            pytest.exit(
                f"nagare did not start: stdout first line {line!r}, stderr:\n"
                + stderr_path.read_text(errors="replace")[-4000:],
                returncode=2,
            )
        srv = Server(endpoint=m.group(1), proc=proc, stderr_path=stderr_path)
        yield srv
    finally:
        _stop(proc)
        if proc.stdout:
            proc.stdout.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _server_log_on_failure(request, server):
    """Attaches what the server wrote to stderr during a test to that test's report."""
    start = server.stderr_size()
    yield
    text = server.stderr_text(start)
    if text:
        request.node.add_report_section("call", "nagare stderr", text[-6000:])


@pytest.fixture(scope="session")
def kinesis(server):
    """A boto3 Kinesis client for the server, with a single attempt per call."""
    return boto3.session.Session(
        aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    ).client(
        "kinesis",
        endpoint_url=server.endpoint,
        config=Config(
            # "max_attempts" counts retries after the first call; "total_max_attempts" caps
            # the whole so an error (or a dropped connection) surfaces after one request.
            retries={"max_attempts": 1, "total_max_attempts": 1},
            connect_timeout=5,
            read_timeout=30,
        ),
    )


_counter = itertools.count(1)


@pytest.fixture
def stream_name(request) -> str:
    """A stream name unique to this test (valid per the StreamName pattern)."""
    base = re.sub(r"[^a-zA-Z0-9_.-]", "-", request.node.name)[:80]
    return f"{base}-{next(_counter)}-{os.getpid()}"


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def json(self):
        return json.loads(self.stdout) if self.stdout.strip() else None


def _cli_prefix() -> list[str]:
    """`aws` from the same virtualenv as this pytest, else `python -m awscli`."""
    venv_aws = Path(sys.executable).parent / "aws"
    if venv_aws.is_file():
        return [sys.executable, str(venv_aws)]
    return [sys.executable, "-m", "awscli"]


@pytest.fixture(scope="session")
def aws(server):
    """Runs an AWS CLI command line against the server.

    `aws("aws kinesis describe-stream --stream-name Foo")` or a list of arguments; the leading
    `aws` is replaced with the CLI and `--endpoint-url` is added. Returns a CliResult; with
    check=True (default) a non-zero exit fails the test.
    """
    import shlex

    prefix = _cli_prefix()
    env = clean_aws_env()

    def run(command, check: bool = True) -> CliResult:
        args = shlex.split(command) if isinstance(command, str) else list(command)
        if args and args[0] == "aws":
            args = args[1:]
        proc = subprocess.run(
            [*prefix, "--endpoint-url", server.endpoint, *args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        res = CliResult(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            pytest.fail(
                f"`aws {' '.join(args)}` exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return res

    return run
