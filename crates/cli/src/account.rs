//! `leash account`: smart accounts by name, their counterfactual address, deployment and state.

use crate::{
    failure::{Failure, Result},
    home::Home,
    keystore,
    network::{Network, Networks},
    password::{self, OwnerPassword},
    Out,
};
use alloy::{
    primitives::{keccak256, Address, B256, U256},
    providers::Provider,
    rpc::types::Filter,
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use leash_contracts::{
    bindings::{DevToken, EntryPoint, LeashAccount},
    release,
};
use leash_core::format_units;
use leash_sdk::{
    keystore::Keystore,
    signer::{KeyIdentity, SessionKey},
    Owner, SmartAccount,
};
use leash_store::{check_name, AccountRecord, Record, Store, StoreError};
use serde_json::json;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Lists the recorded accounts: name, address, owner key.
    List,
    /// Records a new smart account for an owner key and shows its address (known before deployment).
    Create {
        /// The account's name.
        name: String,
        /// The owner: an ECDSA key of the keystore (`leash keystore create NAME`).
        #[arg(long)]
        owner: String,
        /// Makes the address distinct for the same owner: any text, or 32 bytes in hex.
        #[arg(long, default_value = "")]
        salt: String,
        /// Replace an existing record of that name.
        #[arg(long)]
        force: bool,
        /// The owner's EOA becomes the account itself and keeps its address (EIP-7702): `leash account deploy`
        /// then sends one transaction from the EOA (which pays its gas) delegating it to the leash account
        /// implementation and installing the session module. The EOA's key can still do anything directly.
        #[arg(long, conflicts_with = "salt")]
        eip7702: bool,
    },
    /// Shows an account's record: address, owner, factory, salt (no network needed).
    Info {
        /// The account's name.
        name: String,
    },
    /// Reads the account on the network: deployed or not, owner, balances, installed modules.
    Status {
        /// The account's name.
        name: String,
    },
    /// Funds the account on a local anvil chain (the devnet): native ETH, and tokens the chain mints openly.
    Fund {
        /// The account's name.
        name: String,
        /// Native ETH to add, e.g. "1 ETH".
        #[arg(long, default_value = "1 ETH")]
        eth: String,
        /// A token amount to mint to the account, e.g. "1000 USDC"; may be repeated.
        #[arg(long)]
        token: Vec<String>,
    },
    /// Deploys the account with the owner's signature (the account pays for gas: fund it first).
    Deploy {
        /// The account's name.
        name: String,
        /// For an EOA account that delegates already: start a new storage epoch, so that every module and
        /// session of before stops counting. Needed when the EOA came back to leash's implementation by another
        /// route than `account deploy` (it then keeps its old sessions).
        #[arg(long)]
        reinitialize: bool,
        #[command(flatten)]
        password: OwnerPassword,
    },
}

/// The recorded account whose address is `address`, if any.
pub(crate) async fn find(home: &dyn Store, address: Address) -> Result<Option<AccountRecord>> {
    for name in home.account_names().await? {
        if let Ok(record) = home.account(&name).await {
            if record.address == address {
                return Ok(Some(record));
            }
        }
    }
    Ok(None)
}

/// The account's owner, after the owner key's password.
pub(crate) async fn open_owner(
    home: &dyn Store,
    record: &AccountRecord,
    password: &OwnerPassword,
) -> Result<Owner> {
    let stored = home.key(&record.owner_key).await?;
    crate::home::warn_if_exposed(&stored.source);
    let password = password::read(password.request(format!("owner key `{}`", record.owner_key)))?;
    let key = match Keystore::decrypt(&stored.source, &stored.document, password.as_bytes())? {
        SessionKey::Ecdsa(key) => key,
        _ => {
            return Err(Failure::bad_input(format!(
                "key `{}` is not an ECDSA key",
                record.owner_key
            )))
        }
    };
    Ok(Owner::new(PrivateKeySigner::from(key), record.smart_account())?)
}

