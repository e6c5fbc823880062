"""Checks one real-model run (see tests/real_model.sh). Usage: check.py NAME DIR POLYFEED SECONDS SHARE

- every block stored as translated passes the faithfulness checks again, read back independently by
  `polyfeed verify` (source and translation files built from the store);
- each of those translations is what the published JSON Feed carries;
- at least SHARE (0 to 1) of the feed's blocks were translated;
- prints blocks translated, blocks rejected with their reasons, and seconds per block."""
import html
import json
import re
import sqlite3
import subprocess
import sys

name, work, polyfeed, seconds, share = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
feed_file = re.search(r'^url = "http://[^/]+/([^"]+)"', open(f"{work}/feeds.toml").read(), re.M).group(1)
site_blocks = json.load(open(f"{work}/../site/blocks.json"))["blocks"][feed_file]


def fail(why):
    print(f"[real-model] {name}: FAILED: {why}", file=sys.stderr)
    sys.exit(1)


db = sqlite3.connect(f"{work}/cache/polyfeed.sqlite")
rows = db.execute("SELECT source, translation FROM memory WHERE lang = 'zh-CN' ORDER BY created_at, hash").fetchall()

rejected = []
for line in open(f"{work}/log.json"):
    try:
        event = json.loads(line)
    except ValueError:
        continue
    fields = event.get("fields", {})
    if fields.get("message") == "translation rejected":
        rejected.append(fields.get("reason", "?"))

translated = len(rows)
print(f"[real-model] {name}: {translated} of {site_blocks} blocks translated, {len(rejected)} rejected by the checks, "
      f"{seconds / max(1, translated + len(rejected)):.1f} s per block ({seconds:.0f} s in all)")
for reason in rejected:
    print(f"[real-model]   rejected: {reason}")

# The checks again, from outside the run: one block per line pair, in order.
with open(f"{work}/src.html", "w") as s, open(f"{work}/tr.html", "w") as t:
    for source, translation in rows:
        s.write(f"<p>{source}</p>\n")
        t.write(f"<p>{translation}</p>\n")
verify = subprocess.run([polyfeed, "verify", f"{work}/src.html", f"{work}/tr.html", "--lang", "zh-CN", "--json"],
                        capture_output=True, text=True)
report = json.loads(verify.stdout)
bad = [r for r in report["rows"] if r["status"] != "ok"]
if bad or verify.returncode != 0:
    fail(f"stored translations that fail the checks: {bad[:3]}")

# What was stored is what was published.
published = json.load(open(f"{work}/output/simonwillison/zh-CN/feed.json"))
def plain(s):
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", s))).strip()
text = " ".join(plain(item.get("content_html", "")) + " " + plain(item.get("title", "")) for item in published["items"])
missing = [tr for _, tr in rows if plain(tr)[:40] not in text]
if missing:
    fail(f"translations not in the published feed: {missing[:3]}")

if translated < share * site_blocks:
    fail(f"only {translated} of {site_blocks} blocks translated ({translated / site_blocks:.0%}; at least {share:.0%} expected)")
print(f"[real-model] {name}: ok")
