//! `polyfeed tokens`: subscribers' secret tokens for private feeds. Only a digest is stored; a
//! token is shown once, when it is created.

use super::{CommandError, Done, Result};
use std::path::Path;

use crate::cli::{TokensAction, TokensArgs};

pub fn run(config_path: &Path, args: TokensArgs) -> Result<Done> {
    let config = super::load_config(config_path)?;
    let store = super::open_store(&config)?;
    match args.action {
        TokensAction::List => {
            let tokens = store.tokens()?;
            if tokens.is_empty() {
                println!("no tokens; add one with `polyfeed tokens add NAME`");
            }
            for t in tokens {
                println!("{:<24} {}...  created {}", t.name, t.hint, super::time(Some(t.created_at)).unwrap_or_default());
            }
        }
        TokensAction::Add { name } => {
            let token: String = (0..32).map(|_| format!("{:x}", rand::random::<u8>() % 16)).collect();
            if !store.add_token(&name, &crate::serve::token_hash(&token), &token[..6])? {
                return Err(CommandError::Usage(format!("a token named {name:?} exists; revoke it first")));
            }
            let base = config.publish.base_url();
            println!("token for {name}: {token}");
            println!("feeds: {}t/{token}/all/{}/atom.xml (shown once; keep it)", base, config.target_languages[0].get_ref());
        }
        TokensAction::Revoke { name } => {
            if !store.revoke_token(&name)? {
                return Err(CommandError::Usage(format!("no token named {name:?}")));
            }
            println!("revoked {name}; it stops working within seconds");
        }
    }
    Ok(Done::All)
}
