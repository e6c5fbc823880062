//! Nothing unsanitized leaves publish/: every republished HTML fragment goes through here.
//! No script, no event handlers, no javascript: URLs, no styles, no iframes unless their host is
//! allowed; relative URLs are made absolute against the original post.

use std::collections::HashSet;

use ammonia::{Builder, UrlRelative};
use url::Url;

/// Sanitizes an HTML fragment. `base` is the original post's URL; `iframe_hosts` the hosts whose
/// iframes are kept.
pub fn sanitize(html: &str, base: Option<&Url>, iframe_hosts: &[String]) -> String {
    let mut b = Builder::default();
    b.add_tags(["figure", "figcaption", "details", "summary", "mark", "time", "picture", "source", "section", "article", "aside"]);
    b.add_generic_attributes(["class", "id", "lang", "dir"]);
    b.add_tag_attributes("img", ["loading", "srcset", "sizes"]);
    b.add_tag_attributes("source", ["srcset", "type", "media"]);
    b.add_tag_attributes("time", ["datetime"]);
    b.add_tag_attributes("code", ["class"]);
    b.url_schemes(HashSet::from(["http", "https", "mailto"]));
    b.url_relative(match base {
        Some(u) => UrlRelative::RewriteWithBase(u.clone()),
        None => UrlRelative::PassThrough,
    });
    if !iframe_hosts.is_empty() {
        b.add_tags(["iframe"]);
        b.add_tag_attributes("iframe", ["src", "width", "height", "allowfullscreen", "title"]);
        let hosts: Vec<String> = iframe_hosts.to_vec();
        b.attribute_filter(move |element, attribute, value| {
            if element == "iframe" && attribute == "src" {
                let allowed =
                    Url::parse(value).ok().filter(|u| u.scheme() == "https").and_then(|u| u.host_str().map(str::to_string)).is_some_and(|h| hosts.contains(&h));
                return allowed.then(|| value.into());
            }
            Some(value.into())
        });
    }
    b.clean(html).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(html: &str) -> String {
        sanitize(html, Some(&Url::parse("https://blog.example/2024/post/").unwrap()), &[])
    }

    #[test]
    fn hostile_markup_is_removed() {
        let cases = [
            ("<p>Hi<script>alert(1)</script></p>", "<p>Hi</p>"),
            ("<img src=\"x.png\" onerror=\"alert(1)\">", "<img src=\"https://blog.example/2024/post/x.png\">"),
            ("<a href=\"javascript:alert(1)\">x</a>", "<a rel=\"noopener noreferrer\">x</a>"),
            ("<iframe src=\"https://evil.example/\"></iframe><p>after</p>", "<p>after</p>"),
            ("<p style=\"background:url(https://evil.example/x)\">styled</p>", "<p>styled</p>"),
            ("<style>p{background:url(x)}</style><p>s</p>", "<p>s</p>"),
            ("<svg onload=\"alert(1)\"><circle/></svg>ok", "ok"),
            ("<a href=\"/about\" onclick=\"x()\">about</a>", "<a href=\"https://blog.example/about\" rel=\"noopener noreferrer\">about</a>"),
            ("<form action=\"https://evil.example\"><input name=\"q\"></form>", ""),
        ];
        for (input, want) in cases {
            assert_eq!(clean(input), want, "{input}");
        }
    }

    #[test]
    fn translation_markers_and_code_survive() {
        let html = "<p class=\"c polyfeed-translation\" lang=\"zh-CN\">译文</p><pre><code class=\"language-rust\">let x = 1;</code></pre>";
        assert_eq!(clean(html), html);
    }

    #[test]
    fn allowed_iframes_are_kept() {
        let html = "<iframe src=\"https://www.youtube.com/embed/x\" onload=\"x()\"></iframe><iframe src=\"https://evil.example/\"></iframe>";
        let out = sanitize(html, None, &["www.youtube.com".into()]);
        assert_eq!(out, "<iframe src=\"https://www.youtube.com/embed/x\"></iframe><iframe></iframe>");
    }
}
