"""Real models on the same 30 paragraphs of a real post (simonwillison.net's "Things we learned
about LLMs in 2024"): the `local` engine in-process (Qwen2.5-Coder 0.5B and 1.5B, Q4_K_M) and
llama.cpp's llama-server through the `openai` engine (the same models), one block per request.
Reports seconds per block and per 1,000 source tokens, blocks translated and rejected by the
checks, and peak memory (polyfeed's for `local`, the server's for llama-server). Writes
bench/REAL_MODELS.md and replaces that section of bench/RESULTS.md.

Needs tests/real_model/setup.sh (run by bench/real_models) and a release build with --features local.
Usage: real_models.py [RUNS]"""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from harness import free_port, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CACHE = os.environ.get("REAL_MODEL_CACHE", os.path.join(ROOT, "target", "real-model"))
POLYFEED = os.path.join(ROOT, "target", "release", "polyfeed")
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 1
MODELS = {"0.5B": "q05.gguf", "1.5B": "q15.gguf"}
THREADS = os.cpu_count()
procs = []


def stop_all(*_):
    for p in procs:
        if p.poll() is None:
            p.terminate()
            p.wait()
    procs.clear()


def translator(kind, model, llama_port):
    if kind == "local":
        return f'engine = "local"\nmodel_path = "{os.path.join(CACHE, MODELS[model])}"\ntimeout = 600\n'
    return (f'engine = "openai"\nbase_url = "http://127.0.0.1:{llama_port}/v1"\nmodel = "qwen2.5-coder-{model.lower()}"\n'
            f"max_concurrency = 1\nbatch_tokens = 50\ntimeout = 600\n")


def one_run(work, feed_url, table):
    """A fresh state, one refresh; returns (seconds of the translation phase, translated, rejected, peak KiB)."""
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    with open(os.path.join(work, "feeds.toml"), "w") as f:
        f.write(f'target_languages = ["zh-CN"]\n\n[translator]\n{table}temperature = 0\nmax_attempts = 1\nallow_partial = true\n\n'
                f'[[feeds]]\nname = "post"\nurl = "{feed_url}"\nallow_private_network = true\n')
    out = subprocess.run(["/usr/bin/time", "-f", "%M", POLYFEED, "--config", os.path.join(work, "feeds.toml"), "refresh"],
                         capture_output=True, text=True)
    if out.returncode not in (0, 2):
        raise SystemExit(f"refresh failed ({out.returncode}): {out.stdout}\n{out.stderr[-2000:]}")
    m = re.search(r"^translation: .*?(\d+) blocks translated in \d+ requests, (\d+) rejected by the checks.*; ([\d.]+) s$", out.stdout, re.M)
    if not m:
        raise SystemExit(f"no translation summary in: {out.stdout}")
    peak_kib = int(out.stderr.strip().splitlines()[-1])
    return float(m.group(3)), int(m.group(1)), int(m.group(2)), peak_kib


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))


