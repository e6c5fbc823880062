"""Writes the real-model checks' feeds into DIR, cut from a real post (FIXTURE):
small.xml (two entries, 14 blocks with their titles) and tiny.xml (one entry, 4 blocks), and
bench.json: the first 30 long paragraphs, for the benchmark. Usage: make_feed.py FIXTURE DIR"""
import html
import json
import re
import sys

fixture, out = sys.argv[1], sys.argv[2]
page = open(fixture, encoding="utf-8").read()
blocks = [m.group(0) for m in re.finditer(r"<(p|li|h4)\b[^>]*>.*?</\1>", page, re.S)]
paragraphs = [b for b in blocks if b.startswith("<p") and len(b) > 150]
items = [b for b in blocks if b.startswith("<li")]

intro = paragraphs[0]
sequel = next(b for b in blocks if "This is a sequel" in b)
gpt4 = [b for b in paragraphs if "GPT-4" in b or "Gemini" in b][1:5]


def entry(title, slug, day, body):
    link = f"https://simonwillison.net/2024/Dec/{day}/{slug}/"
    return (
        f"<entry><title>{html.escape(title)}</title><link href=\"{link}\" rel=\"alternate\"/>"
        f"<published>2024-12-{day}T18:00:00+00:00</published><updated>2024-12-{day}T18:00:00+00:00</updated>"
        f"<id>{link}</id><summary type=\"html\">{html.escape(body)}</summary></entry>"
    )


def feed(entries):
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en-us">'
        '<title>Simon Willison\'s Weblog</title><link href="https://simonwillison.net/" rel="alternate"/>'
        '<id>https://simonwillison.net/</id><updated>2024-12-31T18:00:00+00:00</updated>'
        "<author><name>Simon Willison</name></author>" + "".join(entries) + "</feed>\n"
    )


first = entry("Things we learned about LLMs in 2024", "llms-in-2024", 31,
              intro + sequel + "<p>In this article:</p><ul>" + "".join(items[:5]) + "</ul>")
second = entry("The GPT-4 barrier was comprehensively broken", "gpt-4-barrier", 30, "".join(gpt4))
tiny = entry("Things we learned about LLMs in 2024", "llms-in-2024", 31, intro + "<ul>" + items[0] + items[1] + "</ul>")

open(f"{out}/small.xml", "w", encoding="utf-8").write(feed([first, second]))
open(f"{out}/tiny.xml", "w", encoding="utf-8").write(feed([tiny]))
counts = {"small.xml": 1 + 8 + 1 + len(gpt4), "tiny.xml": 1 + 3}
json.dump({"blocks": counts, "bench": paragraphs[:30]}, open(f"{out}/blocks.json", "w"), ensure_ascii=False)
