"""Writes N distinct feeds shaped like real blogs (RSS 2.0 and Atom, ~50 entries, 20-100 KB each),
their text taken from a real post. Usage: gen_feeds.py OUT_DIR N [ENTRIES [MIN-MAX paragraphs]]"""
import html
import os
import random
import re
import sys

here = os.path.dirname(os.path.abspath(__file__))
source = open(os.path.join(here, "..", "tests", "fixtures", "llms-in-2024.html"), encoding="utf-8").read()
paragraphs = re.findall(r"<(?:p|li)>.*?</(?:p|li)>", source, re.S)
headings = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<h4[^>]*>(.*?)</h4>", source, re.S)]


def entry_html(rng, size, tag):
    # Each paragraph made unique to its post, as real posts' paragraphs are.
    parts = [re.sub(r"^<(p|li)>", lambda m: f"<{m.group(1)}>In part {k} of {tag}: ", rng.choice(paragraphs)) for k in range(size)]
    if rng.random() < 0.3:
        parts.insert(1, "<pre><code>llm -m gemini-1.5-flash-8b 'describe this image'</code></pre>")
    return "".join(parts)


def write(out, n, per_feed, sizes=(1, 5)):
    os.makedirs(out, exist_ok=True)
    for f in range(n):
        rng = random.Random(f)
        size = rng.randint(*sizes)
        host = f"blog{f}.example.org"
        items = []
        for i in range(per_feed):
            title = f"{rng.choice(headings)} ({f}.{i})"
            link = f"https://{host}/2026/Nov/{28 - i % 28}/post-{i}/"
            date_day = 28 - i % 28
            body = entry_html(rng, size if sizes[1] <= 5 else rng.randint(*sizes), f"post {f}.{i}")
            if f % 2:
                items.append(
                    f"<entry><title>{html.escape(title)}</title><link href=\"{link}\" rel=\"alternate\"/>"
                    f"<published>2026-11-{date_day:02}T10:{i % 60:02}:00+00:00</published><updated>2026-11-{date_day:02}T10:{i % 60:02}:00+00:00</updated>"
                    f"<id>{link}#atom-everything</id><summary type=\"html\">{html.escape(body)}</summary>"
                    f"<category term=\"ai\"/><category term=\"llms\"/></entry>"
                )
            else:
                items.append(
                    f"<item><title>{html.escape(title)}</title><link>{link}</link><guid isPermaLink=\"true\">{link}</guid>"
                    f"<pubDate>Sat, {date_day:02} Nov 2026 10:{i % 60:02}:00 +0000</pubDate><category>ai</category>"
                    f"<description>{html.escape(body)}</description></item>"
                )
        if f % 2:
            doc = (
                f"<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en-us\">"
                f"<title>Blog {f}</title><link href=\"https://{host}/\" rel=\"alternate\"/><id>https://{host}/</id>"
                f"<updated>2026-11-28T10:00:00+00:00</updated><author><name>Author {f}</name></author>{''.join(items)}</feed>"
            )
        else:
            doc = (
                f"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>Blog {f}</title>"
                f"<link>https://{host}/</link><description>Blog {f}</description>{''.join(items)}</channel></rss>"
            )
        with open(os.path.join(out, f"feed-{f:04}.xml"), "w", encoding="utf-8") as fh:
            fh.write(doc)


if __name__ == "__main__":
    sizes = tuple(int(x) for x in sys.argv[4].split("-")) if len(sys.argv) > 4 else (1, 5)
    write(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 50, sizes)
