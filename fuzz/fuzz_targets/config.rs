//! Any text as feeds.toml: an error that names a line, or a config that holds its invariants. No panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match polyfeed::config::Config::parse(text) {
        Ok(config) => {
            let mut names = std::collections::HashSet::new();
            for f in &config.feeds {
                assert!(polyfeed::config::is_slug(f.name()));
                assert!(names.insert(f.name().to_string()), "duplicate name accepted");
                let _ = f.schedule(&config);
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(!message.is_empty());
        }
    }
});