pub(crate) async fn run(
    command: Command,
    home: &Home,
    networks: &Networks,
    out: &Out,
) -> Result<()> {
    match command {
        Command::List => {
            let mut rows = Vec::new();
            for name in home.account_names().await? {
                rows.push(match home.account(&name).await {
                    Ok(record) => json!(record),
                    Err(e) => json!({ "name": name, "error": e.to_string() }),
                });
            }
            out.show(json!(rows), || {
                if rows.is_empty() {
                    println!(
                        "no accounts; record one with `leash account create NAME --owner KEY`"
                    );
                }
                for row in &rows {
                    let name = row["name"].as_str().unwrap_or_default();
                    match row.get("error") {
                        Some(error) => {
                            println!("{name:<20} damaged: {}", error.as_str().unwrap_or_default())
                        }
                        None => println!(
                            "{name:<20} {}  owner key `{}`",
                            crate::shown_address(&row["address"]),
                            row["ownerKey"].as_str().unwrap_or_default()
                        ),
                    }
                }
            });
        }
        Command::Create { name, owner, salt, force, eip7702 } => {
            check_name(Record::Account, &name)?;
            if !force && !matches!(home.account(&name).await, Err(StoreError::NotFound { .. })) {
                return Err(Failure::bad_input(format!(
                    "an account named `{name}` exists already"
                ))
                .with_hint("choose another name, or pass --force to replace the record"));
            }
            let info = keystore::info(home, &owner).await?;
            let KeyIdentity::Ecdsa { address: owner_address } = info.identity else {
                return Err(Failure::bad_input(format!(
                    "key `{owner}` is a {} key; an account's owner is an ECDSA key",
                    info.identity.kind().name()
                )));
            };
            let network = networks.selected();
            let account = if eip7702 {
                SmartAccount::eip7702(
                    owner_address,
                    release::ACCOUNT_IMPLEMENTATION,
                    vec![network.module],
                )
            } else {
                let chain = network.connect().await?;
                SmartAccount::counterfactual(
                    &chain.provider,
                    network.factory,
                    owner_address,
                    parse_salt(&salt)?,
                    vec![network.module],
                )
                .await?
            };
            let record = AccountRecord {
                name: name.clone(),
                address: account.address,
                owner: owner_address,
                owner_key: owner.clone(),
                factory: account.factory,
                salt: account.salt,
                validators: account.validators.clone(),
                eip7702,
            };
            home.put_account(&record, force).await?;
            out.show(json!(record), || {
                println!("account `{name}`: {}", record.address);
                println!("  owner     {} (key `{owner}`)", record.owner);
                if record.eip7702 {
                    println!(
                        "  the owner's own EOA (EIP-7702): fund it, then `leash account deploy {name}` \
                         delegates it"
                    );
                } else {
                    println!(
                        "  not deployed yet: fund the address, then `leash account deploy {name}`"
                    );
                }
            });
        }
        Command::Info { name } => {
            let record = home.account(&name).await?;
            out.show(json!(record), || print_record(&record));
        }
        Command::Status { name } => {
            let record = home.account(&name).await?;
            let network = networks.selected();
            let status = status(&record, &network).await?;
            out.show(status.clone(), || {
                print_record(&record);
                println!("  network   {} (chain {})", network.name, network.chain_id);
                let deployed = status["deployed"].as_bool().unwrap_or(false);
                println!("  deployed  {}", if deployed { "yes" } else { "no" });
                if deployed {
                    println!("  owner on chain {}", crate::shown_address(&status["onChainOwner"]));
                }
                println!("  balances");
                for balance in status["balances"].as_array().into_iter().flatten() {
                    println!(
                        "    {:<8} {}",
                        balance["symbol"].as_str().unwrap_or(""),
                        balance["amount"].as_str().unwrap_or("")
                    );
                }
                println!(
                    "  EntryPoint deposit {} ETH",
                    status["entryPointDeposit"].as_str().unwrap_or("0")
                );
                if deployed {
                    println!("  modules");
                    for module in status["modules"].as_array().into_iter().flatten() {
                        println!(
                            "    {} {}",
                            crate::shown_address(&module["address"]),
                            module["name"].as_str().unwrap_or("")
                        );
                    }
                }
            });
        }
        Command::Fund { name, eth, token } => {
            let record = home.account(&name).await?;
            let network = networks.selected();
            let funded = fund(&record, &network, &eth, &token).await?;
            out.show(json!({ "account": record.address, "added": funded }), || {
                println!(
                    "funded account `{name}` ({}) on {}: {}",
                    record.address,
                    network.name,
                    funded.join(", ")
                );
            });
        }
        Command::Deploy { name, password, reinitialize } => {
            let record = home.account(&name).await?;
            if reinitialize && !record.eip7702 {
                return Err(Failure::bad_input(format!(
                    "account `{name}` is a smart account: --reinitialize is for EOA accounts (--eip7702)"
                )));
            }
            let network = networks.selected();
            let chain = network.connect().await?;
            // An EOA account that delegates already may still need its initialisation (a delegation someone
            // else relayed, or one whose initialisation failed): not ready, so `delegate` finishes it.
            let already_deployed = || {
                out.show(
                    json!({ "account": record.address, "deployed": true, "alreadyDeployed": true }),
                    || {
                        println!(
                            "account `{name}` ({}) is deployed already on {}",
                            record.address, network.name
                        )
                    },
                );
                Ok(())
            };
            if !reinitialize && record.smart_account().is_ready(&chain.provider).await? {
                return already_deployed();
            }
            let owner = open_owner(home, &record, &password).await?;
            if reinitialize {
                let transaction =
                    crate::progress::while_waiting("reinitializing", owner.reinitialize(&chain))
                        .await?;
                out.show(
                    json!({ "account": record.address, "deployed": true, "reinitialized": transaction }),
                    || {
                        println!(
                            "the EOA {} starts afresh on {}: modules and sessions of before no longer count",
                            record.address, network.name
                        );
                        println!("  transaction  {transaction}");
                    },
                );
                return Ok(());
            }
            if record.eip7702 {
                let delegated =
                    crate::progress::while_waiting("delegating", owner.delegate(&chain)).await?;
                let Some(delegation) = delegated else {
                    return already_deployed();
                };
                out.show(
                    json!({ "account": record.address, "deployed": true, "delegation": delegation }),
                    || {
                        println!(
                            "the EOA {} is account `{name}` on {}: it delegates to {}",
                            record.address, network.name, record.factory
                        );
                        println!("  transaction  {delegation}");
                    },
                );
                return Ok(());
            }
            let submitter = network.submitter()?;
            let outcome =
                crate::progress::while_waiting("deploying", owner.execute(&chain, &submitter, &[]))
                    .await?;
            out.show(
                json!({ "account": record.address, "deployed": true, "operation": outcome }),
                || {
                    println!("deployed account `{name}` ({}) on {}", record.address, network.name);
                    println!("  transaction  {}", outcome.transaction_hash);
                    println!(
                        "  gas          {} (cost {} ETH)",
                        outcome.actual_gas_used,
                        format_units(outcome.actual_gas_cost, 18)
                    );
                },
            );
        }
    }
    Ok(())
}

