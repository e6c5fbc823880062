"""Real models on the same 30 paragraphs of a real post (simonwillison.net's "Things we learned
about LLMs in 2024"), Qwen2.5-Coder 0.5B and 1.5B (Q4_K_M), greedy:

- llama.cpp's llama-server through the `openai` engine, with each protocol (`markup`: the HTML as
  it is; `placeholders`: inline markup as numbered markers), and the `local` engine in-process;
- blocks translated and rejected by the checks (every translated block is checked again by
  `polyfeed verify`), seconds per block and per 1,000 source tokens, prompt and completion tokens
  per source token (from polyfeed's usage table), peak memory (polyfeed's for `local`, the server's
  for llama-server);
- quality: chrF (sacrebleu, character 6-grams) against a human translation, on the paragraphs of
  the example post's faithful first half (`bench/src/bin/pairs.rs`): polyfeed's pipeline against the
  same model prompted directly, on the paragraphs polyfeed published.

Writes bench/REAL_MODELS.md and replaces that section of bench/RESULTS.md. Needs
tests/real_model/setup.sh (run by bench/real_models), a release build with --features local, the
bench helpers (pairs), and sacrebleu. Usage: real_models.py [RUNS]"""
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from harness import free_port, replace_section, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CACHE = os.environ.get("REAL_MODEL_CACHE", os.path.join(ROOT, "target", "real-model"))
POLYFEED = os.path.join(ROOT, "target", "release", "polyfeed")
PAIRS = os.path.join(HERE, "target", "release", "pairs")
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


def translator(kind, model, llama_port, protocol):
    head = f'protocol = "{protocol}"\n'
    if kind == "local":
        return head + f'engine = "local"\nmodel_path = "{os.path.join(CACHE, MODELS[model])}"\ntimeout = 600\n'
    return head + (f'engine = "openai"\nbase_url = "http://127.0.0.1:{llama_port}/v1"\nmodel = "qwen2.5-coder-{model.lower()}"\n'
                   f"max_concurrency = 1\nbatch_tokens = 50\ntimeout = 600\n")


def feed(path, title, blocks):
    body = "".join(blocks).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    with open(path, "w") as f:
        f.write('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
                '<id>https://simonwillison.net/</id><updated>2024-12-31T18:00:00Z</updated><author><name>Simon Willison</name></author>'
                f'<entry><title>{title}</title><link href="https://simonwillison.net/2024/Dec/31/llms-in-2024/"/>'
                f'<id>https://simonwillison.net/2024/Dec/31/llms-in-2024/</id><updated>2024-12-31T18:00:00Z</updated><summary type="html">{body}</summary></entry></feed>')


def one_run(work, feed_url, table):
    """A fresh state, one refresh. Returns the translation phase's seconds, blocks translated and
    rejected, peak KiB, tokens (prompt, completion), and the memory's (source, translation) rows."""
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    with open(os.path.join(work, "feeds.toml"), "w") as f:
        f.write(f'target_languages = ["zh-CN"]\n\n[translator]\n{table}temperature = 0\nmax_attempts = 1\nallow_partial = true\npartial_share = 0\n\n'
                f'[[feeds]]\nname = "post"\nurl = "{feed_url}"\nallow_private_network = true\n')
    out = subprocess.run(["/usr/bin/time", "-f", "%M", POLYFEED, "--config", os.path.join(work, "feeds.toml"), "refresh"],
                         capture_output=True, text=True)
    # The refresh's log (each rejected block with its reason) stays with the run's state.
    with open(os.path.join(work, "refresh.log"), "w") as log:
        log.write(out.stdout + out.stderr)
    if out.returncode not in (0, 2):
        raise SystemExit(f"refresh failed ({out.returncode}): {out.stdout}\n{out.stderr[-2000:]}")
    m = re.search(r"^translation: .*?(\d+) blocks translated in \d+ requests, .*?(\d+) rejected by the checks.*; ([\d.]+) s$", out.stdout, re.M)
    if not m:
        raise SystemExit(f"no translation summary in: {out.stdout}")
    peak_kib = int(out.stderr.strip().splitlines()[-1])
    db = sqlite3.connect(os.path.join(work, "cache", "polyfeed.sqlite"))
    prompt, completion = db.execute("SELECT COALESCE(sum(prompt_tokens), 0), COALESCE(sum(completion_tokens), 0) FROM usage").fetchone()
    rows = db.execute("SELECT source, translation FROM memory").fetchall()
    db.close()
    # Every stored block passes the checks again, read back by `polyfeed verify`.
    with open(os.path.join(work, "src.html"), "w") as s, open(os.path.join(work, "tr.html"), "w") as t:
        for source, translation in rows:
            s.write(f"<p>{source}</p>\n")
            t.write(f"<p>{translation}</p>\n")
    verify = subprocess.run([POLYFEED, "verify", os.path.join(work, "src.html"), os.path.join(work, "tr.html"), "--lang", "zh-CN", "--json"],
                            capture_output=True, text=True)
    bad = [r for r in json.loads(verify.stdout)["rows"] if r["status"] != "ok"] if verify.stdout else ["no report"]
    if bad:
        raise SystemExit(f"stored translations that fail verify: {bad[:3]}")
    return {"seconds": float(m.group(3)), "translated": int(m.group(1)), "rejected": int(m.group(2)), "peak_kib": peak_kib,
            "prompt": prompt, "completion": completion, "rows": rows}


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))


