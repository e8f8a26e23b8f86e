//! Passwords: from a file, an environment variable or an interactive prompt; never from a flag's value, which
//! would land in the shell's history and in every process listing.

use crate::failure::{Failure, Result};
use std::{
    io::IsTerminal,
    path::{Path, PathBuf},
};
use zeroize::Zeroizing;

/// Where the password of the key being created or opened comes from.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct KeyPassword {
    /// Read the key's password from this file (its first line); else $LEASH_PASSWORD, else a prompt.
    #[arg(long, value_name = "FILE")]
    pub(crate) password_file: Option<PathBuf>,
}

/// Where the owner key's password comes from, for commands the owner signs.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct OwnerPassword {
    /// Read the owner key's password from this file; else $LEASH_OWNER_PASSWORD, else a prompt.
    #[arg(long, value_name = "FILE")]
    pub(crate) owner_password_file: Option<PathBuf>,
}

/// Which password is asked for, and for what.
pub(crate) struct Request<'a> {
    pub(crate) file: Option<&'a Path>,
    pub(crate) env: &'static str,
    /// The flag that names a password file.
    pub(crate) flag: &'static str,
    /// Shown in the prompt: "owner key `alice`".
    pub(crate) label: String,
    /// A new password is typed twice.
    pub(crate) new: bool,
}

impl KeyPassword {
    pub(crate) fn request(&self, label: String, new: bool) -> Request<'_> {
        Request {
            file: self.password_file.as_deref(),
            env: "LEASH_PASSWORD",
            flag: "--password-file",
            label,
            new,
        }
    }
}

impl OwnerPassword {
    pub(crate) fn request(&self, label: String) -> Request<'_> {
        Request {
            file: self.owner_password_file.as_deref(),
            env: "LEASH_OWNER_PASSWORD",
            flag: "--owner-password-file",
            label,
            new: false,
        }
    }
}

/// The password, from the first source that has one.
pub(crate) fn read(request: Request<'_>) -> Result<Zeroizing<String>> {
    let password = if let Some(file) = request.file {
        from_file(file)?
    } else if let Some(value) = std::env::var_os(request.env) {
        Zeroizing::new(
            value
                .into_string()
                .map_err(|_| Failure::bad_input(format!("${} is not valid UTF-8", request.env)))?,
        )
    } else if std::io::stdin().is_terminal() {
        prompt(&request)?
    } else {
        return Err(Failure::bad_input(format!(
            "the password of the {} is needed and there is no terminal to ask it on",
            request.label
        ))
        .with_hint(format!("set ${} or pass {} FILE", request.env, request.flag)));
    };
    if password.is_empty() {
        return Err(Failure::bad_input(format!("the password of the {} is empty", request.label)));
    }
    Ok(password)
}

fn from_file(path: &Path) -> Result<Zeroizing<String>> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
        Failure::bad_input(format!("cannot read the password file {}: {e}", path.display()))
    })?);
    // The first line, without its line ending: editors add one.
    let line = text.lines().next().unwrap_or_default();
    Ok(Zeroizing::new(line.to_owned()))
}

fn prompt(request: &Request<'_>) -> Result<Zeroizing<String>> {
    let ask = |text: String| {
        rpassword::prompt_password(text)
            .map(Zeroizing::new)
            .map_err(|e| Failure::bad_input(format!("cannot read the password: {e}")))
    };
    let first = ask(format!("Password for the {}: ", request.label))?;
    if request.new {
        let again = ask("Again: ".into())?;
        if *again != *first {
            return Err(Failure::bad_input("the two passwords differ; nothing was written"));
        }
    }
    Ok(first)
}

/// Asks a yes/no question on the terminal; without one, the answer is no and `flag` says how to say yes.
pub(crate) fn confirm(question: &str, flag: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::bad_input(format!("{question}: there is no terminal to confirm on"))
            .with_hint(format!("pass {flag} to confirm")));
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Failure::bad_input(format!("cannot read the answer: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
