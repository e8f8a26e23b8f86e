//! `leash session`: create a session key under a policy, grant, inspect, explain, send, revoke.

use crate::{
    calls::{CallArgs, Names},
    failure::{Failure, Kind, Result},
    home::Home,
    keystore::{self, identity_text},
    network::{Network, Networks},
    password::{self, KeyPassword, OwnerPassword},
    progress::while_waiting,
    Out,
};
use alloy::primitives::{Address, U256};
use leash_core::{
    format_units, GrantTarget, PolicyFile, Session, SessionState, Timestamp, TokenTable,
};
use leash_sdk::{
    keystore::{Keystore, ScryptParams},
    lanes::Lane,
    signer::{SessionKey, SessionSigner},
    GrantDocument, SessionAgent, SessionView, Standing,
};
use leash_store::{check_name, record_sent, AccountRecord, Record, Sent, Store, StoredKey};
use serde_json::{json, Value};
use std::{path::PathBuf, sync::Arc};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Generates a session key (encrypted), has the owner approve the policy with one signature for every chain
    /// named, and writes the grant document. The session grants itself with its first operation, or by
    /// `leash session grant`.
    Create {
        /// The session's name.
        name: String,
        /// The policy file (TOML; `leash schema` prints its JSON Schema).
        #[arg(long, value_name = "FILE")]
        policy: PathBuf,
        /// The account the session acts for.
        #[arg(long)]
        account: String,
        /// The networks the grant is valid on (comma-separated names); default: the chosen network.
        #[arg(long = "chains", value_name = "NETWORKS", value_delimiter = ',')]
        chains: Vec<String>,
        /// The kind of session key.
        #[arg(long, value_enum, default_value_t = keystore::Kind::Ecdsa)]
        key_kind: keystore::Kind,
        #[command(flatten)]
        password: KeyPassword,
        #[command(flatten)]
        owner: OwnerPassword,
    },
    /// Installs the session on the chosen network now, by an operation the owner signs.
    Grant {
        /// The session's name.
        name: String,
        #[command(flatten)]
        owner: OwnerPassword,
    },
    /// Lists the sessions: name, account, chains, key.
    List,
    /// Deletes a session's key and grant document from this machine, after confirmation. A session that can
    /// still act on chain (granted, or not granted yet with the owner's signed grant) is refused unless --force:
    /// once removed, only `session revoke --all` can stop it.
    Remove {
        /// The session's name.
        name: String,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
        /// Remove it even if it can still act, or its state cannot be read.
        #[arg(long)]
        force: bool,
    },
    /// Shows the session's envelope in plain words (no network needed).
    Info {
        /// The session's name.
        name: String,
    },
    /// Reads the session on chain: state, window, and what each action has left this period.
    Status {
        /// The session's name.
        name: String,
    },
    /// Revokes one session for good, or with --all every session and every unused grant of an account.
    Revoke {
        /// The session's name.
        #[arg(required_unless_present = "all")]
        name: Option<String>,
        /// Revoke every session of --account (bumps its epoch, voiding every grant signed before).
        #[arg(long, requires = "account", conflicts_with = "name")]
        all: bool,
        /// The account, with --all.
        #[arg(long)]
        account: Option<String>,
        /// Send the revocation from the owner's own address, which pays its gas (the account refunds it), not
        /// through the bundler: for when the bundler is down, refuses, or asks too much.
        #[arg(long)]
        direct: bool,
        #[command(flatten)]
        owner: OwnerPassword,
    },
    /// Runs the pre-flight on a call or a batch without signing or sending: allowed, or the rule that refuses
    /// it (exit code 3).
    Explain {
        /// The session's name.
        name: String,
        #[command(flatten)]
        calls: CallArgs,
    },
    /// Sends a call or a batch as one operation signed by the session key, and waits for its receipt.
    Send {
        /// The session's name.
        name: String,
        #[command(flatten)]
        calls: CallArgs,
        /// The nonce lane: operations on different lanes never wait on each other. A name or a number.
        #[arg(long, default_value = "0")]
        lane: String,
        #[command(flatten)]
        password: KeyPassword,
    },
}

