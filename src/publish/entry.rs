//! A stored entry and its translation -> what every output format publishes. Pure.

use chrono::{DateTime, Utc};
use url::Url;

use super::config::BilingualMode;
use super::sanitize::sanitize;
use crate::config::Config;
use crate::model::digest;
use crate::store::PublishItem;
use crate::text::escape_html;
use crate::translate::segment::{self, Layout, Options};

/// The class that marks a translation block in bilingual HTML.
pub const TRANSLATION_CLASS: &str = "polyfeed-translation";

/// One entry, ready for every format. All HTML here is sanitized.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// Stable across republishing and across changes of the source's id: from the normalized
    /// link (else polyfeed's key) and the language.
    pub id: String,
    pub feed: String,
    pub lang: String,
    /// The title as shown: the template (bilingual) or the translation (translated mode).
    pub title: String,
    pub title_translated: String,
    pub title_original: String,
    pub link: Option<String>,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    pub published: DateTime<Utc>,
    /// When the translation was made (or remade).
    pub updated: DateTime<Utc>,
    /// The body of feed entries, in the feed's mode.
    pub body: String,
    /// Original and translation, block by block (reading pages).
    pub bilingual: String,
    /// The translation alone (Markdown posts).
    pub translated: String,
    /// File name stem for posts and pages: safe on every filesystem.
    pub slug: String,
    /// The post's summary (plain text) when its feed has `summary = true`; shown after
    /// `Words::summary`, which says a machine wrote it.
    pub summary: Option<String>,
}

/// Words of the published pages, per language.
pub struct Words {
    /// Markdown attribution; `{author}`, `{title}` and `{link}` are replaced.
    pub attribution: &'static str,
    pub original: &'static str,
    pub latest: &'static str,
    pub feeds: &'static str,
    /// What precedes a post's summary: it says a machine wrote it.
    pub summary: &'static str,
    /// The title of a digest entry, before its date.
    pub digest: &'static str,
}

pub fn words(lang: &str) -> Words {
    let lower = lang.to_ascii_lowercase();
    match lower.split('-').next().unwrap_or("") {
        "zh" if matches!(lower.as_str(), "zh-tw" | "zh-hk" | "zh-hant") => Words {
            attribution: "本文翻譯自 {author} 的部落格文章 [{title}]({link})。",
            original: "原文",
            latest: "最新譯文",
            feeds: "訂閱",
            summary: "摘要（機器生成）：",
            digest: "文摘",
        },
        "zh" => Words {
            attribution: "本文翻译自 {author} 的博客文章 [{title}]({link})。",
            original: "原文",
            latest: "最新译文",
            feeds: "订阅",
            summary: "摘要（机器生成）：",
            digest: "文摘",
        },
        "ja" => Words {
            attribution: "この記事は {author} のブログ記事 [{title}]({link}) の翻訳です。",
            original: "原文",
            latest: "最新の翻訳",
            feeds: "フィード",
            summary: "要約（機械生成）：",
            digest: "ダイジェスト",
        },
        "ko" => Words {
            attribution: "이 글은 {author}의 블로그 글 [{title}]({link})을 번역한 것입니다.",
            original: "원문",
            latest: "최신 번역",
            feeds: "피드",
            summary: "요약(기계 생성): ",
            digest: "다이제스트",
        },
        "fr" => Words {
            attribution: "Traduit de l'article de {author} [{title}]({link}).",
            original: "Original",
            latest: "Dernières traductions",
            feeds: "Flux",
            summary: "Résumé (généré automatiquement) : ",
            digest: "Sélection",
        },
        "de" => Words {
            attribution: "Übersetzt aus dem Beitrag [{title}]({link}) von {author}.",
            original: "Original",
            latest: "Neueste Übersetzungen",
            feeds: "Feeds",
            summary: "Zusammenfassung (maschinell erstellt): ",
            digest: "Übersicht",
        },
        "es" => Words {
            attribution: "Traducido de la entrada de {author} [{title}]({link}).",
            original: "Original",
            latest: "Últimas traducciones",
            feeds: "Fuentes",
            summary: "Resumen (generado automáticamente): ",
            digest: "Selección",
        },
        _ => Words {
            attribution: "Translated from [{title}]({link}) by {author}.",
            original: "Original",
            latest: "Latest translations",
            feeds: "Feeds",
            summary: "Summary (machine-written): ",
            digest: "Digest",
        },
    }
}

