//! The ERC-7562 validation rules, judged on what the tracer saw ([`Trace`]).
//!
//! Implemented: the opcode rules (OP-011 blocked opcodes, OP-012 `GAS` only before a call, OP-013 unassigned
//! opcodes, OP-020 out of gas, OP-031 one `CREATE2` for the sender, OP-041/042 no use of code-less
//! addresses, OP-051..054 EntryPoint access, OP-061 no value, OP-062 precompiles, OP-070 transient storage
//! as storage, OP-080 balances for staked entities only) and the storage rules (STO-010, STO-021, STO-022,
//! STO-031..033). Reputation (GREP/SREP/EREP), the local STO-040/041 rules and COD-010 are not applied:
//! this bundler serves one developer's chain, not a shared mempool.

use crate::trace::{Access, Phase, PhaseKind, Trace};
use alloy::primitives::{keccak256, Address, B256, U256};
use serde::Serialize;
use std::collections::HashMap;

/// A broken rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The rule's code in ERC-7562, e.g. `OP-011` or `STO-021`.
    pub rule: String,
    /// `factory`, `account` or `paymaster`: whose validation phase broke it.
    pub entity: &'static str,
    /// What happened, in words.
    pub message: String,
}

/// The operation's entities and whether each is staked (SREP-010: enough stake, long enough unstake delay).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entities {
    /// The account.
    pub sender: Address,
    /// The factory, when the operation creates the account.
    pub factory: Option<Address>,
    /// The paymaster, if any.
    pub paymaster: Option<Address>,
    /// Whether the account is staked.
    pub sender_staked: bool,
    /// Whether the factory is staked.
    pub factory_staked: bool,
    /// Whether the paymaster is staked.
    pub paymaster_staked: bool,
}

impl Entities {
    fn of(&self, kind: PhaseKind) -> (Address, bool) {
        match kind {
            PhaseKind::Factory => (self.factory.unwrap_or_default(), self.factory_staked),
            PhaseKind::Account => (self.sender, self.sender_staked),
            PhaseKind::Paymaster => (self.paymaster.unwrap_or_default(), self.paymaster_staked),
        }
    }

    fn is_entity(&self, address: Address) -> bool {
        address == self.sender || Some(address) == self.factory || Some(address) == self.paymaster
    }
}

/// `depositTo(address)`.
const DEPOSIT_TO: [u8; 4] = [0xb7, 0x60, 0xfa, 0xf9];

/// Checks every phase of `trace`; an empty list means the validation follows the rules.
pub fn check(trace: &Trace, entities: &Entities, entry_point: Address) -> Vec<Violation> {
    let associated = Associated::new(&trace.keccak);
    let mut violations = Vec::new();
    for phase in &trace.phases {
        let mut rules = PhaseRules {
            phase,
            entities,
            entry_point,
            associated: &associated,
            out: &mut violations,
        };
        rules.opcodes();
        rules.creations();
        rules.calls();
        rules.code_access();
        rules.storage();
    }
    violations
}

struct PhaseRules<'a> {
    phase: &'a Phase,
    entities: &'a Entities,
    entry_point: Address,
    associated: &'a Associated,
    out: &'a mut Vec<Violation>,
}

