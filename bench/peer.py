"""The peer: the same refresh done the way Python feed translators do it, with feedparser and a
thread pool. Usage: peer.py URLS_FILE ETAGS_FILE cold|warm THREADS. Prints the entries parsed."""
import concurrent.futures
import json
import sys
import urllib.error
import urllib.request

import feedparser

urls = open(sys.argv[1]).read().split()
etag_file, mode, threads = sys.argv[2], sys.argv[3], int(sys.argv[4])
etags = json.load(open(etag_file)) if mode == "warm" else {}
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def one(url):
    headers = {"If-None-Match": etags[url]} if url in etags else {}
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=60) as r:
            body, etag = r.read(), r.headers.get("ETag")
        return url, etag, len(feedparser.parse(body).entries)
    except urllib.error.HTTPError as e:
        if e.code == 304:
            return url, etags.get(url), 0
        raise


with concurrent.futures.ThreadPoolExecutor(threads) as pool:
    results = list(pool.map(one, urls))
if mode == "cold":
    json.dump({u: e for u, e, _ in results if e}, open(etag_file, "w"))
print(sum(n for _, _, n in results))
