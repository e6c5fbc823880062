"""Writes the real-model checks' feed into DIR, cut from a real post (FIXTURE): post.xml, one
entry of the post's title and its first 30 long paragraphs (31 blocks: the benchmark's post), and
blocks.json: the feed's block count, and the 30 paragraphs for the benchmark.
Usage: make_feed.py FIXTURE DIR"""
import html
import json
import re
import sys

fixture, out = sys.argv[1], sys.argv[2]
page = open(fixture, encoding="utf-8").read()
blocks = [m.group(0) for m in re.finditer(r"<(p|li|h4)\b[^>]*>.*?</\1>", page, re.S)]
paragraphs = [b for b in blocks if b.startswith("<p") and len(b) > 150][:30]

link = "https://simonwillison.net/2024/Dec/31/llms-in-2024/"
entry = (
    f"<entry><title>{html.escape('Things we learned about LLMs in 2024')}</title><link href=\"{link}\" rel=\"alternate\"/>"
    f"<published>2024-12-31T18:00:00+00:00</published><updated>2024-12-31T18:00:00+00:00</updated>"
    f"<id>{link}</id><summary type=\"html\">{html.escape(''.join(paragraphs))}</summary></entry>"
)
feed = (
    '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en-us">'
    '<title>Simon Willison\'s Weblog</title><link href="https://simonwillison.net/" rel="alternate"/>'
    '<id>https://simonwillison.net/</id><updated>2024-12-31T18:00:00+00:00</updated>'
    "<author><name>Simon Willison</name></author>" + entry + "</feed>\n"
)
open(f"{out}/post.xml", "w", encoding="utf-8").write(feed)
json.dump({"blocks": {"post.xml": 1 + len(paragraphs)}, "bench": paragraphs}, open(f"{out}/blocks.json", "w"), ensure_ascii=False)
