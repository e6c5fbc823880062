//! Small pure text helpers shared by the pipeline stages.

/// Whether XML 1.0 allows `c` in a document (tab, newline and carriage return are the only
/// control characters it allows; U+FFFE and U+FFFF are not characters).
pub fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `s.chars().all(xml_char)`, on the bytes: in UTF-8 the only characters XML forbids are the
/// control bytes other than tab, newline and carriage return, and U+FFFE and U+FFFF (a str holds
/// no surrogates). Every entry's content is checked: bytes are scanned many times faster than
/// characters are decoded.
fn all_xml_chars(s: &str) -> bool {
    // In chunks, each folded without a branch, which the compiler turns into vector instructions.
    let control = |c: &[u8]| c.iter().fold(false, |any, &b| any | ((b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r')));
    !s.as_bytes().chunks(64).any(control) && !s.contains('\u{FFFE}') && !s.contains('\u{FFFF}')
}

/// `s` without the characters XML 1.0 forbids (one such byte makes a whole feed unreadable), and
/// without character references to them (`&#1;`), which HTML parsers would turn back into them.
pub fn xml_safe(s: &str) -> std::borrow::Cow<'_, str> {
    let refs = s.contains("&#");
    if !refs && all_xml_chars(s) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out: String = s.chars().filter(|c| xml_char(*c)).collect();
    if refs {
        static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
        let re = RE.get_or_init(|| regex::Regex::new(r"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));?").expect("static regex"));
        out = re
            .replace_all(&out, |c: &regex::Captures| {
                let code = match (c.get(1), c.get(2)) {
                    (Some(h), _) => u32::from_str_radix(h.as_str(), 16).ok(),
                    (_, Some(d)) => d.as_str().parse().ok(),
                    _ => None,
                };
                match code.and_then(char::from_u32) {
                    Some(ch) if !xml_char(ch) => String::new(),
                    _ => c[0].to_string(),
                }
            })
            .into_owned();
    }
    std::borrow::Cow::Owned(out)
}

/// Attributes that hold a URL (`srcset` holds a list of them).
const URL_ATTRIBUTES: &[&str] = &["href", "src", "srcset", "poster", "cite", "data", "longdesc", "background"];

/// `html` with every URL-bearing attribute (`href`, `src`, each `srcset` candidate, `poster`,
/// `cite`, `data`...) made absolute against `base`, as a browser would resolve it. Only those
/// values change (written again in double quotes); everything else is kept byte for byte, and HTML
/// whose URLs are all absolute already is returned as it is.
///
/// One pass of `url_values` over the bytes, not a parser: building a tree (html5ever) or a
/// streaming rewriter (lol_html) per entry cost a cold refresh 10-15% of its CPU (bench/HISTORY.md),
/// and the corpus test `content_urls_resolve_as_an_html_parser_resolves_them` holds this pass to
/// html5ever's reading of every real feed's content.
pub fn absolute_urls<'a>(html: &'a str, base: &url::Url) -> std::borrow::Cow<'a, str> {
    // A value as written is entity-encoded: decoded to resolve it, encoded again.
    let resolve = |raw: &str| {
        let url = html_escape::decode_html_entities(raw.trim());
        base.join(&url)
            .map(|j| html_escape::encode_double_quoted_attribute(j.as_str()).into_owned())
            .unwrap_or_else(|_| html_escape::encode_double_quoted_attribute(raw).into_owned())
    };
    let mut out = String::new();
    let mut copied = 0;
    for v in url_values(html) {
        let value = &html[v.value.clone()];
        let fixed = if v.attr == "srcset" {
            if value.split(',').all(|c| c.trim().is_empty() || is_absolute(c.trim())) {
                continue;
            }
            value
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(|c| match c.split_once(char::is_whitespace) {
                    Some((u, descriptor)) => format!("{} {}", resolve(u), descriptor.trim()),
                    None => resolve(c),
                })
                .collect::<Vec<_>>()
                .join(", ")
        } else if is_absolute(value) {
            continue;
        } else {
            resolve(value)
        };
        if out.is_empty() {
            out.reserve(html.len() + 256);
        }
        out.push_str(&html[copied..v.span.start]);
        out.push('"');
        out.push_str(&fixed);
        out.push('"');
        copied = v.span.end;
    }
    if copied == 0 {
        return std::borrow::Cow::Borrowed(html);
    }
    out.push_str(&html[copied..]);
    std::borrow::Cow::Owned(out)
}

