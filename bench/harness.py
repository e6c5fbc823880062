"""polyfeed's benchmark harness: every measurement on 127.0.0.1, medians of RUNS runs, ratios
taken in the same run. Called by bench/run, which installs and builds what it needs.
Writes bench/RESULTS.md and prints the same table."""
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, "work")
POLYFEED = os.path.join(ROOT, "target", "release", "polyfeed")
HELPERS = os.path.join(HERE, "target", "release")
PYTHON = os.path.join(HERE, ".venv", "bin", "python")
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
FEEDS = int(os.environ.get("BENCH_FEEDS", "1000"))
CONCURRENCY = 16
# Runs of the translation with an engine answering after 2 s (each takes about 35 s).
SLOW_RUNS = max(1, min(RUNS, 3))
CORPUS = os.environ.get("POLYFEED_CORPUS") or next(
    (p for p in [os.path.join(ROOT, "..", "shared", "corpus")] if os.path.isdir(os.path.join(p, "feeds"))), None
)
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
children = []


def replace_section(heading, text):
    """Puts `text` (a section starting with `heading`) in bench/RESULTS.md in place of the old one."""
    results = os.path.join(HERE, "RESULTS.md")
    if not os.path.exists(results):
        return
    old = open(results).read()
    start = old.find(heading)
    if start >= 0:
        end = old.find("\n## ", start + 1)
        old = old[:start] + (old[end + 1:] if end >= 0 else "")
    with open(results, "w") as f:
        f.write(old.rstrip("\n") + "\n\n" + text)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, limit=30):
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            opener.open(url, timeout=2).read()
            return
        except Exception:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer")


def timed(cmd, env=None, cwd=None):
    """Runs a command under GNU time: (wall s, peak RSS MiB, CPU s, stdout)."""
    out = subprocess.run(["/usr/bin/time", "-f", "@@ %e %M %U %S", *cmd], capture_output=True, text=True, env=env, cwd=cwd)
    line = [l for l in out.stderr.splitlines() if l.startswith("@@ ")]
    if not line:
        raise SystemExit(f"{cmd} failed: {out.stderr[-2000:]}")
    _, wall, rss, user, system = line[-1].split()
    return float(wall), int(rss) / 1024, float(user) + float(system), out.stdout


def med(values):
    return statistics.median(values)


def nginx(roots):
    """One nginx serving each root on its own port; returns the ports."""
    ports = [free_port() for _ in roots]
    servers = "\n".join(f"server {{ listen 127.0.0.1:{p}; root {r}; etag on; location / {{ default_type application/octet-stream; }} }}" for p, r in zip(ports, roots))
    conf = os.path.join(WORK, "nginx.conf")
    with open(conf, "w") as f:
        f.write(
            f"worker_processes 2; user root; daemon on; pid {WORK}/nginx.pid; error_log {WORK}/nginx-error.log;\n"
            f"events {{ worker_connections 1024; }}\n"
            f"http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;\n"
            f"types {{ application/atom+xml xml; application/json json; text/html html; }}\n{servers}\n}}\n"
        )
    subprocess.run(["nginx", "-c", conf, "-p", WORK], check=True)
    return ports


def stop_nginx():
    pid_file = os.path.join(WORK, "nginx.pid")
    if os.path.exists(pid_file):
        subprocess.run(["nginx", "-c", os.path.join(WORK, "nginx.conf"), "-p", WORK, "-s", "quit"], capture_output=True)
        for _ in range(100):
            if not os.path.exists(pid_file):
                break
            time.sleep(0.05)


def cleanup(*_):
    for c in children:
        if c.poll() is None:
            c.terminate()
            try:
                c.wait(5)
            except subprocess.TimeoutExpired:
                c.kill()
    stop_nginx()


def config(path, body):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(body)


def feeds_toml(urls, extra="", feed_extra=""):
    out = (
        f"cache_dir = \"cache\"\noutput_dir = \"output\"\nmax_concurrent_fetches = {CONCURRENCY}\nmax_per_host = {CONCURRENCY}\n"
        f"fetch_retries = 0\n{extra}\n"
    )
    for i, u in enumerate(urls):
        out += f"\n[[feeds]]\nname = \"feed{i:04}\"\nurl = \"{u}\"\nallow_private_network = true\n{feed_extra}\n"
    return out


