//! The digest (`[publish.digest]`): each firing of its schedule closes a period, and the period's
//! entry lists the posts translated in it (translated title, original title, source, summary).
//! Published per language as a feed of its own, built from what is stored: it costs no tokens. Pure.

use chrono::{DateTime, Utc};

use super::entry::{Published, summary_html, words};
use crate::text::escape_html;

/// The last `keep` closed periods before `now`, newest first: (start, end], each end a firing of
/// `cron` in `tz`.
pub fn periods(cron: &cron::Schedule, tz: chrono_tz::Tz, now: DateTime<Utc>, keep: usize) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let ends: Vec<DateTime<Utc>> = cron.after(&now.with_timezone(&tz)).rev().take(keep + 1).map(|t| t.with_timezone(&Utc)).collect();
    ends.windows(2).map(|w| (w[1], w[0])).collect()
}

/// The next firing of `cron` after `now`: when the next digest is due.
pub fn next_closing(cron: &cron::Schedule, tz: chrono_tz::Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    cron.after(&now.with_timezone(&tz)).next().map(|t| t.with_timezone(&Utc))
}

/// A post as a digest lists it: the post, where to read it, and its source's name.
pub struct Listed<'a> {
    pub post: &'a Published,
    pub url: String,
    pub source: String,
}

/// The digest entry of the period `(start, end]` in `lang`, listing `posts` in the order given.
pub fn entry(lang: &str, (start, end): (DateTime<Utc>, DateTime<Utc>), tz: chrono_tz::Tz, home: &str, posts: &[Listed]) -> Published {
    let w = words(lang);
    let local = end.with_timezone(&tz);
    // A daily (or longer) period is named by its day; a shorter one by its time too.
    let when = if end - start >= chrono::Duration::days(1) { local.format("%Y-%m-%d").to_string() } else { local.format("%Y-%m-%d %H:%M").to_string() };
    let title = format!("{} {when}", w.digest);
    let mut body = String::from("<ul class=\"polyfeed-digest\">\n");
    for l in posts {
        body.push_str(&format!(
            "<li><a href=\"{}\">{}</a> <span class=\"original-title\">{}</span> · {}",
            escape_html(&l.url),
            escape_html(&l.post.title_translated),
            escape_html(&l.post.title_original),
            escape_html(&l.source)
        ));
        if let Some(s) = &l.post.summary {
            body.push('\n');
            body.push_str(summary_html(w.summary, s).trim_end());
        }
        body.push_str("</li>\n");
    }
    body.push_str("</ul>\n");
    Published {
        id: format!("urn:polyfeed:digest:{}", crate::model::digest(&[lang, &end.timestamp().to_string()])),
        feed: "digest".into(),
        lang: lang.to_string(),
        title: title.clone(),
        title_translated: title.clone(),
        title_original: title,
        link: Some(home.to_string()),
        authors: Vec::new(),
        categories: Vec::new(),
        published: end,
        updated: end,
        body: body.clone(),
        bilingual: body.clone(),
        translated: body,
        slug: format!("digest-{}", local.format("%Y-%m-%d-%H%M")),
        summary: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_end_at_the_schedules_firings_before_now_newest_first() {
        let cron = crate::config::parse_cron("0 20 * * *").unwrap();
        let tz: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
        // 2026-12-02 13:00 UTC is 21:00 in Shanghai: today's 20:00 has fired.
        let now = DateTime::parse_from_rfc3339("2026-12-02T13:00:00Z").unwrap().with_timezone(&Utc);
        let p = periods(&cron, tz, now, 3);
        let utc = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            p,
            [
                (utc("2026-12-01T12:00:00Z"), utc("2026-12-02T12:00:00Z")),
                (utc("2026-11-30T12:00:00Z"), utc("2026-12-01T12:00:00Z")),
                (utc("2026-11-29T12:00:00Z"), utc("2026-11-30T12:00:00Z")),
            ]
        );
        assert_eq!(next_closing(&cron, tz, now), Some(utc("2026-12-03T12:00:00Z")));
    }

    #[test]
    fn an_entry_lists_each_post_with_its_summary_and_names_its_day() {
        let at = DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z").unwrap().with_timezone(&Utc);
        let post = Published {
            id: "p".into(),
            feed: "blog".into(),
            lang: "zh-CN".into(),
            title: "t".into(),
            title_translated: "2024 年我们对大语言模型的认知".into(),
            title_original: "Things we learned about LLMs in 2024 <script>".into(),
            link: None,
            authors: vec![],
            categories: vec![],
            published: at,
            updated: at,
            body: String::new(),
            bilingual: String::new(),
            translated: String::new(),
            slug: "llms-in-2024".into(),
            summary: Some("回顾了 2024 年。".into()),
        };
        let listed = [Listed { post: &post, url: "https://e.org/blog/zh-CN/llms-in-2024.html".into(), source: "Simon Willison's Weblog".into() }];
        let tz: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
        let e = entry("zh-CN", (at - chrono::Duration::days(1), at), tz, "https://e.org/", &listed);
        assert_eq!(e.title, "文摘 2026-12-02");
        assert!(e.body.contains("<a href=\"https://e.org/blog/zh-CN/llms-in-2024.html\">2024 年我们对大语言模型的认知</a>"), "{}", e.body);
        assert!(e.body.contains("Things we learned about LLMs in 2024 &lt;script&gt;") && e.body.contains("Simon Willison&#39;s Weblog"), "{}", e.body);
        assert!(e.body.contains("<strong>摘要（机器生成）：</strong>回顾了 2024 年。"), "{}", e.body);
        let hourly = entry("zh-CN", (at - chrono::Duration::hours(1), at), tz, "https://e.org/", &listed);
        assert_eq!(hourly.title, "文摘 2026-12-02 20:00");
        assert_ne!(hourly.id, entry("ja", (at - chrono::Duration::hours(1), at), tz, "https://e.org/", &listed).id, "one id per language and period");
    }
}
