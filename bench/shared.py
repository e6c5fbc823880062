"""Several polyfeed daemons on one PostgreSQL, measured on 127.0.0.1 (a throwaway cluster, nginx
serving generated feeds, the loopback engine):

1. Cold fetch of FEEDS feeds (no translation): one daemon on SQLite, one on PostgreSQL, and 1, 2
   and 4 daemons sharing PostgreSQL. Wall time until every feed is fetched, CPU seconds of each
   daemon and of the database's processes.
2. Sharing under load: 4 daemons, FEEDS feeds on one-second schedules, the loopback engine
   translating, for SECONDS; one daemon killed with SIGKILL halfway. Feeds fetched twice in one
   tick (each daemon logs the tick of every fetch it claimed: a (feed, tick) pair logged twice),
   blocks paid for twice (the engine's count of blocks asked for again; its translations pass
   every check, so nothing is asked again for a failed check), and whether the others finish the
   killed one's work.

Writes bench/SHARED.md and replaces that section of bench/RESULTS.md.
Usage: shared.py (BENCH_FEEDS, default 1000; BENCH_SHARED_SECONDS, default 60)."""
import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from harness import free_port, replace_section, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
POLYFEED = os.path.join(ROOT, "target", "release", "polyfeed")
ENGINE = os.path.join(HERE, "target", "release", "engine")
FEEDS = int(os.environ.get("BENCH_FEEDS", "1000"))
SECONDS = int(os.environ.get("BENCH_SHARED_SECONDS", "60"))
procs = []


def pg_bin():
    real = os.path.realpath(shutil.which("pg_ctl") or "")
    if real and os.path.exists(os.path.join(os.path.dirname(real), "psql")):
        return os.path.dirname(real)
    return sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]