/// Where a URL attribute's value is written: `span` with its quotes, `value` inside them.
struct UrlValue {
    span: std::ops::Range<usize>,
    value: std::ops::Range<usize>,
    /// The attribute, one of URL_ATTRIBUTES.
    attr: &'static str,
}

/// The values of the URL attributes of every start tag, as HTML tokenizes them: quoted values
/// may hold `>`; comments and the text of raw-text elements (`script`, `style`...) hold no tags;
/// of an attribute written twice, the first counts.
fn url_values(html: &str) -> Vec<UrlValue> {
    const RAW_TEXT: &[&str] = &["script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes"];
    let b = html.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    let skip_space = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    while let Some(at) = b[i..].iter().position(|c| *c == b'<') {
        i += at + 1;
        if b[i..].starts_with(b"!--") {
            i = find(b, i + 3, b"-->").map_or(b.len(), |e| e + 3);
            continue;
        }
        if !b.get(i).is_some_and(u8::is_ascii_alphabetic) {
            continue;
        }
        let name_start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' && b[i] != b'/' {
            i += 1;
        }
        let tag = &html[name_start..i];
        let first = found.len();
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            if i >= b.len() || b[i] == b'>' {
                break;
            }
            let start = i;
            i += 1;
            while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/') {
                i += 1;
            }
            let name = &html[start..i];
            skip_space(&mut i);
            if b.get(i) != Some(&b'=') {
                continue;
            }
            i += 1;
            skip_space(&mut i);
            let (span, value) = match b.get(i) {
                Some(q @ (b'"' | b'\'')) => {
                    let end = b[i + 1..].iter().position(|c| c == q).map_or(b.len(), |p| i + 1 + p);
                    let r = (i..(end + 1).min(b.len()), i + 1..end);
                    i = r.0.end;
                    r
                }
                _ => {
                    let s = i;
                    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                        i += 1;
                    }
                    (s..i, s..i)
                }
            };
            let Some(known) = URL_ATTRIBUTES.iter().find(|a| name.eq_ignore_ascii_case(a)) else { continue };
            // A repeated attribute is ignored by HTML: only its first value is read.
            if !found[first..].iter().any(|v: &UrlValue| v.attr == *known) {
                found.push(UrlValue { span, value, attr: known });
            }
        }
        if let Some(raw) = RAW_TEXT.iter().find(|r| tag.eq_ignore_ascii_case(r)) {
            // Up to the element's end tag, whatever its case (the end, when it has none).
            let mut end = b.len();
            let mut from = i;
            while let Some(at) = find(b, from, b"</") {
                if b.get(at + 2..at + 2 + raw.len()).is_some_and(|n| n.eq_ignore_ascii_case(raw.as_bytes())) {
                    end = at;
                    break;
                }
                from = at + 2;
            }
            i = end;
        }
    }
    found
}

/// The first `needle` in `b` at or after `from`.
fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(b.get(from..)?, needle).map(|p| from + p)
}

/// A URL with a scheme: nothing to resolve.
fn is_absolute(u: &str) -> bool {
    u.trim().split_once(':').is_some_and(|(scheme, _)| !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)))
}

/// Collapses runs of whitespace to one space and trims.
pub fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Deeper nesting than this is hostile: real posts stay far below it, and HTML parsers spend
/// quadratic time (and recursive code its stack) on it.
pub const MAX_NESTING: usize = 256;

/// How deeply the elements of an HTML fragment nest, by a linear scan (no parser). Elements that
/// HTML closes implicitly (p, li, td...) and void elements are not counted.
pub fn nesting_depth(html: &str) -> usize {
    let b = html.as_bytes();
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    while let Some(pos) = b[i..].iter().position(|c| *c == b'<') {
        i += pos + 1;
        if b[i..].starts_with(b"!--") {
            i = find(b, i, b"-->").map_or(b.len(), |e| e + 3);
            continue;
        }
        let closing = b.get(i) == Some(&b'/');
        let start = i + closing as usize;
        let len = b[start..].iter().take_while(|c| c.is_ascii_alphanumeric()).count();
        if len == 0 {
            continue;
        }
        let end = start + len;
        let mut name = [0u8; 8];
        if len <= name.len() {
            for (n, c) in name.iter_mut().zip(&b[start..end]) {
                *n = c.to_ascii_lowercase();
            }
            if closes_implicitly(&name[..len]) {
                continue;
            }
        }
        let tag_end = b[end..].iter().position(|c| *c == b'>').map_or(b.len(), |p| end + p);
        if closing {
            depth = depth.saturating_sub(1);
        } else if b.get(tag_end.wrapping_sub(1)) != Some(&b'/') {
            depth += 1;
            max = max.max(depth);
        }
        i = tag_end.min(b.len());
    }
    max
}