/// A session as stored: its grant document (checked) and its key, encrypted.
pub(crate) struct Stored {
    pub(crate) name: String,
    pub(crate) grant: GrantDocument,
    pub(crate) session: Session,
    pub(crate) key: StoredKey,
}

impl Stored {
    pub(crate) async fn load(home: &dyn Store, name: &str) -> Result<Self> {
        let record = home.session(name).await?;
        Ok(Self {
            name: record.name,
            grant: record.grant,
            session: record.session,
            key: record.key,
        })
    }

    /// The network to act on: the chosen one if the grant covers it, else the grant's only chain.
    /// A network named with `--network` (or `$LEASH_NETWORK`) that the session is not granted on is refused:
    /// acting elsewhere than asked would surprise.
    pub(crate) fn network(&self, networks: &Networks) -> Result<Network> {
        let selected = networks.selected();
        let granted: Vec<u64> = self.grant.chains.iter().map(|c| c.chain_id).collect();
        if granted.contains(&selected.chain_id) {
            return Ok(selected);
        }
        match granted.as_slice() {
            [only] if !networks.named => networks.for_chain(*only),
            _ => Err(Failure::bad_input(format!(
                "session `{}` is not granted on `{}` (chain {}); it is granted on chains {granted:?}",
                self.name, selected.name, selected.chain_id
            ))
            .with_hint("pick one of them with --network")),
        }
    }

    /// The tokens known on `network`: its own table, plus the grant document's where the document was written
    /// for this chain (its first); token addresses differ between chains, so elsewhere only the network's.
    pub(crate) fn tokens(&self, network: &Network) -> TokenTable {
        let mut tokens = TokenTable::default();
        if self.grant.chains.first().is_some_and(|c| c.chain_id == network.chain_id) {
            tokens.extend(&self.grant.tokens);
        }
        tokens.extend(&network.tokens);
        tokens
    }

    /// The session key, after its password (which is dropped once the key is open).
    pub(crate) fn open_key(&self, password: &KeyPassword) -> Result<SessionKey> {
        crate::home::warn_if_exposed(&self.key.source);
        let password =
            password::read(password.request(format!("session key `{}`", self.name), false))?;
        Ok(Keystore::decrypt(&self.key.source, &self.key.document, password.as_bytes())?)
    }

    /// The session without its key, for explaining: it signs nothing and sends nothing, so it needs no bundler.
    pub(crate) async fn view(
        &self,
        home: &dyn Store,
        network: &Network,
        chain: leash_sdk::Chain,
    ) -> Result<SessionView> {
        let mut view = SessionView::new(chain, self.grant.account, self.session.clone())?
            .tokens(self.tokens(network));
        if let Some(proof) = self.grant.proof_for(network.chain_id) {
            view = view.lazy_grant(proof);
        }
        if let Some(record) = crate::account::find(home, self.grant.account).await? {
            view = view.deploy(record.smart_account());
        }
        Ok(view)
    }

    /// An agent for this session, signing with its key.
    pub(crate) async fn agent(
        &self,
        home: &dyn Store,
        network: &Network,
        chain: leash_sdk::Chain,
        key: Arc<dyn SessionSigner>,
    ) -> Result<SessionAgent> {
        let mut builder =
            SessionAgent::builder(chain, self.grant.account, self.session.clone(), key)
                .submitter(Arc::new(network.submitter()?))
                .tokens(self.tokens(network));
        if let Some(proof) = self.grant.proof_for(network.chain_id) {
            builder = builder.lazy_grant(proof);
        }
        if let Some(record) = crate::account::find(home, self.grant.account).await? {
            builder = builder.deploy(record.smart_account());
        }
        if let Some(paymaster) = network.paymaster()? {
            builder = builder.paymaster(paymaster, json!({}));
        }
        Ok(builder.build()?)
    }

    async fn account_record(&self, home: &Home) -> Result<AccountRecord> {
        crate::account::find(home, self.grant.account).await?.ok_or_else(|| {
            Failure::bad_input(format!(
                "no account record for {}; the owner's commands need it",
                self.grant.account
            ))
        })
    }
}