impl PhaseRules<'_> {
    fn report(&mut self, rule: &str, message: String) {
        let entity = self.phase.kind.entity();
        let violation = Violation { rule: rule.into(), entity, message };
        if !self.out.contains(&violation) {
            self.out.push(violation);
        }
    }

    fn opcodes(&mut self) {
        let (_, staked) = self.entities.of(self.phase.kind);
        for used in &self.phase.violations {
            let message = match used.rule.as_str() {
                "OP-011" => format!("{} uses the blocked opcode {}", used.address, used.opcode),
                "OP-012" => format!("{} uses GAS other than right before a call", used.address),
                "OP-013" => format!("{} uses the unassigned opcode {}", used.address, used.opcode),
                "OP-080" if staked => continue,
                "OP-080" => format!(
                    "{} uses {}, which only a staked entity may use",
                    used.address, used.opcode
                ),
                other => format!("{} breaks {other} with {}", used.address, used.opcode),
            };
            self.report(&used.rule, message);
        }
        if self.phase.oog {
            self.report("OP-020", "validation ran out of gas".into());
        }
    }

    fn creations(&mut self) {
        let creates = &self.phase.creates;
        if self.phase.kind != PhaseKind::Factory && !creates.is_empty() {
            self.report(
                "OP-031",
                format!("{} uses CREATE2 outside account creation", creates[0].from),
            );
        } else if creates.len() > 1 {
            self.report(
                "OP-031",
                format!("the factory uses CREATE2 {} times; once is allowed", creates.len()),
            );
        }
    }

    fn calls(&mut self) {
        for call in &self.phase.calls {
            if call.to == self.entry_point {
                let from_sender = call.from == self.entities.sender;
                let from_factory = Some(call.from) == self.entities.factory;
                let deposit = call.selector.as_ref() == DEPOSIT_TO && (from_sender || from_factory);
                let fallback = call.selector.is_empty() && from_sender;
                if !(deposit || fallback) {
                    self.report(
                        "OP-054",
                        format!(
                            "{} calls the EntryPoint ({}); only depositTo and the sender's plain transfer are allowed",
                            call.from, call.selector
                        ),
                    );
                }
                continue;
            }
            if !call.value.is_zero() {
                self.report(
                    "OP-061",
                    format!("{} sends {} wei to {}", call.from, call.value, call.to),
                );
            }
            if !call.has_code {
                self.codeless(call.to, &call.opcode, call.from);
            }
        }
    }

    fn code_access(&mut self) {
        for access in &self.phase.extcode {
            if access.to == self.entry_point {
                if access.opcode != "EXTCODESIZE" {
                    self.report(
                        "OP-054",
                        format!("{} uses {} on the EntryPoint", access.from, access.opcode),
                    );
                }
                continue;
            }
            if !access.has_code {
                self.codeless(access.to, &access.opcode, access.from);
            }
        }
    }

    fn codeless(&mut self, to: Address, opcode: &str, from: Address) {
        if let Some(number) = precompile(to) {
            if !(1..=0x0a).contains(&number) && number != 0x100 {
                self.report(
                    "OP-062",
                    format!("{from} uses the precompile {to}, which is not allowed"),
                );
            }
        } else if !(self.phase.kind == PhaseKind::Factory && to == self.entities.sender) {
            self.report("OP-041", format!("{from} uses {opcode} on {to}, which has no code"));
        }
    }

    fn storage(&mut self) {
        let (entity, staked) = self.entities.of(self.phase.kind);
        let sender = self.entities.sender;
        let creating = self.entities.factory.is_some();
        for (&contract, slots) in &self.phase.storage {
            if contract == sender {
                continue; // STO-010
            }
            for (&slot, &access) in slots {
                let verb = if access == Access::Write { "writes" } else { "reads" };
                if self.associated.with(sender, slot) {
                    if creating && !self.entities.factory_staked {
                        self.report(
                            "STO-022",
                            format!(
                                "{verb} the account's slot {slot} in {contract} while the account is created; that needs a staked factory"
                            ),
                        );
                    }
                    continue; // STO-021, or STO-022 with a staked factory
                }
                if staked {
                    let own = contract == entity;
                    let its_slot = self.associated.with(entity, slot);
                    let read_only = access == Access::Read && !self.entities.is_entity(contract);
                    if own || its_slot || read_only {
                        continue; // STO-031, STO-032, STO-033
                    }
                }
                if contract == entity {
                    self.report(
                        "STO-031",
                        format!("{verb} its own storage (slot {slot}); only a staked entity may"),
                    );
                } else {
                    self.report(
                        "STO-021",
                        format!(
                            "{verb} slot {slot} of {contract}, which is not associated with the account {sender}"
                        ),
                    );
                }
            }
        }
    }
}

/// The precompile number of `address`, if it is in the precompile range (at most 0x100 plus one).
fn precompile(address: Address) -> Option<u64> {
    let value = U256::from_be_slice(address.as_slice());
    (value <= U256::from(0x1ff) && !value.is_zero()).then(|| value.to::<u64>())
}

/// Which slots are associated with which address: `keccak(A || x) + n` for `n` in 0..=128, or `A` itself.
struct Associated {
    bases: HashMap<Address, Vec<U256>>,
}

impl Associated {
    fn new(preimages: &[alloy::primitives::Bytes]) -> Self {
        let mut bases: HashMap<Address, Vec<U256>> = HashMap::new();
        for preimage in preimages.iter().filter(|p| p.len() >= 32) {
            let word = &preimage[..32];
            if word[..12].iter().any(|b| *b != 0) {
                continue;
            }
            let address = Address::from_slice(&word[12..]);
            bases.entry(address).or_default().push(U256::from_be_bytes(keccak256(preimage).0));
        }
        Self { bases }
    }