def main():
    signal.signal(signal.SIGTERM, stop_all)
    tmp = tempfile.mkdtemp(prefix="polyfeed-real-")
    site = os.path.join(tmp, "site")
    os.makedirs(site)
    subprocess.run([sys.executable, os.path.join(ROOT, "tests", "real_model", "make_feed.py"),
                    os.path.join(ROOT, "tests", "fixtures", "llms-in-2024.html"), site], check=True)
    paragraphs = json.load(open(os.path.join(site, "blocks.json")))["bench"]
    with open(os.path.join(site, "post.xml"), "w") as f:
        body = "".join(paragraphs).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        f.write('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
                '<id>https://simonwillison.net/</id><updated>2024-12-31T18:00:00Z</updated><author><name>Simon Willison</name></author>'
                '<entry><title>Things we learned about LLMs in 2024</title><link href="https://simonwillison.net/2024/Dec/31/llms-in-2024/"/>'
                f'<id>https://simonwillison.net/2024/Dec/31/llms-in-2024/</id><updated>2024-12-31T18:00:00Z</updated><summary type="html">{body}</summary></entry></feed>')
    site_port = free_port()
    procs.append(subprocess.Popen([sys.executable, "-m", "http.server", str(site_port), "--bind", "127.0.0.1", "--directory", site],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    feed_url = f"http://127.0.0.1:{site_port}/post.xml"
    wait_for(feed_url)

    rows = []
    source_tokens = None
    try:
        for model in MODELS:
            port = free_port()
            server = subprocess.Popen([os.path.join(CACHE, "llama-server"), "-m", os.path.join(CACHE, MODELS[model]), "--host", "127.0.0.1",
                                       "--port", str(port), "-c", "4096", "-t", str(THREADS)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(server)
            wait_for(f"http://127.0.0.1:{port}/health", 180)
            if source_tokens is None:
                # Exact token counts, from the models' own tokenizer (the same for both sizes).
                def count(text):
                    req = urllib.request.Request(f"http://127.0.0.1:{port}/tokenize", data=json.dumps({"content": text}).encode(),
                                                 headers={"content-type": "application/json"})
                    return len(json.load(urllib.request.urlopen(req))["tokens"])
                source_tokens = sum(count(p) for p in paragraphs) + count("Things we learned about LLMs in 2024")
            for kind in ("llama-server", "local"):
                if kind == "local":
                    server.terminate()
                    server.wait()
                runs = []
                for i in range(RUNS):
                    print(f"{kind} {model}, run {i + 1}/{RUNS}...", flush=True)
                    runs.append(one_run(os.path.join(tmp, "work"), feed_url, translator(kind, model, port)))
                seconds = statistics.median(r[0] for r in runs)
                translated, rejected = runs[-1][1], runs[-1][2]
                blocks = translated + rejected
                peak = vm_hwm_kib(server.pid) if kind == "llama-server" else statistics.median(r[3] for r in runs)
                rows.append({"engine": kind, "model": model, "seconds": seconds, "blocks": blocks, "translated": translated,
                             "rejected": rejected, "per_block": seconds / max(1, blocks),
                             "per_ktok": seconds / (source_tokens / 1000), "peak_mib": peak / 1024})
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)

    cpu = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read())
    lines = [
        "## Real models: the local engine and llama-server",
        "",
        f"Measured by `bench/real_models` on {cpu.group(1) if cpu else 'this machine'}, {THREADS} threads, "
        f"{time.strftime('%Y-%m-%d')}: the same 30 paragraphs of a real post plus its title ({source_tokens} source tokens, "
        f"counted by the models' tokenizer), one block per request, greedy, Qwen2.5-Coder-Instruct Q4_K_M. "
        f"Median of {RUNS} run(s) of the translation phase. Peak memory: polyfeed's whole process for `local` (model included), "
        "the server's for llama-server (polyfeed's own is ~30 MiB).",
        "",
        "| engine | model | blocks translated / rejected | s per block | s per 1,000 source tokens | peak memory |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['engine']} | {r['model']} | {r['translated']} / {r['rejected']} | {r['per_block']:.2f} | "
                     f"{r['per_ktok']:.1f} | {r['peak_mib']:.0f} MiB |")
    by = {(r["engine"], r["model"]): r for r in rows}
    lines.append("")
    for model in MODELS:
        local, server = by.get(("local", model)), by.get(("llama-server", model))
        if local and server:
            lines.append(f"- {model}: local takes **{local['per_block'] / server['per_block']:.2f}x** llama-server's time per block.")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(HERE, "REAL_MODELS.md"), "w") as f:
        f.write(text)
    results = os.path.join(HERE, "RESULTS.md")
    if os.path.exists(results):
        old = open(results).read()
        start = old.find("## Real models")
        if start >= 0:
            end = old.find("\n## ", start + 1)
            old = old[:start] + (old[end + 1:] if end >= 0 else "")
        with open(results, "w") as f:
            f.write(old.rstrip("\n") + "\n\n" + text)
    print(text)


if __name__ == "__main__":
    main()