pub(crate) async fn run(
    command: Command,
    home: &Home,
    networks: &Networks,
    out: &Out,
) -> Result<()> {
    match command {
        Command::Create { name, policy, account, chains, key_kind, password, owner } => {
            create(
                home,
                networks,
                out,
                Create { name, policy, account, chains, key_kind, password, owner },
            )
            .await
        }
        Command::Grant { name, owner } => {
            let stored = Stored::load(home, &name).await?;
            let network = stored.network(networks)?;
            let chain = network.connect().await?;
            let state = chain.session_status(stored.grant.account, stored.grant.session_id).await?;
            if state != SessionState::None {
                return Err(Failure::bad_input(format!(
                    "session `{name}` is {} on `{}` already",
                    state_name(state),
                    network.name
                )));
            }
            // The owner approved this session for the account's epoch then; a "revoke all" since voided that
            // approval, and granting by transaction would revive what the owner revoked.
            let epoch = chain.epoch(stored.grant.account).await?;
            let signed_for =
                stored.grant.chains.iter().find(|c| c.chain_id == chain.chain_id).map(|c| c.epoch);
            if let Some(signed_for) = signed_for.filter(|e| *e != epoch) {
                return Err(Failure::bad_input(format!(
                    "session `{name}` was revoked by `session revoke --all` on `{}`: its grant was signed for \
                     epoch {signed_for} and the account is at epoch {epoch}; a new grant must be signed at the \
                     current epoch",
                    network.name
                ))
                .with_hint("create the session again with `leash session create` (the owner signs a new grant)"));
            }
            let owner =
                crate::account::open_owner(home, &stored.account_record(home).await?, &owner)
                    .await?;
            let submitter = network.submitter()?;
            let outcome =
                while_waiting("granting", owner.grant(&chain, &submitter, &stored.session)).await?;
            remember(home, None, network.chain_id, stored.grant.account, &outcome).await;
            crate::home::audit(home, "session.grant", &name, json!({ "chainId": network.chain_id, "sessionId": stored.grant.session_id, "userOpHash": outcome.user_op_hash })).await;
            out.show(json!({ "session": name, "granted": true, "operation": outcome }), || {
                println!("granted session `{name}` on {}", network.name);
                println!("  transaction  {}", outcome.transaction_hash);
            });
            Ok(())
        }
        Command::List => list(home, out).await,
        Command::Remove { name, yes, force } => {
            let stored = Stored::load(home, &name).await?;
            // Whether it can still act on any chain of its grant: a live or not-yet-granted session removed here
            // could only be stopped by revoking every session of the account. An expired one cannot act.
            let mut states: Vec<(u64, Option<Standing>)> = Vec::new();
            for (chain_id, module) in stored.grant.chains.iter().map(|c| (c.chain_id, c.module)) {
                // The first network of that chain that answers.
                let mut standing = None;
                for network in networks.for_grant(chain_id, module) {
                    if let Ok(chain) = network.connect().await {
                        standing = stored.view(home, &network, chain).await?.standing().await.ok();
                    }
                    if standing.is_some() {
                        break;
                    }
                }
                states.push((chain_id, standing));
            }
            let ends = stored.session.policy.valid_until.map(|t| t.0);
            let can_act = |s: &Standing| {
                matches!(s.state, Standing::ENABLED | Standing::NOT_GRANTED)
                    && ends.is_none_or(|end| s.status.now <= end)
            };
            let blocking = states.iter().find(|(_, s)| s.as_ref().is_none_or(can_act));
            if let (false, Some((chain_id, standing))) = (force, blocking) {
                let why = match standing {
                    Some(s) => format!(
                        "session `{name}` is {} on chain {chain_id} and can still act",
                        s.label
                    ),
                    None => {
                        format!("the state of session `{name}` on chain {chain_id} cannot be read")
                    }
                };
                return Err(Failure::bad_input(format!(
                    "{why}; removing it would leave only `session revoke --all` to stop it"
                ))
                .with_hint(format!(
                    "revoke it first (`leash session revoke {name}`, with --network for each chain), or pass --force to remove it anyway"
                )));
            }
            if !yes
                && !password::confirm(
                    &format!(
                        "Delete session `{name}` and its key from this machine? This does not revoke it on chain \
                         (`leash session revoke {name}` does)"
                    ),
                    "--yes",
                )?
            {
                return Err(Failure::bad_input("not confirmed; nothing was deleted"));
            }
            home.remove_session(&name).await?;
            crate::home::audit(
                home,
                "session.remove",
                &name,
                json!({ "sessionId": stored.grant.session_id, "account": stored.grant.account }),
            )
            .await;
            let chains: Vec<Value> = states
                .iter()
                .map(|(chain_id, s)| json!({ "chainId": chain_id, "state": s.as_ref().map(|s| s.state) }))
                .collect();
            let state = blocking.map_or_else(
                || states.first().and_then(|(_, s)| s.as_ref()).map(|s| s.state),
                |(_, s)| s.as_ref().map(|s| s.state),
            );
            out.show(
                json!({ "removed": name, "sessionId": stored.grant.session_id, "state": state, "chains": chains }),
                || match blocking {
                    None => println!(
                        "removed session `{name}` from this machine (it is {})",
                        states.first().and_then(|(_, s)| s.as_ref()).map_or("gone", |s| s.label)
                    ),
                    Some(_) => {
                        println!("removed session `{name}` from this machine; it may still act on chain");
                        println!("  only `leash session revoke --all --account …` can stop it now");
                    }
                },
            );
            Ok(())
        }
        Command::Info { name } => {
            let stored = Stored::load(home, &name).await?;
            let key = Keystore::inspect(&stored.key.source, &stored.key.document).ok();
            let tokens = stored.grant.tokens.clone();
            let lines = stored.session.describe(&tokens);
            let value = json!({
                "name": name,
                "title": stored.session.policy.name,
                "sessionId": stored.grant.session_id,
                "account": stored.grant.account,
                "owner": stored.grant.owner,
                "key": key.as_ref().map(|k| json!({ "kind": k.identity.kind().name(), "identity": identity_text(&k.identity) })),
                "chains": stored.grant.chains.iter().map(|c| json!({ "chainId": c.chain_id, "module": c.module, "epoch": c.epoch })).collect::<Vec<_>>(),
                "envelope": lines,
            });
            out.show(value, || {
                let title = stored.session.policy.name.as_deref().unwrap_or("unnamed");
                println!("session `{name}` ({title})");
                println!("  id        {}", stored.grant.session_id);
                println!("  account   {} (owner {})", stored.grant.account, stored.grant.owner);
                if let Some(key) = &key {
                    println!(
                        "  key       {} {}",
                        key.identity.kind().name(),
                        identity_text(&key.identity)
                    );
                }
                let chains: Vec<String> =
                    stored.grant.chains.iter().map(|c| c.chain_id.to_string()).collect();
                println!("  chains    {}", chains.join(", "));
                println!("  envelope");
                for line in lines {
                    println!("    {line}");
                }
            });
            Ok(())
        }
        Command::Status { name } => status(home, networks, out, &name).await,
        Command::Revoke { name, all, account, direct, owner } => {
            let all_of = all.then_some(account).flatten();
            revoke(home, networks, out, name, all_of, direct, &owner).await
        }
        Command::Explain { name, calls } => {
            let stored = Stored::load(home, &name).await?;
            let network = stored.network(networks)?;
            let chain = network.connect().await?;
            let calls = calls.calls(&names(&stored, &network, &stored.tokens(&network)))?;
            let agent = stored.view(home, &network, chain).await?;
            let explanation = agent.explain(&calls).await?;
            match &explanation.verdict {
                Ok(allowed) => {
                    out.show(
                        json!({ "allowed": true, "message": explanation.message, "validAfter": allowed.valid_after, "validUntil": allowed.valid_until, "actionPerCall": allowed.call_actions }),
                        || println!("{}", explanation.message),
                    );
                    Ok(())
                }
                Err(rejection) => {
                    let mut failure = Failure::new(Kind::Policy, explanation.message.clone());
                    failure.rule = Some(rejection.rule().to_owned());
                    failure.detail =
                        Some(rejection.to_json(&stored.session, &stored.tokens(&network)));
                    Err(failure)
                }
            }
        }
        Command::Send { name, calls, lane, password } => {
            let stored = Stored::load(home, &name).await?;
            let network = stored.network(networks)?;
            let calls = calls.calls(&names(&stored, &network, &stored.tokens(&network)))?;
            let chain = network.connect().await?;
            let key = stored.open_key(&password)?;
            let agent = stored.agent(home, &network, chain, key.into_shared()).await?;
            let lane = match lane.parse::<u32>() {
                Ok(number) => Lane::from(number),
                Err(_) => Lane::named(&lane),
            };
            let tokens = stored.tokens(&network);
            let submitted =
                while_waiting("pre-flight, signing, sending", agent.submit(&calls, lane))
                    .await
                    .map_err(|e| with_rejection(e, &stored.session, &tokens))?;
            let hash = submitted.user_op_hash;
            // Recorded now, so that an operation whose wait fails (a bundler gone, a time-out) can be followed.
            record_submitted(home, &name, network.chain_id, stored.grant.account, hash).await;
            // Ctrl-C while waiting: the operation is with the bundler and may still land, so say how to follow it.
            // The listener is in place before the line that invites Ctrl-C: one pressed right after it is heard.
            let interrupt = ctrl_c_listener();
            eprintln!("sent UserOperation {hash}; waiting for its receipt (Ctrl-C stops the wait, not the operation)");
            let waited = tokio::select! {
                waited = while_waiting("waiting for the receipt", agent.wait_outcome(hash)) => waited,
                Some(()) = interrupt => interrupted(out, hash),
            };
            let reject = |e| with_rejection(e, &stored.session, &tokens);
            let included = waited.map_err(reject)?;
            // Recorded landed or reverted before a revert becomes the command's error.
            remember(home, Some(&name), network.chain_id, stored.grant.account, &included).await;
            let outcome = &included.succeeded().map_err(reject)?;
            let sent = leash_sdk::SentOperation {
                user_op_hash: hash,
                lane: submitted.lane,
                granted: submitted.granted,
                outcome: outcome.clone(),
            };
            out.show(
                json!({ "session": name, "network": network.name, "userOpHash": sent.user_op_hash, "lane": sent.lane, "granted": sent.granted, "operation": outcome }),
                || {
                    println!("landed: {} call(s) from session `{name}` on {}", calls.len(), network.name);
                    println!("  user operation  {}", sent.user_op_hash);
                    println!("  transaction     {}", outcome.transaction_hash);
                    println!("  gas             {} (cost {} ETH)", outcome.actual_gas_used, format_units(outcome.actual_gas_cost, 18));
                    if sent.granted {
                        println!("  the session granted itself with this operation");
                    }
                },
            );
            Ok(())
        }
    }
}