def chat(port, system, user):
    body = {"messages": [{"role": "system", "content": system}, {"role": "user", "content": user}], "temperature": 0, "max_tokens": 1024}
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=600))["choices"][0]["message"]["content"].strip()


def plain(html_text):
    import html
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", html_text))).strip()


def chrf(hyps, refs):
    import sacrebleu
    return sacrebleu.corpus_chrf(hyps, [refs]).score


def main():
    signal.signal(signal.SIGTERM, stop_all)
    tmp = tempfile.mkdtemp(prefix="polyfeed-real-")
    site = os.path.join(tmp, "site")
    os.makedirs(site)
    subprocess.run([sys.executable, os.path.join(ROOT, "tests", "real_model", "make_feed.py"),
                    os.path.join(ROOT, "tests", "fixtures", "llms-in-2024.html"), site], check=True)
    # post.xml: the post's title and these 30 paragraphs, as tests/real_model.sh checks them.
    paragraphs = json.load(open(os.path.join(site, "blocks.json")))["bench"]
    pairs = json.loads(subprocess.run([PAIRS, os.path.join(ROOT, "tests", "fixtures", "llms-in-2024.html"),
                                       os.path.join(ROOT, "tests", "fixtures", "llms-in-2024.zh-CN.md")], capture_output=True, text=True, check=True).stdout)
    feed(os.path.join(site, "pairs.xml"), "Pairs", [f"<p>{p['html']}</p>" for p in pairs])
    site_port = free_port()
    procs.append(subprocess.Popen([sys.executable, "-m", "http.server", str(site_port), "--bind", "127.0.0.1", "--directory", site],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    feed_url = f"http://127.0.0.1:{site_port}/post.xml"
    pairs_url = f"http://127.0.0.1:{site_port}/pairs.xml"
    wait_for(feed_url)

    rows, quality = [], []
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

            # Quality: polyfeed's pipeline and the model prompted directly, on the same paragraphs.
            print(f"chrF {model}...", flush=True)
            piped = one_run(os.path.join(tmp, "pairs"), pairs_url, translator("llama-server", model, port, "placeholders"))
            by_source = {plain(s): plain(t) for s, t in piped["rows"]}
            direct_system = "Translate the user's text from English into Simplified Chinese. Reply with the translation only."
            everything = [plain(chat(port, direct_system, p["text"])) for p in pairs]
            published = [(p, by_source.get(plain(p["html"])), d) for p, d in zip(pairs, everything)]
            published = [(p, t, d) for p, t, d in published if t]
            direct = [d for _, _, d in published]
            refs = [p["reference"] for p, _, _ in published]
            quality.append({"model": model, "pairs": len(pairs), "published": len(published),
                            "pipeline": chrf([t for _, t, _ in published], refs), "direct": chrf(direct, refs),
                            "direct_all": chrf(everything, [p["reference"] for p in pairs])})

            for kind, protocol in (("llama-server", "markup"), ("llama-server", "placeholders"), ("local", "placeholders")):
                if kind == "local":
                    server.terminate()
                    server.wait()
                runs = []
                for i in range(RUNS):
                    print(f"{kind} {model} {protocol}, run {i + 1}/{RUNS}...", flush=True)
                    runs.append(one_run(os.path.join(tmp, "work"), feed_url, translator(kind, model, port, protocol)))
                seconds = statistics.median(r["seconds"] for r in runs)
                last = runs[-1]
                blocks = last["translated"] + last["rejected"]
                peak = vm_hwm_kib(server.pid) if kind == "llama-server" else statistics.median(r["peak_kib"] for r in runs)
                rows.append({"engine": kind, "model": model, "protocol": protocol, "seconds": seconds, "blocks": blocks,
                             "translated": last["translated"], "rejected": last["rejected"], "per_block": seconds / max(1, blocks),
                             "per_ktok": seconds / (source_tokens / 1000), "peak_mib": peak / 1024,
                             "prompt_per": last["prompt"] / source_tokens, "completion_per": last["completion"] / source_tokens})
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)

    cpu = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read())
    lines = [
        "## Real models: protocols, the local engine and llama-server",
        "",
        f"Measured by `bench/real_models` on {cpu.group(1) if cpu else 'this machine'}, {THREADS} threads, "
        f"{time.strftime('%Y-%m-%d')}: the same 30 paragraphs of a real post plus its title ({source_tokens} source tokens, "
        f"counted by the models' tokenizer), greedy, Qwen2.5-Coder-Instruct Q4_K_M, `allow_partial` with `partial_share = 0` (every "
        f"block that passes is kept). Median of {RUNS} run(s) of the translation phase. Every translated block passed `polyfeed verify` "
        "again. Tokens per source token: what polyfeed's usage table recorded (the server's counts), instructions included. Peak "
        "memory: polyfeed's whole process for `local` (model included), the server's for llama-server (polyfeed's own is ~30 MiB).",
        "",
        "| engine | model | protocol | blocks translated / of | accepted | s per block | s per 1,000 source tokens | prompt / completion tokens per source token | peak memory |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['engine']} | {r['model']} | {r['protocol']} | {r['translated']} / {r['blocks']} | "
                     f"{100 * r['translated'] / max(1, r['blocks']):.0f}% | {r['per_block']:.2f} | {r['per_ktok']:.1f} | "
                     f"{r['prompt_per']:.2f} / {r['completion_per']:.2f} | {r['peak_mib']:.0f} MiB |")
    by = {(r["engine"], r["model"], r["protocol"]): r for r in rows}
    lines.append("")
    for model in MODELS:
        local, server = by.get(("local", model, "placeholders")), by.get(("llama-server", model, "placeholders"))
        if local and server:
            lines.append(f"- {model}: local takes **{local['per_block'] / server['per_block']:.2f}x** llama-server's time per block "
                         f"and **{local['peak_mib'] / server['peak_mib']:.2f}x** its memory.")
    lines += [
        "",
        "Quality, chrF against the published human translation of the example post's faithful first half "
        f"({quality[0]['pairs'] if quality else 0} paragraphs, aligned by `bench/src/bin/pairs.rs`): polyfeed's pipeline (llama-server, "
        "placeholders) on the paragraphs it published, against the same model prompted directly (\"Translate the user's text from "
        "English into Simplified Chinese\") on the same paragraphs, and on all of them.",
        "",
        "| model | published / paragraphs | chrF, polyfeed | chrF, direct (same paragraphs) | chrF, direct (all) |",
        "|---|---|---|---|---|",
    ]
    for q in quality:
        lines.append(f"| {q['model']} | {q['published']} / {q['pairs']} | {q['pipeline']:.1f} | {q['direct']:.1f} | {q['direct_all']:.1f} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(HERE, "REAL_MODELS.md"), "w") as f:
        f.write(text)
    replace_section("## Real models", text)
    print(text)


if __name__ == "__main__":
    main()
