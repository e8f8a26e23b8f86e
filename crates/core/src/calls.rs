//! Calldata the session's UserOperations carry: a function call, and the account's ERC-7579 `execute`.

use crate::{explain::Call, Error};
use alloy::{
    primitives::{Bytes, B256, U256},
    sol,
    sol_types::SolCall,
};

sol! {
    /// ERC-7579 `execute(bytes32 mode, bytes executionCalldata)`.
    function execute(bytes32 mode, bytes executionCalldata);
}

/// Encodes a call to the function `signature` with one-word arguments (`"transfer(address,uint256)"`).
pub fn encode_call(signature: &str, words: &[U256]) -> Result<Bytes, Error> {
    let function = crate::abi::parse_function(signature)?;
    if function.inputs.len() != words.len() {
        return Err(Error::Abi(format!(
            "`{signature}` takes {} arguments, {} given",
            function.inputs.len(),
            words.len()
        )));
    }
    let mut data = Vec::with_capacity(4 + 32 * words.len());
    data.extend_from_slice(function.selector().as_slice());
    for word in words {
        data.extend_from_slice(&word.to_be_bytes::<32>());
    }
    Ok(data.into())
}

/// The account's `execute` calldata for `calls`: one call as a single execution
/// (`target || value || data`), several as a batch (`abi.encode(Execution[])`). Sessions never delegatecall.
pub fn encode_execute(calls: &[Call]) -> Bytes {
    let (mode, execution) = if calls.len() == 1 {
        let call = &calls[0];
        let mut packed = Vec::with_capacity(52 + call.data.len());
        packed.extend_from_slice(call.target.as_slice());
        packed.extend_from_slice(&call.value.to_be_bytes::<32>());
        packed.extend_from_slice(&call.data);
        (B256::ZERO, packed)
    } else {
        let mut mode = B256::ZERO;
        mode.0[0] = 0x01;
        let executions: Vec<(alloy::primitives::Address, U256, Bytes)> =
            calls.iter().map(|c| (c.target, c.value, c.data.clone())).collect();
        (mode, alloy::sol_types::SolValue::abi_encode(&executions))
    };
    executeCall { mode, executionCalldata: execution.into() }.abi_encode().into()
}