/// Records an operation that landed in the store's sent operations (and, for a session's, the audit log). The
/// operation is on chain whatever happens here, so a store that cannot be written is reported on standard
/// error, not as a failure.
pub(crate) async fn remember(
    home: &Home,
    session: Option<&str>,
    chain_id: u64,
    account: Address,
    outcome: &leash_sdk::OpOutcome,
) {
    let sent = Sent::Included { transaction: outcome.transaction_hash, success: outcome.success };
    if let Err(e) = record_sent(home, session, chain_id, account, outcome.user_op_hash, sent).await
    {
        eprintln!("warning: the operation was not recorded: {e}");
    }
}

/// Records an operation as soon as the bundler has accepted it.
async fn record_submitted(
    home: &Home,
    session: &str,
    chain_id: u64,
    account: Address,
    hash: alloy::primitives::B256,
) {
    if let Err(e) = record_sent(home, Some(session), chain_id, account, hash, Sent::Submitted).await
    {
        eprintln!("warning: the operation was not recorded: {e}");
    }
}

/// Ends the process after Ctrl-C during a wait (exit code 130, as for any interrupted command), naming the
/// operation and how to follow it.
fn interrupted(out: &Out, hash: alloy::primitives::B256) -> ! {
    let follow = format!("leash operation show {hash}");
    out.show(json!({ "interrupted": true, "userOpHash": hash, "follow": follow }), || {});
    eprintln!();
    eprintln!("interrupted: UserOperation {hash} is with the bundler and may still land");
    eprintln!("  follow it with `{follow}`");
    std::process::exit(130)
}

