// ERC-7562 validation collector, run by the node as a `debug_traceCall` JavaScript tracer.
//
// The traced call is an EntryPoint simulation. Every call the EntryPoint itself makes (depth 1) to create the
// account, to `validateUserOp` or to `validatePaymasterUserOp` opens a validation phase; everything executed
// under that call belongs to the phase. The tracer records what the rules need, and the bundler judges it:
// - opcode rules it can decide alone (OP-011, OP-012, OP-013, OP-020, and OP-080 candidates);
// - storage accesses per contract and slot (SLOAD/SSTORE, and TLOAD/TSTORE per OP-070);
// - KECCAK256 inputs, to tell which slots are associated with an address;
// - calls (target, value, selector, whether the target has code), EXTCODE* targets, CREATE/CREATE2.
// Opcodes the EntryPoint executes (its own frames, including `depositTo`) are trusted and not recorded.
// `__PHASES__` is replaced by the bundler with the selectors that open a phase.
//
// `__ALONE__` is `null`, or names the phase when the bundler traces the account's `validateUserOp` alone, called
// from the EntryPoint's address (the EntryPoint's own checks then run untraced): the traced call is that phase
// from its first step, and the EntryPoint's address is given. The node calls `step` for every opcode, at about
// the same cost whatever it does, so leaving out the EntryPoint's own third of the opcodes saves that third.
{
  phases: [],
  phase: null,
  keccak: [],
  entryPoint: null,
  selectors: __PHASES__,
  alone: __ALONE__,
  blocked: { 0x32: "ORIGIN", 0x3a: "GASPRICE", 0x40: "BLOCKHASH", 0x41: "COINBASE", 0x42: "TIMESTAMP",
             0x43: "NUMBER", 0x44: "PREVRANDAO", 0x45: "GASLIMIT", 0x48: "BASEFEE", 0x49: "BLOBHASH",
             0x4a: "BLOBBASEFEE", 0xf0: "CREATE", 0xfe: "INVALID", 0xff: "SELFDESTRUCT" },
  calls: { 0xf1: "CALL", 0xf2: "CALLCODE", 0xf4: "DELEGATECALL", 0xfa: "STATICCALL" },
  storage: { 0x54: "r", 0x55: "w", 0x5c: "r", 0x5d: "w" },
  extcode: { 0x3b: "EXTCODESIZE", 0x3c: "EXTCODECOPY", 0x3f: "EXTCODEHASH" },

  word: function (value) {
    var hex = value.toString(16);
    return "0x" + ("0000000000000000000000000000000000000000000000000000000000000000" + hex).slice(-64);
  },
  address: function (value) {
    var hex = value.toString(16);
    return "0x" + ("0000000000000000000000000000000000000000" + hex).slice(-40);
  },
  number: function (value) {
    return parseInt(value.toString(16), 16);
  },
  assigned: function (op) {
    return (op <= 0x0b) || (op >= 0x10 && op <= 0x1d) || op === 0x20 || (op >= 0x30 && op <= 0x4a) ||
      (op >= 0x50 && op <= 0xa4) || (op >= 0xf0 && op <= 0xf5) || op === 0xfa || op >= 0xfd;
  },
  hasCode: function (address, db) {
    return db.getCode(toAddress(address)).length > 0;
  },
  selectorAt: function (log, offset, length) {
    if (length < 4) return "0x";
    return toHex(log.memory.slice(offset, offset + 4));
  },

  // A step of the EntryPoint's own frame: closes the open phase, and opens one on a phase call.
  top: function (log) {
    var op = log.op.toNumber();
    if (this.phase !== null) {
      this.phases.push(this.phase);
      this.phase = null;
    }
    if (op !== 0xf1 && op !== 0xfa) return;
    if (this.entryPoint === null) this.entryPoint = toHex(log.contract.getAddress());
    var args = op === 0xf1 ? 3 : 2;
    var selector = this.selectorAt(log, this.number(log.stack.peek(args)), this.number(log.stack.peek(args + 1)));
    var kind = this.selectors[selector];
    if (kind === undefined) return;
    this.phase = this.open(kind, this.address(log.stack.peek(1)), selector);
  },

  open: function (kind, target, selector) {
    return {
      kind: kind, target: target, selector: selector,
      violations: [], storage: {}, calls: [], extcode: [], creates: [], oog: false, lastGas: false
    };
  },

  // Whether a step belongs to the EntryPoint's own top frame (never the case when a phase is traced alone).
  atTop: function () {
    return this.depth === 1 && this.alone === null;
  },

  // What each opcode means to the rules, so that most steps cost one table lookup:
  // 0 nothing, 1 blocked, 2 balance, 3 storage, 4 keccak, 5 extcode, 6 call, 7 create2, 8 gas, 9 unassigned.
  kinds: null,
  init: function () {
    var kinds = [];
    for (var op = 0; op < 256; op++) {
      var kind = 0;
      if (!this.assigned(op)) kind = 9;
      else if (this.blocked[op] !== undefined) kind = 1;
      else if (op === 0x31 || op === 0x47) kind = 2;
      else if (this.storage[op] !== undefined) kind = 3;
      else if (op === 0x20) kind = 4;
      else if (this.extcode[op] !== undefined) kind = 5;
      else if (this.calls[op] !== undefined) kind = 6;
      else if (op === 0xf5) kind = 7;
      else if (op === 0x5a) kind = 8;
      kinds.push(kind);
    }
    this.kinds = kinds;
  },

  // The call depth, kept by enter/exit so that a step needs no call into the node to know it (the top-level
  // frame has no enter). Steps outside a validation phase then cost a property read.
  depth: 1,
  enter: function (frame) {
    this.depth++;
  },
  exit: function (result) {
    this.depth--;
  },

  step: function (log, db) {
    if (this.atTop()) {
      this.top(log);
      return;
    }
    var phase = this.phase;
    if (phase === null) {
      if (this.alone === null) return;
      this.entryPoint = this.alone.entryPoint;
      phase = this.phase = this.open(this.alone.kind, this.alone.target, this.alone.selector);
    }
    if (this.kinds === null) this.init();
    var op = log.op.toNumber();
    var kind = this.kinds[op];
    if (phase.lastGas) {
      phase.lastGas = false;
      if (kind !== 6) phase.violations.push({ rule: "OP-012", opcode: "GAS", address: toHex(log.contract.getAddress()) });
    }
    if (kind === 0) return;
    var here = toHex(log.contract.getAddress());
    if (here === this.entryPoint) return;

    if (kind === 8) {
      phase.lastGas = true;
    } else if (kind === 1) {
      phase.violations.push({ rule: "OP-011", opcode: this.blocked[op], address: here });
    } else if (kind === 2) {
      phase.violations.push({ rule: "OP-080", opcode: op === 0x31 ? "BALANCE" : "SELFBALANCE", address: here });
    } else if (kind === 9) {
      phase.violations.push({ rule: "OP-013", opcode: "0x" + op.toString(16), address: here });
    } else if (kind === 3) {
      var slots = phase.storage[here];
      if (slots === undefined) { slots = {}; phase.storage[here] = slots; }
      var slot = this.word(log.stack.peek(0));
      if (slots[slot] !== "w") slots[slot] = this.storage[op];
    } else if (kind === 4) {
      var length = this.number(log.stack.peek(1));
      if (length >= 32 && length <= 256 && this.keccak.length < 4096) {
        var offset = this.number(log.stack.peek(0));
        this.keccak.push(toHex(log.memory.slice(offset, offset + length)));
      }
    } else if (kind === 5) {
      var target = this.address(log.stack.peek(0));
      phase.extcode.push({ opcode: this.extcode[op], from: here, to: target, hasCode: this.hasCode(target, db) });
    } else if (kind === 6) {
      var valued = op === 0xf1 || op === 0xf2;
      var to = this.address(log.stack.peek(1));
      var argsAt = valued ? 3 : 2;
      phase.calls.push({
        opcode: this.calls[op], from: here, to: to,
        value: valued ? this.word(log.stack.peek(2)) : "0x0",
        selector: this.selectorAt(log, this.number(log.stack.peek(argsAt)), this.number(log.stack.peek(argsAt + 1))),
        hasCode: this.hasCode(to, db)
      });
    } else if (kind === 7) {
      phase.creates.push({ opcode: "CREATE2", from: here });
    }
  },

  // Called when an opcode fails; running out of gas during validation is OP-020.
  fault: function (log, db) {
    if (this.phase === null || this.atTop()) return;
    var error = String(log.getError() || "");
    if (/gas/i.test(error) || log.getGas() < log.getCost()) this.phase.oog = true;
  },

  result: function (ctx, db) {
    if (this.phase !== null) this.phases.push(this.phase);
    return { phases: this.phases, keccak: this.keccak, output: toHex(ctx.output), error: ctx.error || null };
  }
}
