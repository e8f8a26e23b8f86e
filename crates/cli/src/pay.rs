//! `leash pay URL`: fetches an x402 resource, paying from the session's account with its key (docs/payments.md).

use crate::{
    failure::{Failure, Kind, Result},
    network::Networks,
    password::KeyPassword,
    session::Stored,
    write_out, Out,
};
use leash_core::{format_units, parse_amount};
use leash_store::Store;
use leash_x402::{Error, Payer};
use serde_json::{json, Value};
use std::sync::Arc;

/// Fetches an x402 resource, paying once if it asks, from the session's account, signed by its key.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The resource's URL.
    url: String,
    /// The session that pays: its account pays and its key signs, within its signing rules.
    #[arg(long, short = 's')]
    session: String,
    /// The HTTP method.
    #[arg(long, short = 'X', default_value = "GET")]
    method: String,
    /// The request's body, sent as JSON (`--data '{"question": "..."}'`).
    #[arg(long, short = 'd')]
    data: Option<String>,
    /// The most to pay for this request, with its unit ("0.10 USDC"): a larger price is refused before signing.
    #[arg(long)]
    max: Option<String>,
    #[command(flatten)]
    password: KeyPassword,
}

pub(crate) async fn run(
    args: Args,
    home: &dyn Store,
    networks: &Networks,
    out: &Out,
) -> Result<()> {
    let stored = Stored::load(home, &args.session).await?;
    let network = stored.network(networks)?;
    let tokens = stored.tokens(&network);
    let method = args.method.to_ascii_uppercase().parse::<reqwest::Method>().map_err(|_| {
        Failure::bad_input(format!("`{}` is not an HTTP method (GET, POST, ...)", args.method))
    })?;
    let body = match &args.data {
        Some(text) => Some(serde_json::from_str::<Value>(text).map_err(|e| {
            Failure::bad_input(format!(
                "--data is not JSON ({e}); write e.g. --data '{{\"q\": 1}}'"
            ))
        })?),
        None => None,
    };
    let max = match &args.max {
        Some(text) => Some(
            token_amount(text, &tokens).map_err(|e| Failure::bad_input(format!("--max {e}")))?,
        ),
        None => None,
    };
    let chain = network.connect().await?;
    let key = stored.open_key(&args.password)?;
    let agent = stored.agent(home, &network, chain, key.into_shared()).await?;
    let mut payer = Payer::new(Arc::new(agent));
    if let Some((token, amount)) = max {
        payer = payer.max(token, amount);
    }
    let mut request = payer.request(method, &args.url);
    if let Some(body) = &body {
        request = request.json(body);
    }
    let request = request.build().map_err(|e| Failure::bad_input(format!("{}: {e}", args.url)))?;
    let paid = payer.send(request).await.map_err(|e| failure(e, &stored))?;

    let text = String::from_utf8_lossy(&paid.body).into_owned();
    let payment = paid.payment.as_ref().map(|p| {
        let token = tokens.symbol_of(p.authorization.token);
        json!({
            "token": p.authorization.token,
            "amount": p.authorization.value.to_string(),
            "amount_text": token.and_then(|s| tokens.get(s).map(|t| format!("{} {s}", format_units(p.authorization.value, t.decimals)))),
            "to": p.authorization.to,
            "from": p.authorization.from,
            "nonce": p.authorization.nonce,
            "period": p.authorization.slot.map(|(period, _)| period),
            "slot": p.authorization.slot.map(|(_, slot)| slot),
            "settled": p.receipt.success,
            "transaction": p.receipt.transaction,
            "network": p.receipt.network,
        })
    });
    let value = json!({
        "url": args.url,
        "status": paid.status.as_u16(),
        "body": serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text.clone())),
        "payment": payment,
    });
    out.show(value.clone(), || {
        if let Some(p) = &value["payment"].as_object() {
            let amount =
                p["amount_text"].as_str().map_or_else(|| p["amount"].to_string(), str::to_string);
            eprintln!(
                "paid {amount} to {} from {} (transaction {})",
                crate::shown_address(&p["to"]),
                crate::shown_address(&p["from"]),
                p["transaction"].as_str().unwrap_or_default()
            );
        }
        write_out(format_args!("{text}\n"));
    });
    if !paid.status.is_success() {
        return Err(Failure::new(Kind::Failed, format!("{} answered {}", args.url, paid.status)));
    }
    Ok(())
}

/// A payment failure in the command's words: refused by a rule (exit 3), bad input, or the network.
fn failure(error: Error, stored: &Stored) -> Failure {
    match error {
        Error::Refused(e) => {
            let mut failure = Failure::from(e);
            failure.hint.get_or_insert_with(|| {
                format!(
                    "see what session {} may pay with `leash session info {}`",
                    stored.name, stored.name
                )
            });
            failure
        }
        e @ Error::OverMax { .. } => {
            let mut failure = Failure::new(Kind::Policy, e.to_string());
            failure.rule = Some("MaxPerRequest".into());
            failure.hint =
                Some("raise --max, or leave it out to pay what the session allows".into());
            failure
        }
        Error::Sdk(e) => Failure::from(e),
        e @ Error::Http { .. } => Failure::network(e.to_string()),
        e @ Error::PaymentRefused { .. } => Failure::new(Kind::Failed, e.to_string()),
        e => Failure::bad_input(e.to_string()),
    }
}

/// A token amount with its unit ("0.10 USDC"): the token's address and the raw units. A bare number or ETH is
/// refused: a maximum says which token it is in, and offers in any other are refused.
fn token_amount(
    text: &str,
    tokens: &leash_core::TokenTable,
) -> std::result::Result<(alloy::primitives::Address, alloy::primitives::U256), String> {
    let amount = parse_amount(text, tokens).map_err(|e| format!("{text}: {e}"))?;
    let token = amount.unit.as_deref().and_then(|unit| tokens.get(unit)).ok_or_else(|| {
        format!("{text}: write the most to pay in a token, with its symbol, e.g. \"0.10 USDC\"")
    })?;
    Ok((token.address, amount.raw))
}