/// Elements HTML closes implicitly (p, li, td...) and void elements: they do not nest.
fn closes_implicitly(name: &[u8]) -> bool {
    matches!(
        name,
        b"p" | b"li"
            | b"dt"
            | b"dd"
            | b"tr"
            | b"td"
            | b"th"
            | b"option"
            | b"optgroup"
            | b"thead"
            | b"tbody"
            | b"tfoot"
            | b"rb"
            | b"rt"
            | b"rp"
            | b"colgroup"
            | b"area"
            | b"base"
            | b"br"
            | b"col"
            | b"embed"
            | b"hr"
            | b"img"
            | b"input"
            | b"link"
            | b"meta"
            | b"source"
            | b"track"
            | b"wbr"
            | b"param"
    )
}

/// HTML nested deeper than MAX_NESTING becomes its text, in one paragraph; other HTML is kept.
pub fn tame(html: &str) -> std::borrow::Cow<'_, str> {
    // Each level of nesting opens with a '<': counting them (a vectorized scan) settles most
    // entries without measuring the depth.
    if html.bytes().filter(|b| *b == b'<').count() <= MAX_NESTING || nesting_depth(html) <= MAX_NESTING {
        return std::borrow::Cow::Borrowed(html);
    }
    std::borrow::Cow::Owned(format!("<p>{}</p>", escape_html(&markup_free(html))))
}

/// The visible text of an HTML fragment, whitespace collapsed, entities decoded.
pub fn html_to_plain(html: &str) -> String {
    if !html.contains(['<', '&']) {
        return collapse_whitespace(html);
    }
    // Titles are mostly text with a few entities: no parser needed for those.
    if !html.contains('<')
        && let Some(decoded) = decode_entities(html)
    {
        return collapse_whitespace(&decoded);
    }
    if nesting_depth(html) > MAX_NESTING {
        return markup_free(html);
    }
    let doc = scraper::Html::parse_fragment(html);
    let text: String = doc.root_element().text().collect();
    collapse_whitespace(&text)
}

