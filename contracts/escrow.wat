;; escrow: value held for a seller until the buyer confirms, or refunded to the buyer in a
;; callback after a deadline. A buyer calls `open(seller, timeout_blocks)` attaching the value;
;; the deal's deadline is the opening block's height plus `timeout_blocks`. `confirm()` by the
;; buyer pays the seller at once (a synchronous `transfer`). `refund()` by the buyer, in a block
;; above the deadline, is asynchronous: it marks the deal "refunding" (so neither `confirm` nor
;; a second `refund` can touch it while it is in flight), then calls the escrow's own
;; `payout(buyer)` with the deal's value attached (a receipt, run a block later, which pays
;; the buyer) and `on_refunded(buyer)` after it (a callback, a block after that). The callback
;; settles the deal by the result it is given: `Ok` closes the deal; `Err` (the payment failed,
;; so the value came back to the escrow with the failed receipt) opens it again and logs the
;; reason. A deal is open, refunding, or gone; the value is always in exactly one place. Run
;; config/contracts-escrow.toml.
;;
;; One deal per buyer: storage "d" ++ buyer (20 bytes) holds seller (20) ++ amount (u64) ++
;; deadline height (u64) ++ state (1 byte: 0 open, 1 refunding). Methods: open(seller:
;; address, timeout_blocks: u64) with value; confirm(); refund(); deal_of(buyer: address) ->
;; the 37-byte deal; payout(to: address) and on_refunded(buyer: address), the escrow's own
;; receipts only. Events: an ASCII tag then buyer ++ seller ++ amount ++ deadline (56 bytes):
;; "opened", "released" (paid to the seller), "refunding" (refund asked), "refunded" (the
;; callback saw the buyer paid), "refund failed" (the callback saw the payment fail).
(module
  (import "env" "input_len" (func $input_len (result i32)))
  (import "env" "input" (func $input (param i32)))
  (import "env" "caller" (func $caller (param i32)))
  (import "env" "self_address" (func $self_address (param i32)))
  (import "env" "attached_value" (func $attached_value (result i64)))
  (import "env" "block_height" (func $block_height (result i64)))
  (import "env" "storage_read" (func $storage_read (param i32 i32 i32 i32) (result i64)))
  (import "env" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "env" "storage_remove" (func $storage_remove (param i32 i32) (result i32)))
  (import "env" "transfer" (func $transfer (param i32 i64)))
  (import "env" "return_value" (func $return_value (param i32 i32)))
  (import "env" "emit" (func $emit (param i32 i32)))
  (import "env" "log" (func $log (param i32 i32)))
  (import "env" "fail" (func $fail (param i32 i32)))
  (import "env" "promise_call"
    (func $promise_call (param i32 i32 i32 i32 i32 i64 i64) (result i32)))
  (import "env" "promise_then"
    (func $promise_then (param i32 i32 i32 i32 i32 i64) (result i32)))
  (import "env" "promise_result_len" (func $promise_result_len (result i32)))
  (import "env" "promise_result" (func $promise_result (param i32) (result i32)))
  (memory (export "memory") 1 1)
  ;; 0..28 input; 32..52 caller; 64..84 own address; 96..117 the deal's key ("d" ++ buyer,
  ;; so the buyer is at 97); 128..165 the deal (seller at 128, amount at 148, deadline at
  ;; 156, state at 164); 256.. an event; 4096.. a promise result
  (data (i32.const 512) "bad arguments")
  (data (i32.const 528) "attach the value to hold")
  (data (i32.const 560) "this buyer has a deal open")
  (data (i32.const 592) "no deal")
  (data (i32.const 608) "a refund is in flight")
  (data (i32.const 640) "the deadline has not passed")
  (data (i32.const 672) "only the escrow calls this")
  (data (i32.const 704) "timeout too long")
  (data (i32.const 736) "payout")
  (data (i32.const 744) "on_refunded")
  (data (i32.const 768) "opened")
  (data (i32.const 776) "released")
  (data (i32.const 784) "refunding")
  (data (i32.const 800) "refunded")
  (data (i32.const 816) "refund failed")
  (func $args (param $len i32)
    (if (i32.ne (call $input_len) (local.get $len))
      (then (call $fail (i32.const 512) (i32.const 13))))
    (call $input (i32.const 0)))
  (func $eq20 (param $a i32) (param $b i32) (result i32)
    (i32.and
      (i32.and
        (i64.eq (i64.load (local.get $a)) (i64.load (local.get $b)))
        (i64.eq (i64.load offset=8 (local.get $a)) (i64.load offset=8 (local.get $b))))
      (i32.eq (i32.load offset=16 (local.get $a)) (i32.load offset=16 (local.get $b)))))
  (func $only_self
    (call $caller (i32.const 32))
    (call $self_address (i32.const 64))
    (if (i32.eqz (call $eq20 (i32.const 32) (i32.const 64)))
      (then (call $fail (i32.const 672) (i32.const 26)))))
  ;; the deal's key for the buyer at $buyer, at 96
  (func $key (param $buyer i32)
    (i32.store8 (i32.const 96) (i32.const 100))
    (memory.copy (i32.const 97) (local.get $buyer) (i32.const 20)))
  ;; whether the deal under the key is there, read to 128
  (func $load (result i32)
    (i64.ge_s
      (call $storage_read (i32.const 96) (i32.const 21) (i32.const 128) (i32.const 37))
      (i64.const 0)))
  (func $must_load
    (if (i32.eqz (call $load)) (then (call $fail (i32.const 592) (i32.const 7)))))
  (func $save
    (call $storage_write (i32.const 96) (i32.const 21) (i32.const 128) (i32.const 37)))
  (func $must_be_open
    (if (i32.load8_u (i32.const 164)) (then (call $fail (i32.const 608) (i32.const 21)))))
  ;; the event: the tag, then buyer ++ the deal without its state
  (func $event (param $tag i32) (param $len i32)
    (memory.copy (i32.const 256) (local.get $tag) (local.get $len))
    (memory.copy (i32.add (i32.const 256) (local.get $len)) (i32.const 97) (i32.const 20))
    (memory.copy (i32.add (i32.const 276) (local.get $len)) (i32.const 128) (i32.const 36))
    (call $emit (i32.const 256) (i32.add (local.get $len) (i32.const 56))))
  (func (export "open")
    (local $value i64)
    (local $deadline i64)
    (call $args (i32.const 28))
    (local.set $value (call $attached_value))
    (if (i64.eqz (local.get $value)) (then (call $fail (i32.const 528) (i32.const 24))))
    (call $caller (i32.const 32))
    (call $key (i32.const 32))
    (if (call $load) (then (call $fail (i32.const 560) (i32.const 26))))
    (local.set $deadline (i64.add (call $block_height) (i64.load (i32.const 20))))
    (if (i64.lt_u (local.get $deadline) (call $block_height))
      (then (call $fail (i32.const 704) (i32.const 16))))
    (memory.copy (i32.const 128) (i32.const 0) (i32.const 20))
    (i64.store (i32.const 148) (local.get $value))
    (i64.store (i32.const 156) (local.get $deadline))
    (i32.store8 (i32.const 164) (i32.const 0))
    (call $save)
    (call $event (i32.const 768) (i32.const 6)))
  (func (export "confirm")
    (call $args (i32.const 0))
    (call $caller (i32.const 32))
    (call $key (i32.const 32))
    (call $must_load)
    (call $must_be_open)
    (call $transfer (i32.const 128) (i64.load (i32.const 148)))
    (drop (call $storage_remove (i32.const 96) (i32.const 21)))
    (call $event (i32.const 776) (i32.const 8)))
  (func (export "refund")
    (call $args (i32.const 0))
    (call $caller (i32.const 32))
    (call $key (i32.const 32))
    (call $must_load)
    (call $must_be_open)
    (if (i64.le_u (call $block_height) (i64.load (i32.const 156)))
      (then (call $fail (i32.const 640) (i32.const 27))))
    (i32.store8 (i32.const 164) (i32.const 1))
    (call $save)
    ;; payout(buyer) with the deal's value, then on_refunded(buyer)
    (call $self_address (i32.const 64))
    (drop (call $promise_then
      (call $promise_call (i32.const 64) (i32.const 736) (i32.const 6) (i32.const 97)
        (i32.const 20) (i64.const 2000000) (i64.load (i32.const 148)))
      (i32.const 744) (i32.const 11) (i32.const 97) (i32.const 20) (i64.const 2000000)))
    (call $event (i32.const 784) (i32.const 9)))
  (func (export "payout")
    (call $args (i32.const 20))
    (call $only_self)
    (call $transfer (i32.const 0) (call $attached_value)))
  (func (export "on_refunded")
    (call $args (i32.const 20))
    (call $only_self)
    (call $key (i32.const 0))
    (call $must_load)
    (if (i32.eq (call $promise_result (i32.const 4096)) (i32.const 1))
      (then
        (drop (call $storage_remove (i32.const 96) (i32.const 21)))
        (call $event (i32.const 800) (i32.const 8)))
      (else
        ;; the payment failed and its value came back: the deal is open again
        (i32.store8 (i32.const 164) (i32.const 0))
        (call $save)
        (call $log (i32.const 4096) (call $promise_result_len))
        (call $event (i32.const 816) (i32.const 13)))))
  (func (export "deal_of")
    (call $args (i32.const 20))
    (call $key (i32.const 0))
    (call $must_load)
    (call $return_value (i32.const 128) (i32.const 37))))
