"""A/B of polyfeed builds against the floor in one run: a cold `refresh --no-translate` of the
first N generated feeds (the bench's 1,000, or its 10,000 when N > 1,000), the builds alternating,
medians of RUNS. bench/HISTORY.md's A/B tables come from it. Needs nginx, GNU time and the helpers
bench/run builds. Usage: ab.py RUNS N BINARY [BINARY...]"""
import os, sys, shutil, statistics
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.argv, args = sys.argv[:1], sys.argv[1:]
import harness as h
runs, n, bins = int(args[0]), int(args[1]), args[2:]
os.makedirs(h.WORK, exist_ok=True)
feeds_dir = h.scale_feeds() if n > 1000 else os.path.join(h.WORK, "feeds")
if not os.path.isdir(feeds_dir):
    import subprocess
    subprocess.run([sys.executable, os.path.join(h.HERE, "gen_feeds.py"), feeds_dir, str(1000)], check=True)
try:
    (port,) = h.nginx([feeds_dir])
    h.wait_for(f"http://127.0.0.1:{port}/feed-0000.xml")
    urls = [f"http://127.0.0.1:{port}/feed-{i:04}.xml" for i in range(n)]
    uf = os.path.join(h.WORK, "ab-urls.txt")
    open(uf, "w").write("\n".join(urls))
    res = {b: [] for b in bins}; floor = []
    for r in range(runs):
        floor.append(h.timed([os.path.join(h.HELPERS, "floor"), uf, str(h.CONCURRENCY)]))
        for b in bins:
            d = os.path.join(h.WORK, f"ab-{bins.index(b)}")
            shutil.rmtree(d, ignore_errors=True)
            h.config(os.path.join(d, "feeds.toml"), h.feeds_toml(urls, "[publish]\nmarkdown = false\nhtml = false\n"))
            env = dict(os.environ, POLYFEED_CONFIG=os.path.join(d, "feeds.toml")); env.pop("RUST_LOG", None)
            c = h.timed([b, "refresh", "--no-translate"], env=env, cwd=d)
            assert f"{n} feeds: {n} fetched" in c[3], c[3][-500:]
            res[b].append(c)
    m = lambda rs, i: statistics.median([x[i] for x in rs])
    print(f"floor: {m(floor,0):.3f} s  {m(floor,2):.2f} CPU-s  {m(floor,1):.0f} MiB")
    for b in bins:
        print(f"{b}: {m(res[b],0):.3f} s ({m(res[b],0)/m(floor,0):.2f}x)  {m(res[b],2):.2f} CPU-s  {m(res[b],1):.0f} MiB   walls {[round(x[0],2) for x in res[b]]}")
finally:
    h.stop_nginx()