/// A policy rejection with the rule's machine form attached.
pub(crate) fn with_rejection(
    error: leash_sdk::Error,
    session: &Session,
    tokens: &TokenTable,
) -> Failure {
    Failure::with_rejection(error, session, tokens)
}

pub(crate) fn names<'a>(
    stored: &'a Stored,
    network: &'a Network,
    tokens: &'a TokenTable,
) -> Names<'a> {
    Names { tokens, addresses: &network.addresses, account: stored.grant.account }
}

struct Create {
    name: String,
    policy: PathBuf,
    account: String,
    chains: Vec<String>,
    key_kind: keystore::Kind,
    password: KeyPassword,
    owner: OwnerPassword,
}

async fn create(home: &Home, networks: &Networks, out: &Out, args: Create) -> Result<()> {
    let Create { name, policy, account, chains, key_kind, password, owner } = args;
    check_name(Record::Session, &name)?;
    if home.session_names().await?.contains(&name) {
        return Err(Failure::bad_input(format!("a session named `{name}` exists already"))
            .with_hint("choose another name"));
    }
    let record = home.account(&account).await?;
    let targets: Vec<Network> = if chains.is_empty() {
        vec![networks.selected()]
    } else {
        chains.iter().map(|n| networks.get(n)).collect::<Result<_>>()?
    };
    for (i, network) in targets.iter().enumerate() {
        if let Some(twin) = targets[..i].iter().find(|t| t.chain_id == network.chain_id) {
            return Err(Failure::bad_input(format!(
                "networks `{}` and `{}` are the same chain ({}); a grant names each chain once",
                twin.name, network.name, network.chain_id
            )));
        }
    }
    // Names and units in the policy resolve against the first network's tables.
    let first = &targets[0];
    let (policy, names) =
        PolicyFile::load_named(&policy, &first.policy_context(Some(record.address)))?;

    let mut grant_targets = Vec::new();
    for network in &targets {
        let chain = network.connect().await?;
        let epoch = chain.epoch(record.address).await?;
        grant_targets.push(GrantTarget {
            chain_id: chain.chain_id,
            module: network.module,
            account: record.address,
            epoch,
        });
    }
    let owner = crate::account::open_owner(home, &record, &owner).await?;
    let key = SessionKey::random(key_kind.into());
    let session = Session {
        key: leash_core::PublicKey {
            kind: key.identity().kind(),
            public: key.identity().signer_bytes(),
        },
        policy,
    };
    let signed = owner.approve(&session, &grant_targets).await?;
    let password = password::read(password.request(format!("new session key `{name}`"), true))?;

    // Key and grant are stored together or not at all.
    let document = Keystore::encrypt(&key, password.as_bytes(), ScryptParams::STANDARD)?;
    let grant = GrantDocument::new(&session, record.owner, &signed, first.tokens.clone())?;
    home.put_session(&name, &document, &grant).await?;
    let info = Keystore::inspect(home.session_dir(&name)?.join("key.json"), &document)?;
    let dir = home.session_dir(&name)?;
    crate::home::audit(
        home,
        "session.create",
        &name,
        json!({ "sessionId": grant.session_id, "account": grant.account, "chains": grant.chains.iter().map(|c| c.chain_id).collect::<Vec<_>>() }),
    )
    .await;

    let lines = session.policy.describe_named(&first.tokens, &names);
    let warnings = session.policy.warnings();
    let session_id = session.id()?;
    let chain_ids: Vec<u64> = grant_targets.iter().map(|t| t.chain_id).collect();
    out.show(
        json!({
            "name": name,
            "sessionId": session_id,
            "account": record.address,
            "key": { "kind": info.identity.kind().name(), "identity": identity_text(&info.identity) },
            "chains": chain_ids,
            "envelope": lines,
            "warnings": warnings,
            "path": dir,
        }),
        || {
            println!("created session `{name}` for account `{account}` ({})", record.address);
            println!("  id        {session_id}");
            println!("  key       {} {}", info.identity.kind().name(), identity_text(&info.identity));
            println!(
                "  chains    {} (one owner signature for all)",
                chain_ids.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
            );
            for line in lines {
                println!("    {line}");
            }
            for warning in &warnings {
                eprintln!("warning: {warning}");
            }
            println!("  the first operation grants it; or grant it now with `leash session grant {name}`");
        },
    );
    Ok(())
}