def refresh_at_scale(feed_port, results):
    urls = [f"http://127.0.0.1:{feed_port}/feed-{i:04}.xml" for i in range(FEEDS)]
    urls_file = os.path.join(WORK, "urls.txt")
    with open(urls_file, "w") as f:
        f.write("\n".join(urls))
    env = dict(os.environ, POLYFEED_CONFIG=os.path.join(WORK, "refresh", "feeds.toml"))
    env.pop("RUST_LOG", None)
    config(env["POLYFEED_CONFIG"], feeds_toml(urls, "[publish]\nmarkdown = false\nhtml = false\n"))
    small = os.path.join(WORK, "refresh-small", "feeds.toml")
    config(small, feeds_toml(urls[: FEEDS // 10]))
    cold, warm, floor, peer_cold, peer_warm, small_rss = [], [], [], [], [], []
    for _ in range(RUNS):
        shutil.rmtree(os.path.join(WORK, "refresh", "cache"), ignore_errors=True)
        shutil.rmtree(os.path.join(WORK, "refresh", "output"), ignore_errors=True)
        floor.append(timed([os.path.join(HELPERS, "floor"), urls_file, str(CONCURRENCY)]))
        c = timed([POLYFEED, "refresh", "--no-translate"], env=env)
        assert f"{FEEDS} feeds: {FEEDS} fetched" in c[3], c[3][-500:]
        cold.append(c)
        w = timed([POLYFEED, "refresh", "--no-translate"], env=env)
        assert f"0 fetched, {FEEDS} not modified" in w[3], w[3][-500:]
        warm.append(w)
        etags = os.path.join(WORK, "peer-etags.json")
        peer_cold.append(timed([PYTHON, os.path.join(HERE, "peer.py"), urls_file, etags, "cold", str(CONCURRENCY)]))
        peer_warm.append(timed([PYTHON, os.path.join(HERE, "peer.py"), urls_file, etags, "warm", str(CONCURRENCY)]))
        shutil.rmtree(os.path.join(WORK, "refresh-small", "cache"), ignore_errors=True)
        small_rss.append(timed([POLYFEED, "refresh", "--no-translate"], env=dict(env, POLYFEED_CONFIG=small))[1])
    m = lambda runs, i: med([r[i] for r in runs])
    results["refresh"] = {
        "feeds": FEEDS,
        "bytes": sum(os.path.getsize(os.path.join(WORK, "feeds", f)) for f in os.listdir(os.path.join(WORK, "feeds"))),
        "cold_s": m(cold, 0), "cold_rss_mib": m(cold, 1), "cold_cpu_s": m(cold, 2),
        "warm_s": m(warm, 0), "warm_rss_mib": m(warm, 1), "warm_cpu_s": m(warm, 2),
        "floor_s": m(floor, 0), "floor_rss_mib": m(floor, 1), "floor_cpu_s": m(floor, 2),
        "peer_cold_s": m(peer_cold, 0), "peer_cold_rss_mib": m(peer_cold, 1), "peer_cold_cpu_s": m(peer_cold, 2),
        "peer_warm_s": m(peer_warm, 0), "peer_warm_rss_mib": m(peer_warm, 1),
        "small_feeds": FEEDS // 10, "small_cold_rss_mib": med(small_rss),
    }


SCALE = (100, 1000, 10000)


def scale_feeds():
    """The feeds of `scaling`: 10,000 generated ones (the smaller sets are their first ones)."""
    feeds_dir = os.path.join(WORK, "feeds-scale")
    if not os.path.isdir(feeds_dir) or len(os.listdir(feeds_dir)) < max(SCALE):
        shutil.rmtree(feeds_dir, ignore_errors=True)
        subprocess.run([sys.executable, os.path.join(HERE, "gen_feeds.py"), feeds_dir, str(max(SCALE))], check=True)
    return feeds_dir


def scaling(port, results):
    """Cold refresh of 100, 1,000 and 10,000 generated feeds (the larger sets include the smaller),
    each against the floor on the same feeds: time per feed and peak memory, to show the cost
    stays flat as feeds are added."""
    rows = []
    for n in SCALE:
        urls = [f"http://127.0.0.1:{port}/feed-{i:04}.xml" for i in range(n)]
        urls_file = os.path.join(WORK, f"urls-{n}.txt")
        with open(urls_file, "w") as f:
            f.write("\n".join(urls))
        path = os.path.join(WORK, f"scale-{n}", "feeds.toml")
        config(path, feeds_toml(urls, "[publish]\nmarkdown = false\nhtml = false\n"))
        env = dict(os.environ, POLYFEED_CONFIG=path)
        env.pop("RUST_LOG", None)
        cold, floor = [], []
        for _ in range(SLOW_RUNS):
            shutil.rmtree(os.path.join(WORK, f"scale-{n}", "cache"), ignore_errors=True)
            floor.append(timed([os.path.join(HELPERS, "floor"), urls_file, str(CONCURRENCY)]))
            c = timed([POLYFEED, "refresh", "--no-translate"], env=env)
            assert f"{n} feeds: {n} fetched" in c[3], c[3][-500:]
            cold.append(c)
        m = lambda runs, i: med([r[i] for r in runs])
        rows.append({"feeds": n, "cold_s": m(cold, 0), "cold_cpu_s": m(cold, 2), "cold_rss_mib": m(cold, 1), "floor_s": m(floor, 0), "floor_cpu_s": m(floor, 2)})
    results["scaling"] = rows


def parse(results):
    out = subprocess.run([os.path.join(HELPERS, "parse"), os.path.join(CORPUS, "feeds"), str(RUNS)], capture_output=True, text=True, check=True)
    results["parse"] = json.loads(out.stdout)


def translation(feed_port, results, delay_ms=200, runs=None, key="translation"):
    """The translation of 200 posts by the loopback engine answering after `delay_ms`."""
    engine_port = free_port()
    engine = subprocess.Popen([os.path.join(HELPERS, "engine"), str(engine_port), str(delay_ms)])
    children.append(engine)
    wait_for(f"http://127.0.0.1:{engine_port}/stats")
    url = f"http://127.0.0.1:{feed_port}/posts.xml"
    concurrency = 8
    extra = (
        f"[translator]\nengine = \"openai\"\nbase_url = \"http://127.0.0.1:{engine_port}/v1\"\nmodel = \"bench\"\n"
        f"max_concurrency = {concurrency}\nbatch_tokens = 1500\n[publish]\nmax_entries = 25\n"
    )
    path = os.path.join(WORK, "translate", "feeds.toml")
    config(path, feeds_toml([url], extra, "backfill = 200"))
    env = dict(os.environ, POLYFEED_CONFIG=path)
    stats = lambda: json.load(opener.open(f"http://127.0.0.1:{engine_port}/stats"))
    source_tokens = None
    if key == "translation":
        # The posts' own source tokens: the engine counts the blocks it is sent, and the placeholders
        # protocol sends them shorter (no URLs, no attributes). The markup protocol sends each block
        # as it is, so one run with it counts the source (once: the slow engine's run reports time).
        markup_path = os.path.join(WORK, "translate-markup", "feeds.toml")
        shutil.rmtree(os.path.dirname(markup_path), ignore_errors=True)
        config(markup_path, feeds_toml([url], extra.replace("[translator]\n", "[translator]\nprotocol = \"markup\"\n"), "backfill = 200"))
        before = stats()
        out = timed([POLYFEED, "refresh"], env=dict(os.environ, POLYFEED_CONFIG=markup_path))[3]
        assert "200 entries translated, 0 partial, 0 failed" in out, out[-800:]
        source_tokens = stats()["source_tokens"] - before["source_tokens"]
    measured = []
    for _ in range(runs or RUNS):
        shutil.rmtree(os.path.join(WORK, "translate", "cache"), ignore_errors=True)
        shutil.rmtree(os.path.join(WORK, "translate", "output"), ignore_errors=True)
        before = stats()
        wall, rss, cpu, out = timed([POLYFEED, "refresh"], env=env)
        assert "200 entries translated, 0 partial, 0 failed" in out, out[-800:]
        phase = float(re.search(r"^translation: .*; ([\d.]+) s$", out, re.M).group(1))
        after = stats()
        again = timed([POLYFEED, "refresh"], env=env)[3]
        second = stats()["requests"] - after["requests"]
        requests = after["requests"] - before["requests"]
        measured.append({
            "wall_s": wall, "phase_s": phase, "requests": requests, "ideal_s": requests * delay_ms / 1000 / concurrency,
            "prompt_per_sent": (after["prompt_tokens"] - before["prompt_tokens"]) / max(1, after["source_tokens"] - before["source_tokens"]),
            "second_run_requests": second, "rss_mib": rss,
        })
        if source_tokens:
            measured[-1]["prompt_per_source"] = (after["prompt_tokens"] - before["prompt_tokens"]) / source_tokens
    engine.send_signal(signal.SIGINT)
    t = results[key] = {k: med([r[k] for r in measured]) for k in measured[0]}
    t.update({"posts": 200, "concurrency": concurrency, "delay_ms": delay_ms})
    t["ratio_to_ideal"] = t["wall_s"] / t["ideal_s"]
    t["phase_ratio_to_ideal"] = t["phase_s"] / t["ideal_s"]
    t["requests_per_post"] = t["requests"] / 200
    return os.path.join(WORK, "translate", "output")


def publish(results):
    out = subprocess.run([os.path.join(HELPERS, "publish"), str(RUNS)], capture_output=True, text=True, check=True)
    results["publish"] = json.loads(out.stdout.strip().splitlines()[-1])


def wrk(url, headers=()):
    args = ["wrk", "-t2", "-c32", "-d3s", "--latency"]
    for h in headers:
        args += ["-H", h]
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    return rps, float(p99.group(1)) * scale


def serve(output, nginx_port, results):
    feed = os.path.join(output, "all", "zh-CN", "atom.xml")
    size = os.path.getsize(feed)
    port = free_port()
    config_path = os.path.join(WORK, "translate", "feeds.toml")
    with open(config_path) as f:
        text = f.read()
    if "[server]" not in text:
        with open(config_path, "a") as f:
            f.write(f"\n[server]\nlisten = \"127.0.0.1:{port}\"\n")
    server = subprocess.Popen([POLYFEED, "serve"], env=dict(os.environ, POLYFEED_CONFIG=config_path), stderr=subprocess.DEVNULL)
    children.append(server)
    ours = f"http://127.0.0.1:{port}/all/zh-CN/atom.xml"
    theirs = f"http://127.0.0.1:{nginx_port}/all/zh-CN/atom.xml"
    wait_for(ours)
    etag = lambda u: opener.open(u).headers["ETag"]
    rows = {}
    for name, url in [("polyfeed", ours), ("nginx", theirs)]:
        full = [wrk(url) for _ in range(RUNS)]
        cond = [wrk(url, [f"If-None-Match: {etag(url)}"]) for _ in range(RUNS)]
        rows[name] = {
            "full_rps": med([r[0] for r in full]), "full_p99_ms": med([r[1] for r in full]),
            "not_modified_rps": med([r[0] for r in cond]), "not_modified_p99_ms": med([r[1] for r in cond]),
        }
    server.terminate()
    server.wait()
    results["serve"] = {"bytes": size, **rows}


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024 // 1024
    return f"{os.cpu_count()} cores ({cpu}), {mem} GiB RAM, {platform.system()} {platform.release()}"


def report(results):
    r, p, t, pub, s = results["refresh"], results["parse"], results["translation"], results["publish"], results["serve"]
    t2 = results["translation_slow"]
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `bench/run` on {time.strftime('%Y-%m-%d')}: {machine()}. Medians of {RUNS} runs; ratios are taken",
        "within the same run. Everything runs on 127.0.0.1. Numbers from one machine: compare the ratios, not the seconds.",
        "",
        f"## 1. Refresh at scale: {r['feeds']} feeds (~50 entries, {r['bytes'] / r['feeds'] / 1024:.0f} KiB each on average) served by nginx, concurrency {CONCURRENCY}",
        "",
        "| | wall | peak RSS | CPU |",
        "|---|---|---|---|",
        f"| floor: reqwest + feed-rs, nothing stored | {r['floor_s']:.2f} s | {r['floor_rss_mib']:.0f} MiB | {r['floor_cpu_s']:.2f} s |",
        f"| polyfeed cold (fetch, parse, detect, store, queue) | {r['cold_s']:.2f} s | {r['cold_rss_mib']:.0f} MiB | {r['cold_cpu_s']:.2f} s |",
        f"| polyfeed warm (every feed answers 304) | {r['warm_s']:.2f} s | {r['warm_rss_mib']:.0f} MiB | {r['warm_cpu_s']:.2f} s |",
        f"| peer: Python feedparser, {CONCURRENCY} threads, cold | {r['peer_cold_s']:.2f} s | {r['peer_cold_rss_mib']:.0f} MiB | {r['peer_cold_cpu_s']:.2f} s |",
        f"| peer warm (304s) | {r['peer_warm_s']:.2f} s | {r['peer_warm_rss_mib']:.0f} MiB | |",
        "",
        f"- cold / floor: **{r['cold_s'] / r['floor_s']:.2f}x** (target: within 1.5x)",
        f"- warm: **{r['warm_s']:.2f} s** (target: under 0.3 s)",
        f"- peer cold / polyfeed cold: **{r['peer_cold_s'] / r['cold_s']:.1f}x** (target: at least 60x)",
        f"- peak RSS: **{r['cold_rss_mib']:.0f} MiB** for {r['feeds']} feeds, {r['small_cold_rss_mib']:.0f} MiB for {r['small_feeds']} (target: under 40 MiB at 1,000 feeds)",
        "",
        "### The same cold refresh at 100, 1,000 and 10,000 feeds",
        "",
        "| feeds | wall | ms per feed | CPU per feed | peak RSS | floor: wall | cold / floor |",
        "|---|---|---|---|---|---|---|",
        *[f"| {x['feeds']} | {x['cold_s']:.2f} s | {1000 * x['cold_s'] / x['feeds']:.2f} | {1000 * x['cold_cpu_s'] / x['feeds']:.2f} ms | {x['cold_rss_mib']:.0f} MiB | {x['floor_s']:.2f} s | {x['cold_s'] / x['floor_s']:.2f}x |" for x in results["scaling"]],
        "",
        f"## 2. Parse: {p['files']} real feeds from the corpus ({p['mb']:.1f} MB, {p['entries']} entries)",
        "",
        "| | MB/s | entries/s |",
        "|---|---|---|",
        f"| quick-xml event scan (floor) | {p['quick_xml_mb_s']:.0f} | |",
        f"| feed-rs alone | {p['feed_rs_mb_s']:.1f} | {p['feed_rs_entries_s']:.0f} |",
        f"| polyfeed parse + normalize | {p['polyfeed_mb_s']:.1f} | {p['polyfeed_entries_s']:.0f} |",
        "",
        f"- feed-rs / polyfeed time: **{p['feed_rs_mb_s'] / p['polyfeed_mb_s']:.2f}x** (target: within 1.5x)",
        "",
        f"## 3. Translation pipeline: {t['posts']} real-sized posts, the engine answering after {t['delay_ms']} ms, concurrency {t['concurrency']}",
        "",
        f"- the translation phase: {t['phase_s']:.2f} s against the ideal {t['ideal_s']:.2f} s (requests x delay / concurrency): **{t['phase_ratio_to_ideal']:.2f}x** (target: within 1.2x)",
        f"- the whole refresh (fetch, translate, publish 200 posts and pages): {t['wall_s']:.2f} s, {t['ratio_to_ideal']:.2f}x the ideal",
        f"- {t['requests']:.0f} requests, **{t['requests_per_post']:.2f} per post**",
        f"- prompt tokens per source token: **{t['prompt_per_source']:.2f}** (target: under 1.3); per token of the blocks as sent "
        f"(inline markup as placeholders, shorter than the source): {t['prompt_per_sent']:.2f}",
        f"- requests on the second run: **{t['second_run_requests']:.0f}** (must be 0)",
        f"- the engine answering after {t2['delay_ms']} ms ({SLOW_RUNS} runs): the translation phase {t2['phase_s']:.2f} s against the ideal {t2['ideal_s']:.2f} s, **{t2['phase_ratio_to_ideal']:.2f}x**; the whole refresh {t2['ratio_to_ideal']:.2f}x (target: within 1.2x)",
        "",
        f"## 4. Publish: {pub['entries']} entries across {pub['feeds']} feeds",
        "",
        f"- from scratch: {pub['scratch_s']:.2f} s; after one new entry: {pub['one_new_s']:.3f} s: **{pub['ratio']:.0f}x faster** (target: at least 50x); nothing new: {pub['nothing_s']:.3f} s",
        "",
        f"## 5. Serve: atom.xml of {s['bytes'] / 1024:.0f} KiB, wrk (2 threads, 32 connections) against each server",
        "",
        "| | full: req/s | full: p99 | 304: req/s | 304: p99 |",
        "|---|---|---|---|---|",
    ]
    for name in ["polyfeed", "nginx"]:
        row = s[name]
        lines.append(f"| {name} | {row['full_rps']:.0f} | {row['full_p99_ms']:.2f} ms | {row['not_modified_rps']:.0f} | {row['not_modified_p99_ms']:.2f} ms |")
    lines += [
        "",
        f"- polyfeed / nginx on 304s: **{s['polyfeed']['not_modified_rps'] / s['nginx']['not_modified_rps']:.2f}x** (target: at least 0.8x); on full responses: {s['polyfeed']['full_rps'] / s['nginx']['full_rps']:.2f}x",
        "",
    ]
    return "\n".join(lines)


def main():
    signal.signal(signal.SIGTERM, cleanup)
    os.makedirs(WORK, exist_ok=True)
    feeds_dir = os.path.join(WORK, "feeds")
    if not os.path.isdir(feeds_dir) or len(os.listdir(feeds_dir)) != FEEDS:
        shutil.rmtree(feeds_dir, ignore_errors=True)
        subprocess.run([sys.executable, os.path.join(HERE, "gen_feeds.py"), feeds_dir, str(FEEDS)], check=True)
    posts_dir = os.path.join(WORK, "posts")
    # Real-sized posts: 8 to 20 paragraphs each.
    subprocess.run([sys.executable, os.path.join(HERE, "gen_feeds.py"), posts_dir, "1", "200", "8-20"], check=True)
    shutil.copy(os.path.join(posts_dir, "feed-0000.xml"), os.path.join(feeds_dir, "posts.xml"))
    results = {}
    try:
        os.makedirs(os.path.join(WORK, "translate", "output"), exist_ok=True)
        scale_dir = scale_feeds()
        feed_port, out_port, scale_port = nginx([feeds_dir, os.path.join(WORK, "translate", "output"), scale_dir])
        wait_for(f"http://127.0.0.1:{feed_port}/feed-0000.xml")
        print("refresh at scale...", flush=True)
        refresh_at_scale(feed_port, results)
        print("scaling...", flush=True)
        scaling(scale_port, results)
        print("parse...", flush=True)
        parse(results)
        print("translation...", flush=True)
        output = translation(feed_port, results)
        print("translation, a slow engine...", flush=True)
        translation(feed_port, results, delay_ms=2000, runs=SLOW_RUNS, key="translation_slow")
        print("publish...", flush=True)
        publish(results)
        print("serve...", flush=True)
        serve(output, out_port, results)
    finally:
        cleanup()
    text = report(results)
    # The real-model section (bench/real_models) and the before/after history ride along.
    for extra in ("REAL_MODELS.md", "HISTORY.md"):
        path = os.path.join(HERE, extra)
        if os.path.exists(path):
            with open(path) as f:
                text += "\n" + f.read()
    with open(os.path.join(HERE, "RESULTS.md"), "w") as f:
        f.write(text)
    with open(os.path.join(WORK, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(text)


if __name__ == "__main__":
    main()