/// Decodes numeric entities and the common named ones; None when an entity is not known here
/// (the caller then uses a real HTML parser).
fn decode_entities(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        // ';' is ASCII: its byte position is a character boundary.
        let Some(end) = rest.as_bytes().iter().take(12).position(|b| *b == b';') else {
            // A bare ampersand is text.
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let name = &rest[1..end];
        let c = if let Some(num) = name.strip_prefix('#') {
            let code = match num.strip_prefix(['x', 'X']) {
                Some(h) => u32::from_str_radix(h, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code).filter(|c| *c != '\0').unwrap_or('\u{fffd}')
        } else {
            match name {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                "nbsp" => '\u{a0}',
                "mdash" => '—',
                "ndash" => '–',
                "hellip" => '…',
                "lsquo" => '‘',
                "rsquo" => '’',
                "ldquo" => '“',
                "rdquo" => '”',
                "laquo" => '«',
                "raquo" => '»',
                "middot" => '·',
                "bull" => '•',
                "copy" => '©',
                "reg" => '®',
                "trade" => '™',
                _ => return None,
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// A fast approximation of an HTML fragment's text, for change detection: tags dropped (their
/// attributes with them), whitespace collapsed. Entities are left as written.
pub fn markup_free(html: &str) -> String {
    let b = html.as_bytes();
    let mut out = String::with_capacity(b.len());
    // Whether the text so far ends in a separator (or is empty): no space goes after one.
    let mut space = true;
    let mut i = 0;
    while i < b.len() {
        // The text up to the next tag is copied in runs of words, each run cut only where a space
        // must go: a single space between two words stays inside the run. Every cut is at an ASCII
        // byte, so at a character boundary.
        let end = memchr::memchr(b'<', &b[i..]).map_or(b.len(), |p| i + p);
        let mut run = i;
        let mut from = i;
        // Only bytes up to a space can cut a run: the scan jumps from one to the next.
        while let Some(j) = next_control_or_space(b, from, end) {
            from = j + 1;
            let c = b[j];
            if !c.is_ascii_whitespace() || (c == b' ' && j > run && j + 1 < end && !b[j + 1].is_ascii_whitespace()) {
                continue;
            }
            if j > run {
                out.push_str(&html[run..j]);
                space = false;
            }
            if !space {
                out.push(' ');
                space = true;
            }
            run = j + 1;
        }
        if end > run {
            out.push_str(&html[run..end]);
            space = false;
        }
        if end == b.len() {
            break;
        }
        // A tag (attributes and all) separates words.
        i = memchr::memchr(b'>', &b[end..]).map_or(b.len(), |p| end + p + 1);
        if !space {
            out.push(' ');
            space = true;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// The first index in `b[from..end]` of a byte at or below b' ' (a space or a control byte),
/// eight bytes at a time: in a word of eight, the lowest byte below 0x21 is the lowest one whose
/// subtraction borrows while its own high bit is clear (UTF-8's bytes of 0x80 and above never are).
fn next_control_or_space(b: &[u8], mut from: usize, end: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    while from + 8 <= end {
        let x = u64::from_le_bytes(b[from..from + 8].try_into().expect("eight bytes"));
        let low = x.wrapping_sub(ONES * 0x21) & !x & HIGHS;
        if low != 0 {
            return Some(from + (low.trailing_zeros() / 8) as usize);
        }
        from += 8;
    }
    (from..end).find(|&j| b[j] <= b' ')
}

/// Lowercase ASCII letters and digits, every other run of characters one '-', none at the ends:
/// the common ground of polyfeed's slugs (feed names, post file names).
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A URL without its password (`postgres://user:***@host/db`), for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// This machine's name, for naming the processes that share a store.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_attributes_become_absolute() {
        let base = url::Url::parse("https://blog.example/2026/post/").unwrap();
        let html = "<p><img src=\"tlog-16.png\" srcset=\"tlog-16.png 1x, tlog-16@2x.png 2x\"> <a href=\"../about/\">about</a> <a href=\"#notes\">notes</a></p>\
                    <blockquote cite=\"/q\"><p>q</p></blockquote><video poster=\"p.jpg\" src=\"https://cdn.example/v.mp4\"></video><object data=\"x.svg\"></object>";
        assert_eq!(
            absolute_urls(html, &base),
            "<p><img src=\"https://blog.example/2026/post/tlog-16.png\" srcset=\"https://blog.example/2026/post/tlog-16.png 1x, https://blog.example/2026/post/tlog-16@2x.png 2x\"> \
             <a href=\"https://blog.example/2026/about/\">about</a> <a href=\"https://blog.example/2026/post/#notes\">notes</a></p>\
             <blockquote cite=\"https://blog.example/q\"><p>q</p></blockquote><video poster=\"https://blog.example/2026/post/p.jpg\" src=\"https://cdn.example/v.mp4\"></video>\
             <object data=\"https://blog.example/2026/post/x.svg\"></object>"
        );
        let already = "<p><a href=\"https://e.org/a\">x</a> <img src=\"data:image/png;base64,AA\"> <a href=\"mailto:a@e.org\">m</a></p>";
        assert!(matches!(absolute_urls(already, &base), std::borrow::Cow::Borrowed(_)));
        // As HTML tokenizes tags: quoted `>`, unquoted and single-quoted values, entities, any
        // case, a repeated attribute (the first counts); no tags in comments or scripts.
        let odd = "<a title=\"a > b\" HREF=x.html?a=1&amp;b=2 href=\"y\">t</a><img src='i.png'>\
                   <!-- <a href=\"c\"> --><script>var s = '<img src=\"s.png\">';</script>";
        assert_eq!(
            absolute_urls(odd, &base),
            "<a title=\"a > b\" HREF=\"https://blog.example/2026/post/x.html?a=1&amp;b=2\" href=\"y\">t</a>\
             <img src=\"https://blog.example/2026/post/i.png\"><!-- <a href=\"c\"> --><script>var s = '<img src=\"s.png\">';</script>"
        );
    }

    #[test]
    fn the_byte_scan_agrees_with_the_characters() {
        let all = (0..=0x10FFFFu32).filter_map(char::from_u32);
        for c in all {
            let s = format!("a{c}b");
            assert_eq!(all_xml_chars(&s), xml_char(c), "{:X}", c as u32);
        }
    }

    #[test]
    fn characters_xml_forbids_are_removed_with_their_references() {
        assert_eq!(xml_safe("a\u{1}b\u{b}c\u{FFFE}d\te\nf"), "abcd\te\nf");
        assert_eq!(xml_safe("<p>x &#1; y &#x1F; z &#65; &amp; &#x1F600;</p>"), "<p>x  y  z &#65; &amp; &#x1F600;</p>");
        assert!(matches!(xml_safe("plain — 中文 😀"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn plain_text() {
        assert_eq!(html_to_plain("  a <b>bold</b>\n move &amp; more "), "a bold move & more");
        assert_eq!(html_to_plain("no markup"), "no markup");
    }

    #[test]
    fn entities_decode_without_a_parser_and_agree_with_it() {
        for s in [
            "AT&amp;T &#8217;s &#x2014; caf&eacute;",
            "Tom &amp; Jerry&hellip; &ldquo;quoted&rdquo;",
            "a & b",
            "&#65;&#x42;",
            "&lt;中文 中文=\"中文()\"&gt;",
            "&中文中文中文;",
        ] {
            let doc = scraper::Html::parse_fragment(s);
            let parsed = collapse_whitespace(&doc.root_element().text().collect::<String>());
            assert_eq!(html_to_plain(s), parsed, "{s}");
        }
        assert_eq!(decode_entities("caf&eacute;"), None, "unknown names go to the parser");
    }

    #[test]
    fn markup_free_ignores_attribute_churn() {
        let a = markup_free(r#"<p class="x-1">Hello <a href="/a" data-id="9">world</a></p>"#);
        let b = markup_free(r#"<p class="y-2" id="p1">Hello <a href="/a">world</a></p>"#);
        assert_eq!(a, b);
        assert_eq!(a, "Hello world");
    }

    #[test]
    fn markup_free_is_the_words_between_the_tags() {
        // The definition, written the slow way: every tag a separator, then the words joined by
        // one space. The fast scan must agree on every shape of whitespace, tag and text.
        let oracle = |h: &str| {
            let mut spaced = String::new();
            let mut rest = h;
            while let Some(lt) = rest.find('<') {
                spaced.push_str(&rest[..lt]);
                spaced.push(' ');
                rest = rest[lt..].find('>').map_or("", |gt| &rest[lt + gt + 1..]);
            }
            spaced.push_str(rest);
            spaced.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
        };
        let cases = [
            "",
            " ",
            "a",
            " a ",
            "a b",
            "a  b",
            "a \n b",
            "a\tb\r\nc",
            "a\x0cb",
            "a\x01b c\x1f",
            "<p>a</p>",
            "a<br>b",
            "a <br> b",
            "a<b>c</b>d",
            "<p> lead and trail </p>",
            "x <",
            "x <unclosed tag",
            "> stray > y",
            "中文 <em>强调</em>，文字 \u{3000} 全角",
            "<p>a</p>\n\n<p>b  c</p> ",
            "word<!-- comment --> more",
            "  \n  ",
            "abcdefgh ijklmnop\tqrstuvwx  yz",
            "0123456\x7f89 \u{80}\u{a0}é 中文字符 ok\n",
            "!!!!!!!!\x20\x21\x20!\x1f!",
        ];
        // Every shape of eight-byte word the scan reads: each byte from 0x00 to 0x7f, and a
        // two-byte character, at each position.
        for at in 0..9 {
            for c in (0u8..0x80).map(char::from).chain(['é', '\u{a0}']) {
                let h = format!("{}{c}{}", "x".repeat(at), "y".repeat(9 - at));
                assert_eq!(markup_free(&h), oracle(&h), "{h:?}");
            }
        }
        for h in cases {
            assert_eq!(markup_free(h), oracle(h), "{h:?}");
        }
        let post = include_str!("../tests/fixtures/llms-in-2024.html");
        assert_eq!(markup_free(post), oracle(post));
        assert!(markup_free(post).len() > 10_000);
    }

    #[test]
    fn nesting_is_measured_without_a_parser() {
        assert_eq!(nesting_depth("<div><p>a<p>b<ul><li>c<li>d</ul></div>"), 2);
        assert_eq!(nesting_depth("<br><img src=x><hr/><span/>"), 0);
        assert_eq!(nesting_depth(&"<div>".repeat(100_000)), 100_000);
        assert_eq!(nesting_depth("<!-- <div><div> --><b>x</b>"), 1);
        let deep = format!("{}text{}", "<div>".repeat(1000), "</div>".repeat(1000));
        assert_eq!(tame(&deep), "<p>text</p>");
        assert_eq!(tame("<p>fine</p>"), "<p>fine</p>");
        assert_eq!(html_to_plain(&deep), "text");
    }

    #[test]
    fn escapes_and_truncates() {
        assert_eq!(escape_html(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