async fn list(home: &Home, out: &Out) -> Result<()> {
    let mut rows = Vec::new();
    for name in home.session_names().await? {
        rows.push(match Stored::load(home, &name).await {
            Ok(stored) => json!({
                "name": name,
                "title": stored.session.policy.name,
                "account": stored.grant.account,
                "chains": stored.grant.chains.iter().map(|c| c.chain_id).collect::<Vec<_>>(),
                "keyKind": stored.session.key.kind.name(),
            }),
            Err(e) => json!({ "name": name, "error": e.message }),
        });
    }
    out.show(Value::Array(rows.clone()), || {
        if rows.is_empty() {
            println!("no sessions; create one with `leash session create NAME --policy FILE --account ACCOUNT`");
        }
        for row in &rows {
            let name = row["name"].as_str().unwrap_or_default();
            match row.get("error") {
                Some(error) => println!("{name:<20} damaged: {}", error.as_str().unwrap_or_default()),
                None => println!(
                    "{name:<20} {:<9} account {}  chains {}  {}",
                    row["keyKind"].as_str().unwrap_or_default(),
                    crate::shown_address(&row["account"]),
                    row["chains"],
                    row["title"].as_str().unwrap_or_default()
                ),
            }
        }
    });
    Ok(())
}

/// `session status --json`: the session's window and budget, and where it stands (the same `StandingReport` the
/// MCP server's `get_permissions` returns under `now`).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusOutput {
    session: String,
    network: String,
    chain_id: u64,
    valid_after: u64,
    valid_until: Option<u64>,
    epoch: u32,
    gas_budget_wei: Option<String>,
    gas_budget_is_default: bool,
    sudo: bool,
    sign_any: bool,
    #[serde(flatten)]
    standing: leash_sdk::report::StandingReport,
}

