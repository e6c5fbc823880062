//! `polyfeed tokens`: subscribers' secret tokens for private feeds. Only a digest is stored; a
//! token is shown once, when it is created.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::{TokensAction, TokensArgs};
use crate::store::Store;

pub fn run(config_path: &Path, args: TokensArgs) -> anyhow::Result<ExitCode> {
    let config = super::load_config(config_path)?;
    let store = super::open_store(&config)?;
    match args.action {
        TokensAction::List => {
            let tokens = store.tokens()?;
            if tokens.is_empty() {
                println!("no tokens; add one with `polyfeed tokens add NAME`");
            }
            for (name, hint, created) in tokens {
                println!("{name:<24} {hint}...  created {}", super::time(Some(created)).unwrap_or_default());
            }
        }
        TokensAction::Add { name } => {
            let token: String = (0..32).map(|_| format!("{:x}", rand::random::<u8>() % 16)).collect();
            if !store.add_token(&name, &crate::serve::token_hash(&token), &token[..6])? {
                anyhow::bail!("a token named {name:?} exists; revoke it first");
            }
            let base = config.publish.base_url();
            println!("token for {name}: {token}");
            println!("feeds: {}t/{token}/all/{}/atom.xml (shown once; keep it)", base, config.target_languages[0].get_ref());
        }
        TokensAction::Revoke { name } => {
            if !store.revoke_token(&name)? {
                anyhow::bail!("no token named {name:?}");
            }
            println!("revoked {name}; it stops working within seconds");
        }
    }
    Ok(ExitCode::SUCCESS)
}