fn parse_salt(salt: &str) -> Result<B256> {
    if salt.is_empty() {
        return Ok(B256::ZERO);
    }
    if let Some(hex) = salt.strip_prefix("0x") {
        return hex.parse::<B256>().or_else(|_| format!("0x{hex}").parse()).map_err(|_| {
            Failure::bad_input(format!("salt `{salt}` starts with 0x but is not 32 bytes of hex"))
        });
    }
    Ok(keccak256(salt.as_bytes()))
}

fn print_record(record: &AccountRecord) {
    println!("account `{}`: {}", record.name, record.address);
    println!("  owner     {} (key `{}`)", record.owner, record.owner_key);
    if record.eip7702 {
        println!("  EOA account (EIP-7702): delegates to {}", record.factory);
    } else {
        println!("  factory   {}", record.factory);
        println!("  salt      {}", record.salt);
    }
    for validator in &record.validators {
        println!("  validator {validator}");
    }
}

/// The account as the chain sees it.
async fn status(record: &AccountRecord, network: &Network) -> Result<serde_json::Value> {
    let chain = network.connect().await?;
    let provider = &chain.provider;
    let rpc = |e: alloy::contract::Error| {
        Failure::network(format!("reading the account on `{}`: {e}", network.name))
    };
    let deployed = record.smart_account().is_deployed(provider).await?;
    let native = provider
        .get_balance(record.address)
        .await
        .map_err(|e| Failure::network(format!("eth_getBalance on `{}`: {e}", network.name)))?;
    let mut balances = vec![
        json!({ "symbol": "ETH", "address": null, "raw": native.to_string(), "amount": format_units(native, 18) }),
    ];
    for symbol in network.tokens.symbols() {
        let token = network.tokens.get(symbol).expect("listed symbol");
        let raw: U256 = DevToken::new(token.address, provider)
            .balanceOf(record.address)
            .call()
            .await
            .map_err(rpc)?;
        balances.push(json!({ "symbol": symbol, "address": token.address, "raw": raw.to_string(), "amount": format_units(raw, token.decimals) }));
    }
    let deposit = EntryPoint::new(chain.entry_point, provider)
        .balanceOf(record.address)
        .call()
        .await
        .map_err(rpc)?;
    let mut value = json!({
        "account": record.address,
        "network": network.name,
        "chainId": network.chain_id,
        "deployed": deployed,
        "balances": balances,
        "entryPointDeposit": format_units(deposit, 18),
    });
    if deployed {
        let account = LeashAccount::new(record.address, provider);
        let owner = account.owner().call().await.map_err(rpc)?;
        value["onChainOwner"] = json!(owner);
        value["modules"] = json!(installed_modules(record.address, network, provider).await?);
        value["sessionEpoch"] = json!(chain.epoch(record.address).await?);
    }
    Ok(value)
}