async fn status(home: &Home, networks: &Networks, out: &Out, name: &str) -> Result<()> {
    let stored = Stored::load(home, name).await?;
    let network = stored.network(networks)?;
    let chain = network.connect().await?;
    let standing = stored.view(home, &network, chain).await?.standing().await?;
    let (shown_state, state, now) = (standing.label, &standing.status.chain, standing.status.now);
    let lines = &standing.left;
    let policy = &stored.session.policy;
    let value = json!(StatusOutput {
        session: name.to_owned(),
        network: network.name.clone(),
        chain_id: network.chain_id,
        valid_after: policy.valid_after.0,
        valid_until: policy.valid_until.map(|t| t.0),
        epoch: state.epoch,
        gas_budget_wei: policy.effective_gas_budget().map(|b| b.to_string()),
        gas_budget_is_default: policy.gas_budget_is_default(),
        sudo: policy.sudo,
        sign_any: policy.signing.any,
        standing: standing.report(&stored.session, &stored.tokens(&network)),
    });
    out.show(value, || {
        println!("session `{name}` on {} (chain {})", network.name, network.chain_id);
        println!("  state     {shown_state}");
        println!("  now       {}", Timestamp(now));
        match policy.valid_until {
            Some(until) => println!("  window    {} to {until}", policy.valid_after),
            None => println!("  window    from {}, no end", policy.valid_after),
        }
        if let Some(limit) = &policy.max_ops {
            println!(
                "  operations {} used this period (at most {})",
                state.session.uses, limit.count
            );
        }
        if let Some(budget) = policy.effective_gas_budget() {
            println!(
                "  gas       {} of {} ETH spent{}",
                format_units(U256::from(state.session.gas_spent), 18),
                format_units(U256::from(budget), 18),
                if policy.gas_budget_is_default() { " (default budget)" } else { "" }
            );
        }
        if policy.sudo {
            println!("  sudo      any call (unrestricted, like an owner for calls)");
        }
        if policy.signing.any {
            println!("  signing   any message (unrestricted ERC-1271 signing)");
        }
        for line in lines {
            println!("  {line}");
        }
    });
    Ok(())
}

