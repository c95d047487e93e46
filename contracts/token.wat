;; token: a fungible token. Balances live in the contract's storage under "b" followed by the
;; holder's 20-byte address (u64, little-endian). `init(supply: u64)` gives the whole supply
;; to the deployer; `transfer(to: address, amount: u64)` moves tokens from the caller (an
;; account, or a contract calling through a receipt) and emits the 28-byte event
;; to ++ amount, failing with "insufficient balance" when the caller holds too little;
;; `balance_of(holder: address)` returns a balance. `transfer_call(to: address, amount: u64)`
;; transfers like `transfer`, then notifies the receiving contract: it calls
;; `to.on_tokens(from: address, amount: u64)` in a later block (attaching 1,000,000 gas), so a
;; contract learns who sent it tokens from the token itself (the vaults book deposits this way;
;; if the notification fails, the tokens stay with `to`). It is the callee of the exchange and
;; the vaults, and what the load generator calls with `[workload] contract = "token"` (which
;; funds every workload account with tokens at genesis).
(module
  (import "env" "input_len" (func $input_len (result i32)))
  (import "env" "input" (func $input (param i32)))
  (import "env" "caller" (func $caller (param i32)))
  (import "env" "storage_read" (func $storage_read (param i32 i32 i32 i32) (result i64)))
  (import "env" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "env" "return_value" (func $return_value (param i32 i32)))
  (import "env" "emit" (func $emit (param i32 i32)))
  (import "env" "fail" (func $fail (param i32 i32)))
  (import "env" "promise_call"
    (func $promise_call (param i32 i32 i32 i32 i32 i64 i64) (result i32)))
  (memory (export "memory") 1 1)
  ;; 0..28 input; 32..52 caller; 64..85 first key; 96..104 value; 128..149 second key;
  ;; 288..316 the notification's arguments
  (data (i32.const 200) "insufficient balance")
  (data (i32.const 240) "bad arguments")
  (data (i32.const 264) "on_tokens")
  (func $copy20 (param $dst i32) (param $src i32)
    (i64.store (local.get $dst) (i64.load (local.get $src)))
    (i64.store (i32.add (local.get $dst) (i32.const 8))
      (i64.load (i32.add (local.get $src) (i32.const 8))))
    (i32.store (i32.add (local.get $dst) (i32.const 16))
      (i32.load (i32.add (local.get $src) (i32.const 16)))))
  ;; writes the balance key of the address at $addr to $dst
  (func $key (param $dst i32) (param $addr i32)
    (i32.store8 (local.get $dst) (i32.const 98))
    (call $copy20 (i32.add (local.get $dst) (i32.const 1)) (local.get $addr)))
  (func $get (param $key i32) (result i64)
    (if (result i64)
      (i64.lt_s
        (call $storage_read (local.get $key) (i32.const 21) (i32.const 96) (i32.const 8))
        (i64.const 0))
      (then (i64.const 0))
      (else (i64.load (i32.const 96)))))
  (func $set (param $key i32) (param $v i64)
    (i64.store (i32.const 96) (local.get $v))
    (call $storage_write (local.get $key) (i32.const 21) (i32.const 96) (i32.const 8)))
  (func $args (param $len i32)
    (if (i32.ne (call $input_len) (local.get $len))
      (then (call $fail (i32.const 240) (i32.const 13))))
    (call $input (i32.const 0)))
  (func (export "init")
    (call $args (i32.const 8))
    (call $caller (i32.const 32))
    (call $key (i32.const 64) (i32.const 32))
    (call $set (i32.const 64) (i64.load (i32.const 0))))
  (func $transfer (export "transfer")
    (local $amount i64)
    (local $from i64)
    (call $args (i32.const 28))
    (local.set $amount (i64.load (i32.const 20)))
    (call $caller (i32.const 32))
    (call $key (i32.const 64) (i32.const 32))
    (call $key (i32.const 128) (i32.const 0))
    (local.set $from (call $get (i32.const 64)))
    (if (i64.lt_u (local.get $from) (local.get $amount))
      (then (call $fail (i32.const 200) (i32.const 20))))
    (call $set (i32.const 64) (i64.sub (local.get $from) (local.get $amount)))
    (call $set (i32.const 128) (i64.add (call $get (i32.const 128)) (local.get $amount)))
    (call $emit (i32.const 0) (i32.const 28)))
  (func (export "transfer_call")
    (call $transfer)
    ;; on_tokens(from, amount): the caller (at 32) and the amount (at 20)
    (call $copy20 (i32.const 288) (i32.const 32))
    (i64.store (i32.const 308) (i64.load (i32.const 20)))
    (drop (call $promise_call (i32.const 0) (i32.const 264) (i32.const 9) (i32.const 288)
      (i32.const 28) (i64.const 1000000) (i64.const 0))))
  (func (export "balance_of")
    (call $args (i32.const 20))
    (call $key (i32.const 64) (i32.const 0))
    (i64.store (i32.const 96) (call $get (i32.const 64)))
    (call $return_value (i32.const 96) (i32.const 8))))