/// Validators installed on the account: from its install and uninstall events, each checked with
/// `isModuleInstalled` (so a node that prunes logs still shows the network's session module).
async fn installed_modules(
    account: Address,
    network: &Network,
    provider: &alloy::providers::DynProvider,
) -> Result<Vec<serde_json::Value>> {
    let mut candidates = vec![network.module];
    let filter = Filter::new()
        .address(account)
        .event_signature(LeashAccount::ModuleInstalled::SIGNATURE_HASH)
        .from_block(0);
    if let Ok(logs) = provider.get_logs(&filter).await {
        for log in logs {
            if let Ok(event) = LeashAccount::ModuleInstalled::decode_log_data(log.data()) {
                if !candidates.contains(&event.module) {
                    candidates.push(event.module);
                }
            }
        }
    }
    let contract = LeashAccount::new(account, provider);
    let mut modules = Vec::new();
    for module in candidates {
        // Module type 1: validator (ERC-7579).
        let installed = contract
            .isModuleInstalled(U256::from(1), module, Default::default())
            .call()
            .await
            .map_err(|e| {
                Failure::network(format!("isModuleInstalled on `{}`: {e}", network.name))
            })?;
        if installed {
            let name = if module == network.module {
                "SessionKeyValidator (session keys)"
            } else {
                "validator"
            };
            modules.push(json!({ "address": module, "type": "validator", "name": name }));
        }
    }
    Ok(modules)
}

/// Local chains only: anvil sets the native balance, and the devnet's tokens mint to anyone who asks.
async fn fund(
    record: &AccountRecord,
    network: &Network,
    eth: &str,
    tokens: &[String],
) -> Result<Vec<String>> {
    let chain = network.connect().await?;
    let provider = &chain.provider;
    let wei = leash_core::parse_amount(eth, &network.tokens)?;
    if wei.unit.as_deref().is_some_and(|unit| unit != "ETH" && unit != "wei" && unit != "gwei") {
        return Err(Failure::bad_input(format!(
            "--eth takes a native amount like \"1 ETH\", not `{eth}`"
        )));
    }
    let before = provider
        .get_balance(record.address)
        .await
        .map_err(|e| Failure::network(format!("eth_getBalance on `{}`: {e}", network.name)))?;
    provider
        .raw_request::<_, ()>("anvil_setBalance".into(), (record.address, before + wei.raw))
        .await
        .map_err(|e| {
            Failure::bad_input(format!(
                "network `{}` is not a local anvil chain ({e})",
                network.name
            ))
            .with_hint(
                "`leash account fund` works on the devnet; elsewhere, send funds to the address",
            )
        })?;
    let mut added = vec![format!("{} ETH", format_units(wei.raw, 18))];
    let dev_accounts = provider
        .get_accounts()
        .await
        .map_err(|e| Failure::network(format!("eth_accounts on `{}`: {e}", network.name)))?;
    let from = *dev_accounts
        .first()
        .ok_or_else(|| Failure::bad_input("the chain has no unlocked account to mint with"))?;
    for amount in tokens {
        let parsed = leash_core::parse_amount(amount, &network.tokens)?;
        let symbol = parsed.unit.clone().unwrap_or_default();
        let token = network.tokens.get(&symbol).ok_or_else(|| {
            Failure::bad_input(format!(
                "--token takes an amount of a known token like \"1000 USDC\", not `{amount}`"
            ))
        })?;
        let contract = DevToken::new(token.address, provider);
        let mint = contract.mint(record.address, parsed.raw).from(from);
        let pending = mint.send().await.map_err(|e| {
            Failure::bad_input(format!("{symbol} at {} did not mint: {e}", token.address))
        })?;
        let receipt = pending
            .get_receipt()
            .await
            .map_err(|e| Failure::network(format!("waiting for the {symbol} mint: {e}")))?;
        if !receipt.status() {
            return Err(Failure::failed(format!(
                "the {symbol} mint reverted (not an open-mint token?)"
            )));
        }
        added.push(format!("{} {symbol}", format_units(parsed.raw, token.decimals)));
    }
    Ok(added)
}