async fn revoke(
    home: &Home,
    networks: &Networks,
    out: &Out,
    name: Option<String>,
    all_of: Option<String>,
    direct: bool,
    owner: &OwnerPassword,
) -> Result<()> {
    let network = networks.selected();
    if let Some(account) = all_of {
        let record = home.account(&account).await?;
        let chain = network.connect().await?;
        let owner = crate::account::open_owner(home, &record, owner).await?;
        let submitter = revocation_submitter(direct, &owner, &chain, &network).await?;
        let outcome =
            while_waiting("revoking every session", owner.revoke_all(&chain, &submitter)).await?;
        remember(home, None, network.chain_id, record.address, &outcome).await;
        crate::home::audit(
            home,
            "account.revoke-all",
            &account,
            json!({ "chainId": network.chain_id, "userOpHash": outcome.user_op_hash }),
        )
        .await;
        out.show(json!({ "account": record.address, "revokedAll": true, "operation": outcome }), || {
            println!("revoked every session of account `{account}` on {}; grants signed before are void", network.name);
            println!("  transaction  {}", outcome.transaction_hash);
        });
        return Ok(());
    }
    let name = name.expect("clap requires a name without --all");
    let stored = Stored::load(home, &name).await?;
    let network = stored.network(networks)?;
    let chain = network.connect().await?;
    if chain.session_status(stored.grant.account, stored.grant.session_id).await?
        == SessionState::Revoked
    {
        return Err(Failure::bad_input(format!(
            "session `{name}` is revoked already on `{}`",
            network.name
        )));
    }
    let owner =
        crate::account::open_owner(home, &stored.account_record(home).await?, owner).await?;
    let submitter = revocation_submitter(direct, &owner, &chain, &network).await?;
    let outcome =
        while_waiting("revoking", owner.revoke(&chain, &submitter, stored.grant.session_id))
            .await?;
    remember(home, None, network.chain_id, stored.grant.account, &outcome).await;
    crate::home::audit(home, "session.revoke", &name, json!({ "chainId": network.chain_id, "sessionId": stored.grant.session_id, "userOpHash": outcome.user_op_hash })).await;
    out.show(json!({ "session": name, "revoked": true, "operation": outcome }), || {
        println!("revoked session `{name}` on {}; its key can no longer act there", network.name);
        println!("  transaction  {}", outcome.transaction_hash);
    });
    Ok(())
}

/// Where a revocation goes: the network's bundler, or with `--direct` the EntryPoint, from the owner's own address,
/// which must hold some ether to pay for it.
async fn revocation_submitter(
    direct: bool,
    owner: &leash_sdk::Owner,
    chain: &leash_sdk::Chain,
    network: &Network,
) -> Result<leash_sdk::Submitter> {
    if !direct {
        return network.submitter();
    }
    let address = owner.account().owner;
    let balance = alloy::providers::Provider::get_balance(&chain.provider, address)
        .await
        .map_err(|e| Failure::network(format!("the balance of the owner {address}: {e}")))?;
    if balance.is_zero() {
        return Err(Failure::bad_input(format!(
            "the owner's address {address} has no ether on `{}` to pay for the revocation's gas",
            network.name
        ))
        .with_hint("send it a little, or revoke through the bundler (without --direct)"));
    }
    Ok(owner.direct_submitter(chain))
}

fn state_name(state: SessionState) -> &'static str {
    match state {
        SessionState::None => "not granted",
        SessionState::Enabled => "granted",
        SessionState::Revoked => "revoked",
    }
}

/// Resolves at the next Ctrl-C (SIGINT) after this call: the signal is listened for from here, not from the first
/// poll, so one sent before the caller waits is not lost.
fn ctrl_c_listener() -> impl std::future::Future<Output = Option<()>> {
    #[cfg(unix)]
    {
        let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
        async move {
            match signal {
                Some(mut signal) => signal.recv().await,
                None => std::future::pending().await,
            }
        }
    }
    #[cfg(not(unix))]
    {
        async { tokio::signal::ctrl_c().await.ok() }
    }
}