class Postgres:
    def __init__(self, work):
        self.bin = pg_bin()
        self.dir = os.path.join(work, "pg")
        os.makedirs(self.dir)
        self.root = os.geteuid() == 0
        if self.root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.port = free_port()
        self.run("initdb", "-D", f"{self.dir}/data", "-A", "trust", "-U", "polyfeed", "--no-sync", "-E", "UTF8")
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=128MB"
        self.run("pg_ctl", "-D", f"{self.dir}/data", "-o", opts, "-l", f"{self.dir}/log", "-w", "start")

    def run(self, tool, *args):
        cmd = [os.path.join(self.bin, tool), *args]
        if self.root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, cwd=self.dir)

    def sql(self, db, query):
        out = subprocess.run([os.path.join(self.bin, "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "polyfeed", "-d", db, "-At", "-c", query],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def database(self, name):
        self.sql("postgres", f"CREATE DATABASE {name}")
        return f"postgres://polyfeed@127.0.0.1:{self.port}/{name}"

    def cpu_seconds(self):
        """CPU seconds of the server's processes so far."""
        total = 0.0
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                with open(stat) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                with open(stat.replace("stat", "cmdline"), "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if b"postgres" in cmd and (self.dir.encode() in cmd or b"postgres:" in cmd):
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def stop(self):
        self.run("pg_ctl", "-D", f"{self.dir}/data", "-m", "immediate", "stop")


def cpu_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def nginx(work, root):
    port = free_port()
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"worker_processes 2; user root; daemon on; pid {work}/nginx.pid; error_log {work}/nginx-error.log;\n"
                f"events {{ worker_connections 4096; }}\n"
                f"http {{ log_format t '$msec $uri $status'; access_log {work}/access.log t; sendfile on; keepalive_requests 100000;\n"
                f"types {{ application/xml xml; }}\nserver {{ listen 127.0.0.1:{port}; root {root}; etag on; }}\n}}\n")
    subprocess.run(["nginx", "-c", conf, "-p", work], check=True)
    return port


def feeds_toml(path, feed_port, db, engine_port, port, schedule, extra=""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    out = (f'cache_dir = "cache"\noutput_dir = "{os.path.dirname(os.path.dirname(path))}/output"\nschedule = "{schedule}"\n'
           f"max_concurrent_fetches = 16\nmax_per_host = 16\nfetch_retries = 0\nlease_seconds = 6\n")
    if db:
        out += f'database_url = "{db}"\n'
    out += extra
    if engine_port:
        out += (f'\n[translator]\nengine = "openai"\nbase_url = "http://127.0.0.1:{engine_port}/v1"\nmodel = "bench"\n'
                "max_concurrency = 4\nbatch_tokens = 1500\n")
    out += f'\n[server]\nlisten = "127.0.0.1:{port}"\ngrace_period = 5\n[publish]\nmarkdown = false\nhtml = false\n'
    for i in range(FEEDS):
        out += f'\n[[feeds]]\nname = "feed{i:04}"\nurl = "http://127.0.0.1:{feed_port}/feed-{i:04}.xml"\nallow_private_network = true\nbackfill = 2\n'
    with open(path, "w") as f:
        f.write(out)


def daemon(path, port, log=None):
    """A daemon; with `log`, its pipeline's debug lines (one per fetch, with its tick) go there as JSON."""
    env = {**os.environ, "RUST_LOG": "polyfeed::pipeline=debug"} if log else None
    args = [POLYFEED, "--config", path, "--log-format", "json", "daemon"] if log else [POLYFEED, "--config", path, "daemon"]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(log, "w") if log else subprocess.DEVNULL, cwd=os.path.dirname(path), env=env)
    procs.append(p)
    wait_for(f"http://127.0.0.1:{port}/healthz", 60)
    return p


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def fetched_all(pg, db, sqlite_path):
    if pg is None:
        import sqlite3
        try:
            c = sqlite3.connect(sqlite_path)
            return c.execute("SELECT count(*) FROM feeds WHERE last_result = 'ok'").fetchone()[0] >= FEEDS
        except sqlite3.Error:
            return False
    return int(pg.sql(db, "SELECT count(*) FROM feeds WHERE last_result = 'ok'") or 0) >= FEEDS


def cold(work, pg, feed_port, nodes, shared):
    """Daemons fetching every feed once (a far schedule: only their first round); no translation."""
    name = f"cold_{'pg' if shared else 'sqlite'}_{nodes}"
    db = pg.database(name) if shared else None
    dirs = [os.path.join(work, name, f"node{i}") for i in range(nodes)]
    ports = [free_port() for _ in dirs]
    for d, p in zip(dirs, ports):
        feeds_toml(os.path.join(d, "feeds.toml"), feed_port, db, None, p, "0 0 1 1 *")
    db_cpu = pg.cpu_seconds() if shared else 0
    started = time.time()
    running = [daemon(os.path.join(d, "feeds.toml"), p) for d, p in zip(dirs, ports)]
    while not fetched_all(pg if shared else None, db, os.path.join(dirs[0], "cache", "polyfeed.sqlite")):
        if time.time() - started > 600:
            raise SystemExit(f"{name}: not every feed fetched in 10 minutes")
        time.sleep(0.2)
    wall = time.time() - started
    cpus = [cpu_of(p.pid) for p in running]
    db_cpu = (pg.cpu_seconds() - db_cpu) if shared else 0
    for p in running:
        stop(p)
    return {"store": "PostgreSQL" if shared else "SQLite", "nodes": nodes, "wall": wall, "cpus": cpus, "db_cpu": db_cpu}


def load(work, pg, feed_port, engine_port):
    """4 daemons on one-second schedules, translating; one killed halfway."""
    db = pg.database("load")
    dirs = [os.path.join(work, "load", f"node{i}") for i in range(4)]
    ports = [free_port() for _ in dirs]
    for d, p in zip(dirs, ports):
        feeds_toml(os.path.join(d, "feeds.toml"), feed_port, db, engine_port, p, "* * * * * *")
    log = os.path.join(work, "access.log")
    open(log, "w").close()
    subprocess.run(["nginx", "-c", os.path.join(work, "nginx.conf"), "-p", work, "-s", "reopen"], check=True)
    db_cpu = pg.cpu_seconds()
    started = time.time()
    logs = [os.path.join(d, "daemon.log") for d in dirs]
    running = [daemon(os.path.join(d, "feeds.toml"), p, log) for d, p, log in zip(dirs, ports, logs)]
    time.sleep(SECONDS / 2)
    victim = running[0]
    killed_leases = int(pg.sql(db, "SELECT count(*) FROM queue WHERE state = 'leased'") or 0)
    victim.kill()
    victim.wait()
    killed_at = time.time()
    time.sleep(SECONDS / 2)
    # The others finish: nothing queued or leased is left (the dead node's leases run out first).
    drained = None
    while time.time() - killed_at < 600:
        left = int(pg.sql(db, "SELECT count(*) FROM queue WHERE state IN ('queued', 'leased')") or 0)
        if left == 0:
            drained = time.time() - killed_at
            break
        time.sleep(0.5)
    wall = time.time() - started
    cpus = [cpu_of(p.pid) for p in running[1:]]
    db_cpu = pg.cpu_seconds() - db_cpu
    for p in running[1:]:
        stop(p)
    # Fetches per feed from nginx's log: two less than half a second apart are one tick twice.
    times = {}
    with open(log) as f:
        for line in f:
            at, uri, _ = line.split()
            times.setdefault(uri, []).append(float(at))
    close = sum(1 for ts in times.values() for a, b in zip(sorted(ts), sorted(ts)[1:]) if b - a < 0.5)
    fetches = sum(len(ts) for ts in times.values())
    import json
    # Fetches per (feed, tick), from every daemon's own line for each fetch it claimed.
    ticks = {}
    for log_path in logs:
        with open(log_path) as f:
            for line in f:
                try:
                    fields = json.loads(line).get("fields", {})
                except ValueError:
                    continue
                if fields.get("message") == "fetching for its tick":
                    key = (fields["feed"], fields["tick_ms"])
                    ticks[key] = ticks.get(key, 0) + 1
    twice = sum(n - 1 for n in ticks.values() if n > 1)
    import urllib.request
    stats = json.load(urllib.request.urlopen(f"http://127.0.0.1:{engine_port}/stats"))
    counts = pg.sql(db, "SELECT (SELECT count(*) FROM entries), (SELECT count(*) FROM queue WHERE state = 'done'), (SELECT count(*) FROM translations)")
    entries, done, translations = (int(x) for x in counts.split("|"))
    return {"wall": wall, "fetches": fetches, "twice": twice, "close": close, "claimed": len(ticks), "blocks": stats["blocks"], "repeated": stats["repeated_blocks"],
            "requests": stats["requests"], "entries": entries, "done": done, "translations": translations, "killed_leases": killed_leases,
            "drained": drained, "cpus": cpus, "db_cpu": db_cpu}


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    work = tempfile.mkdtemp(prefix="polyfeed-shared-")
    os.chmod(work, 0o755)  # the database server runs as postgres when this runs as root
    pg = None
    try:
        feeds_dir = os.path.join(work, "feeds")
        subprocess.run([sys.executable, os.path.join(HERE, "gen_feeds.py"), feeds_dir, str(FEEDS), "4", "1-2"], check=True)
        feed_port = nginx(work, feeds_dir)
        pg = Postgres(work)
        engine_port = free_port()
        procs.append(subprocess.Popen([ENGINE, str(engine_port), "20"]))
        wait_for(f"http://127.0.0.1:{engine_port}/stats")
        colds = [cold(work, pg, feed_port, 1, False)] + [cold(work, pg, feed_port, n, True) for n in (1, 2, 4)]
        shared = load(work, pg, feed_port, engine_port)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        subprocess.run(["nginx", "-c", os.path.join(work, "nginx.conf"), "-p", work, "-s", "quit"], capture_output=True)
        if pg:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "this machine")
    lines = [
        "## Several daemons on one PostgreSQL",
        "",
        f"Measured by `bench/shared` on {cpu}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}: {FEEDS} generated feeds "
        "(RSS and Atom, 4 entries of 1-2 paragraphs, backfill 2) served by nginx, PostgreSQL 15 on the same machine, the loopback "
        "engine (20 ms a request). Every process shares the two cores, so wall times show contention more than scaling; the CPU "
        "seconds of each daemon and of the database say how the work divides, for a projection to more machines.",
        "",
        "Cold fetch of every feed (daemons, no translation):",
        "",
        "| store | daemons | wall | CPU s per daemon | CPU s of the database |",
        "|---|---|---|---|---|",
    ]
    for c in colds:
        lines.append(f"| {c['store']} | {c['nodes']} | {c['wall']:.1f} s | {', '.join(f'{x:.1f}' for x in c['cpus'])} | {c['db_cpu']:.1f} |")
    s = shared
    lines += [
        "",
        f"Sharing under load: 4 daemons, {FEEDS} feeds on one-second schedules, translating, {SECONDS} s; one daemon killed with "
        f"SIGKILL after {SECONDS // 2} s while {s['killed_leases']} jobs were leased:",
        "",
        f"- fetches: {s['fetches']} in {s['wall']:.0f} s, for {s['claimed']} (feed, tick) pairs; **fetched twice in one tick: {s['twice']}** "
        f"(from each daemon's log line per fetch, naming its tick; {s['close']} pairs of fetches of one feed less than half a second "
        "apart in nginx's log, which adjacent ticks give when a loaded daemon is late for one)",
        f"- blocks sent: {s['blocks']} in {s['requests']} requests; **paid for twice: {s['repeated']}**",
        f"- entries {s['entries']}, translated {s['translations']}, jobs done {s['done']}; "
        + (f"**everything done {s['drained']:.0f} s after the kill** (leases of {6} s)" if s["drained"] is not None else "**work left over after ten minutes**"),
        f"- CPU s of the three surviving daemons: {', '.join(f'{x:.1f}' for x in s['cpus'])}; of the database: {s['db_cpu']:.1f}",
    ]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(HERE, "SHARED.md"), "w") as f:
        f.write(text)
    replace_section("## Several daemons on one PostgreSQL", text)
    print(text)


if __name__ == "__main__":
    main()