    fn with(&self, address: Address, slot: B256) -> bool {
        if slot == address.into_word() {
            return true;
        }
        let slot = U256::from_be_bytes(slot.0);
        self.bases.get(&address).is_some_and(|bases| {
            bases.iter().any(|base| slot.checked_sub(*base).is_some_and(|n| n <= U256::from(128)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{CallSite, OpcodeUse};
    use alloy::primitives::{address, Bytes};
    use std::collections::BTreeMap;

    const EP: Address = address!("0000000071727De22E5E9d8BAf0edAc6f37da032");
    const SENDER: Address = address!("1000000000000000000000000000000000000001");
    const MODULE: Address = address!("2000000000000000000000000000000000000002");
    const FACTORY: Address = address!("3000000000000000000000000000000000000003");

    fn entities() -> Entities {
        Entities {
            sender: SENDER,
            factory: None,
            paymaster: None,
            sender_staked: false,
            factory_staked: false,
            paymaster_staked: false,
        }
    }

    fn phase(kind: PhaseKind) -> Phase {
        Phase {
            kind,
            target: SENDER,
            violations: vec![],
            storage: BTreeMap::new(),
            calls: vec![],
            extcode: vec![],
            creates: vec![],
            oog: false,
        }
    }

    fn trace(phases: Vec<Phase>, keccak: Vec<Bytes>) -> Trace {
        Trace { phases, keccak, output: Bytes::new(), error: None }
    }

    /// keccak(pad(account) . pad(slot)): a `mapping(address => ...)` entry of `account`.
    fn mapping_entry(account: Address, slot: u8) -> (Bytes, B256) {
        let mut preimage = account.into_word().to_vec();
        preimage.extend_from_slice(&B256::with_last_byte(slot).0);
        let hash = keccak256(&preimage);
        (preimage.into(), hash)
    }

    fn rules(violations: &[Violation]) -> Vec<&str> {
        violations.iter().map(|v| v.rule.as_str()).collect()
    }

    #[test]
    fn the_accounts_entry_in_a_module_is_associated_and_allowed() {
        let (preimage, slot) = mapping_entry(SENDER, 3);
        let mut account = phase(PhaseKind::Account);
        account.storage.insert(MODULE, BTreeMap::from([(slot, Access::Write)]));
        // A struct field 128 slots further is still associated.
        let far = B256::from(U256::from_be_bytes(slot.0) + U256::from(128));
        account.storage.get_mut(&MODULE).unwrap().insert(far, Access::Read);
        assert!(check(&trace(vec![account], vec![preimage]), &entities(), EP).is_empty());
    }

    #[test]
    fn another_accounts_entry_is_foreign_storage() {
        let other = address!("9000000000000000000000000000000000000009");
        let (preimage, slot) = mapping_entry(other, 3);
        let mut account = phase(PhaseKind::Account);
        account.storage.insert(MODULE, BTreeMap::from([(slot, Access::Read)]));
        let found = check(&trace(vec![account], vec![preimage]), &entities(), EP);
        assert_eq!(rules(&found), ["STO-021"]);
        assert!(found[0].message.contains("not associated with the account"));
    }

    #[test]
    fn a_slot_past_the_struct_window_is_not_associated() {
        let (preimage, slot) = mapping_entry(SENDER, 3);
        let beyond = B256::from(U256::from_be_bytes(slot.0) + U256::from(129));
        let mut account = phase(PhaseKind::Account);
        account.storage.insert(MODULE, BTreeMap::from([(beyond, Access::Read)]));
        assert_eq!(
            rules(&check(&trace(vec![account], vec![preimage]), &entities(), EP)),
            ["STO-021"]
        );
    }

    #[test]
    fn a_plain_variable_of_an_external_contract_is_refused_unless_staked_and_read_only() {
        let mut account = phase(PhaseKind::Account);
        account.storage.insert(MODULE, BTreeMap::from([(B256::ZERO, Access::Read)]));
        let unstaked = check(&trace(vec![account.clone()], vec![]), &entities(), EP);
        assert_eq!(rules(&unstaked), ["STO-021"]);
        let staked = Entities { sender_staked: true, ..entities() };
        assert!(check(&trace(vec![account.clone()], vec![]), &staked, EP).is_empty());
        account.storage.insert(MODULE, BTreeMap::from([(B256::ZERO, Access::Write)]));
        assert_eq!(rules(&check(&trace(vec![account], vec![]), &staked, EP)), ["STO-021"]);
    }

    #[test]
    fn associated_storage_during_creation_needs_a_staked_factory() {
        let (preimage, slot) = mapping_entry(SENDER, 1);
        let mut creation = phase(PhaseKind::Factory);
        creation.storage.insert(MODULE, BTreeMap::from([(slot, Access::Write)]));
        let creating = Entities { factory: Some(FACTORY), ..entities() };
        let found = check(&trace(vec![creation.clone()], vec![preimage.clone()]), &creating, EP);
        assert_eq!(rules(&found), ["STO-022"]);
        let staked = Entities { factory_staked: true, ..creating };
        assert!(check(&trace(vec![creation], vec![preimage]), &staked, EP).is_empty());
    }

    #[test]
    fn an_unstaked_paymaster_may_not_use_its_own_storage() {
        let paymaster = address!("4000000000000000000000000000000000000004");
        let mut validation = phase(PhaseKind::Paymaster);
        validation.storage.insert(paymaster, BTreeMap::from([(B256::ZERO, Access::Read)]));
        let with_paymaster = Entities { paymaster: Some(paymaster), ..entities() };
        assert_eq!(
            rules(&check(&trace(vec![validation.clone()], vec![]), &with_paymaster, EP)),
            ["STO-031"]
        );
        let staked = Entities { paymaster_staked: true, ..with_paymaster };
        assert!(check(&trace(vec![validation], vec![]), &staked, EP).is_empty());
    }

    #[test]
    fn balance_is_allowed_to_staked_entities_only() {
        let mut account = phase(PhaseKind::Account);
        account.violations.push(OpcodeUse {
            rule: "OP-080".into(),
            opcode: "BALANCE".into(),
            address: SENDER,
        });
        assert_eq!(
            rules(&check(&trace(vec![account.clone()], vec![]), &entities(), EP)),
            ["OP-080"]
        );
        let staked = Entities { sender_staked: true, ..entities() };
        assert!(check(&trace(vec![account], vec![]), &staked, EP).is_empty());
    }

    fn call(from: Address, to: Address, selector: &[u8], value: u64, has_code: bool) -> CallSite {
        CallSite {
            opcode: "CALL".into(),
            from,
            to,
            value: U256::from(value),
            selector: Bytes::copy_from_slice(selector),
            has_code,
        }
    }

    #[test]
    fn entry_point_access_is_limited_to_deposits() {
        let mut account = phase(PhaseKind::Account);
        account.calls.push(call(SENDER, EP, &[], 5, true)); // OP-053: pays the prefund
        account.calls.push(call(SENDER, EP, &DEPOSIT_TO, 5, true)); // OP-052
        assert!(check(&trace(vec![account.clone()], vec![]), &entities(), EP).is_empty());
        account.calls.push(call(MODULE, EP, &[0x35, 0x56, 0x7e, 0x1a], 0, true)); // getNonce
        assert_eq!(rules(&check(&trace(vec![account], vec![]), &entities(), EP)), ["OP-054"]);
    }

    #[test]
    fn value_calls_codeless_addresses_and_unknown_precompiles_are_refused() {
        let mut account = phase(PhaseKind::Account);
        account.calls.push(call(SENDER, MODULE, &[1, 2, 3, 4], 1, true));
        account.calls.push(call(
            SENDER,
            address!("00000000000000000000000000000000000000aa"),
            &[],
            0,
            false,
        ));
        account.calls.push(call(
            SENDER,
            address!("0000000000000000000000000000000000000001"),
            &[],
            0,
            false,
        ));
        account.calls.push(call(
            SENDER,
            address!("0000000000000000000000000000000000000100"),
            &[],
            0,
            false,
        ));
        account.calls.push(call(
            SENDER,
            address!("5000000000000000000000000000000000000005"),
            &[],
            0,
            false,
        ));
        let found = check(&trace(vec![account], vec![]), &entities(), EP);
        assert_eq!(rules(&found), ["OP-061", "OP-062", "OP-041"]);
    }

    #[test]
    fn the_factory_may_touch_the_sender_before_it_has_code_and_create_it_once() {
        let mut creation = phase(PhaseKind::Factory);
        creation.calls.push(call(FACTORY, SENDER, &[1, 2, 3, 4], 0, false));
        creation.creates.push(crate::trace::Creation { opcode: "CREATE2".into(), from: FACTORY });
        let creating = Entities { factory: Some(FACTORY), ..entities() };
        assert!(check(&trace(vec![creation.clone()], vec![]), &creating, EP).is_empty());
        creation.creates.push(crate::trace::Creation { opcode: "CREATE2".into(), from: FACTORY });
        assert_eq!(rules(&check(&trace(vec![creation], vec![]), &creating, EP)), ["OP-031"]);
    }

    #[test]
    fn blocked_opcodes_and_out_of_gas_are_reported_with_their_rule() {
        let mut account = phase(PhaseKind::Account);
        account.violations.push(OpcodeUse {
            rule: "OP-011".into(),
            opcode: "TIMESTAMP".into(),
            address: MODULE,
        });
        account.oog = true;
        let found = check(&trace(vec![account], vec![]), &entities(), EP);
        assert_eq!(rules(&found), ["OP-011", "OP-020"]);
        assert!(found[0].message.contains("TIMESTAMP"));
        assert_eq!(found[0].entity, "account");
    }
}