/// Builds the published form of one translated entry.
pub fn build(item: &PublishItem, feed_authors: &[String], config: &Config) -> Published {
    let e = &item.entry.entry;
    let t = &item.translation;
    let lang = t.lang.as_str();
    let feed_config = config.feed(&item.entry.feed);
    let mode = feed_config.and_then(|f| f.mode).unwrap_or(config.publish.mode);
    let base = e.link.as_deref().and_then(|l| Url::parse(l).ok());
    let iframes = &config.publish.allow_iframes_from;

    let options = config.translator.as_ref().map_or_else(|| Options::new(&[], &[], lang), |tc| Options::for_translator(tc, lang));
    let seg = segment::segment(&t.content_src, &options);
    // A translation made under other segmentation settings (or title-only) keeps the original body.
    let units: Vec<Option<String>> = if t.units.len() == seg.units.len() { t.units.clone() } else { vec![None; seg.units.len()] };
    let bilingual = segment::render(&seg, &units, Layout::Bilingual { lang, class: TRANSLATION_CLASS });
    let translated = segment::render(&seg, &units, Layout::Translated);
    // Nothing XML 1.0 forbids gets out, whatever an engine or an old store row holds.
    let bilingual = crate::text::xml_safe(&sanitize(&bilingual, base.as_ref(), iframes)).into_owned();
    let translated = crate::text::xml_safe(&sanitize(&translated, base.as_ref(), iframes)).into_owned();

    let w = words(lang);
    let (title, body) = match mode {
        BilingualMode::Bilingual => {
            let template = config.publish.title_template(feed_config.and_then(|f| f.title_template.as_deref()));
            (template.replace("{translation}", &t.title).replace("{original}", &t.title_src), bilingual.clone())
        }
        BilingualMode::Translated => {
            let first_line = match &e.link {
                Some(link) => format!(
                    "<p class=\"polyfeed-original\">{}: <a href=\"{}\">{}</a></p>",
                    w.original,
                    escape_html(&sanitize_url(link)),
                    escape_html(&t.title_src)
                ),
                None => String::new(),
            };
            (t.title.clone(), first_line + &translated)
        }
    };
    let summary = t.summary.as_deref().map(plain).filter(|s| !s.is_empty());
    // Feed readers show the body: the summary goes on top of it too.
    let body = match &summary {
        Some(s) => summary_html(w.summary, s) + &body,
        None => body,
    };
    let authors = if e.authors.is_empty() { feed_authors.to_vec() } else { e.authors.clone() };
    let authors: Vec<String> = authors.iter().map(|a| plain(a)).filter(|a| !a.is_empty()).collect();
    let categories: Vec<String> = e.categories.iter().map(|c| plain(c)).filter(|c| !c.is_empty()).collect();
    let translated_at = DateTime::from_timestamp(item.translated_at, 0).unwrap_or_default();
    Published {
        id: id(item),
        feed: item.entry.feed.clone(),
        lang: lang.to_string(),
        title: plain(&title),
        title_translated: plain(&t.title),
        title_original: plain(&t.title_src),
        link: e.link.clone().map(|l| sanitize_url(&l)),
        authors,
        categories,
        published: e.published.or(e.updated).unwrap_or(translated_at),
        updated: translated_at.max(e.updated.unwrap_or_default()),
        body,
        bilingual,
        translated,
        slug: slug(e.link.as_deref(), &t.title_src, &e.key),
        summary,
    }
}

/// The published id of an entry in a language: from its normalized link (else polyfeed's key) and
/// the language, so it survives changes of the source's id. Cheap: no rendering.
pub fn id(item: &PublishItem) -> String {
    let e = &item.entry.entry;
    let identity = e.link.as_deref().and_then(crate::detect::normalize_link).unwrap_or_else(|| e.key.clone());
    format!("urn:polyfeed:{}", digest(&[&identity, &item.translation.lang]))
}

