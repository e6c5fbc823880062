//! The README documents every command and every flag `--help` shows.

use std::process::Command;

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_polyfeed")).args(args).arg("--help").output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn readme_covers_every_command_and_flag() {
    let readme = include_str!("../README.md");
    let top = help(&[]);
    let commands: Vec<&str> = top
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 9, "{commands:?}");
    for command in commands {
        assert!(readme.contains(&format!("| `{command}")), "README's command table lacks `{command}`");
        let flags = help(&[command]);
        for flag in flags.split_whitespace().filter(|w| w.starts_with("--")).map(|w| w.trim_end_matches([',', '.'])) {
            let flag = flag.split(['=', '<', '[']).next().unwrap();
            if flag == "--help" || flag == "--version" {
                continue;
            }
            assert!(readme.contains(flag), "README does not mention {flag} of `polyfeed {command}`");
        }
    }
}

#[test]
fn a_usage_error_exits_1_and_help_exits_0() {
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_polyfeed")).args(args).output().unwrap();
    for args in [&["frobnicate"][..], &["refresh", "--no-such-flag"], &[]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(!out.stderr.is_empty());
    }
    assert_eq!(run(&["--help"]).status.code(), Some(0));
    assert_eq!(run(&["--version"]).status.code(), Some(0));
}