/// What the index shows of a post, without rendering its body: `build`'s titles, slug and date.
pub struct Headline {
    pub id: String,
    pub feed: String,
    pub lang: String,
    pub title_translated: String,
    pub title_original: String,
    pub slug: String,
    pub published: DateTime<Utc>,
}

pub fn headline(item: &PublishItem) -> Headline {
    let e = &item.entry.entry;
    let t = &item.translation;
    let translated_at = DateTime::from_timestamp(item.translated_at, 0).unwrap_or_default();
    Headline {
        id: id(item),
        feed: item.entry.feed.clone(),
        lang: t.lang.clone(),
        title_translated: plain(&t.title),
        title_original: plain(&t.title_src),
        slug: slug(e.link.as_deref(), &t.title_src, &e.key),
        published: e.published.or(e.updated).unwrap_or(translated_at),
    }
}

/// A summary as the first paragraph of a body or page, marked as machine-written.
pub fn summary_html(label: &str, summary: &str) -> String {
    let space = if label.ends_with(' ') { " " } else { "" };
    format!("<p class=\"polyfeed-summary\"><strong>{}</strong>{space}{}</p>\n", escape_html(label.trim_end()), escape_html(summary))
}

/// Titles, names and categories are plain text: markup dropped (a hostile title stays inert),
/// no control characters.
fn plain(s: &str) -> String {
    let text = crate::text::html_to_plain(&crate::text::xml_safe(s));
    crate::text::collapse_whitespace(&text.chars().filter(|c| !c.is_control()).collect::<String>())
}

/// Only http(s) links are republished.
fn sanitize_url(link: &str) -> String {
    match Url::parse(link) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u.to_string(),
        _ => String::new(),
    }
}

/// A file name stem: the link's last path segment, else the title, made safe for every filesystem
/// (lowercase ASCII letters, digits and dashes; no reserved names; at most 80 bytes).
pub fn slug(link: Option<&str>, title: &str, key: &str) -> String {
    let from_link = link
        .and_then(|l| Url::parse(l).ok())
        .and_then(|u| u.path_segments().and_then(|mut s| s.rfind(|p| !p.is_empty()).map(str::to_string)))
        .map(|s| s.trim_end_matches(".html").trim_end_matches(".htm").trim_end_matches(".php").to_string())
        .map(|s| clean(&s))
        .filter(|s| s.len() >= 3 && !s.chars().all(|c| c.is_ascii_digit()) && !matches!(s.as_str(), "index" | "post" | "entry" | "article"));
    let mut s = from_link.unwrap_or_else(|| clean(title));
    if s.len() < 3 {
        s = format!("post-{}", &digest(&[key])[..10]);
    }
    const RESERVED: &[&str] = &["con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "lpt1", "lpt2", "lpt3"];
    if RESERVED.contains(&s.as_str()) {
        s.push_str("-post");
    }
    s
}

fn clean(s: &str) -> String {
    let slug = crate::text::slug(&percent_decode(s));
    crate::text::truncate(&slug, 80).trim_end_matches('-').to_string()
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(s.replace('+', "%2B").as_bytes()).map(|(k, v)| if v.is_empty() { k.into_owned() } else { format!("{k}={v}") }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_safe_and_stable() {
        let cases = [
            (Some("https://simonwillison.net/2024/Dec/31/llms-in-2024/"), "Things", "llms-in-2024"),
            (Some("https://e.org/blog/My%20Post.html"), "x", "my-post"),
            (Some("https://e.org/?p=123"), "Hello, World!", "hello-world"),
            (Some("https://e.org/2024/12/345"), "Numbers only link", "numbers-only-link"),
            (None, "../../etc/passwd", "etc-passwd"),
            (None, "CON", "con-post"),
        ];
        for (link, title, want) in cases {
            assert_eq!(slug(link, title, "k"), want, "{link:?} {title:?}");
        }
        let chinese = slug(None, "中文标题", "k");
        assert!(chinese.starts_with("post-") && chinese.len() == 15, "{chinese}");
        let long = slug(None, &"word ".repeat(100), "k");
        assert!(long.len() <= 80 && !long.ends_with('-'));
    }
}
