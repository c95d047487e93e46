;; exchange: sells `token` for native value at a fixed price, across contracts. It is
;; deployed with `init(token, price)` and stocked by a plain `token.transfer` to its address.
;; `buy(amount)` attaching exactly amount x price calls `token.transfer(buyer, amount)` (a
;; receipt, run a block later, that moves the exchange's own tokens) and then its callback
;; `on_bought(buyer, amount, value)` (a block after that), which settles by the result it is
;; given: `Ok` books the sale; `Err` (the token failed, e.g. "insufficient balance" when the
;; exchange's stock is short) refunds the buyer's value with a `transfer` and logs the
;; token's error, which the callback reads through `promise_result`. The value never leaves
;; the exchange until the token has answered, and is either kept for tokens paid or returned.
;; Run config/contracts-exchange.toml.
;;
;; Methods: init(token: address, price: u64); buy(amount: u64) with value = amount x price;
;; on_bought(buyer: address, amount: u64, value: u64), its own callback only; stats() ->
;; sold (u64) ++ revenue (u64). Storage: "t" the token's address, "p" the price, "s" tokens
;; sold, "r" value earned. Events: an ASCII tag then buyer (20 bytes) ++ amount (u64) ++ value
;; (u64): "ordered" (buy called), "sold" (the callback saw the tokens paid), "refunded" (the
;; callback saw the token fail and returned the value).
(module
  (import "env" "input_len" (func $input_len (result i32)))
  (import "env" "input" (func $input (param i32)))
  (import "env" "caller" (func $caller (param i32)))
  (import "env" "self_address" (func $self_address (param i32)))
  (import "env" "attached_value" (func $attached_value (result i64)))
  (import "env" "storage_read" (func $storage_read (param i32 i32 i32 i32) (result i64)))
  (import "env" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
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
  ;; 0..36 input; 40..60 caller; 64..84 own address; 96..116 token address; 128..136 a
  ;; storage value; 160..196 buyer ++ amount ++ value (its first 28 bytes are the transfer's
  ;; arguments, all 36 the callback's, and an event's fields); 256.. an event; 4096.. a
  ;; promise result
  (data (i32.const 512) "bad arguments")
  (data (i32.const 528) "price must be positive")
  (data (i32.const 552) "amount must be positive")
  (data (i32.const 576) "value must be amount x price")
  (data (i32.const 608) "only the exchange calls its callbacks")
  (data (i32.const 648) "transfer")
  (data (i32.const 664) "on_bought")
  (data (i32.const 680) "ordered")
  (data (i32.const 688) "sold")
  (data (i32.const 696) "refunded")
  (data (i32.const 720) "t")
  (data (i32.const 721) "p")
  (data (i32.const 722) "s")
  (data (i32.const 723) "r")
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
  (func $get (param $key i32) (result i64)
    (if (result i64)
      (i64.lt_s
        (call $storage_read (local.get $key) (i32.const 1) (i32.const 128) (i32.const 8))
        (i64.const 0))
      (then (i64.const 0))
      (else (i64.load (i32.const 128)))))
  (func $set (param $key i32) (param $v i64)
    (i64.store (i32.const 128) (local.get $v))
    (call $storage_write (local.get $key) (i32.const 1) (i32.const 128) (i32.const 8)))
  ;; the event: the tag, then the 36 bytes at 160
  (func $event (param $tag i32) (param $len i32)
    (memory.copy (i32.const 256) (local.get $tag) (local.get $len))
    (memory.copy (i32.add (i32.const 256) (local.get $len)) (i32.const 160) (i32.const 36))
    (call $emit (i32.const 256) (i32.add (local.get $len) (i32.const 36))))
  (func (export "init")
    (call $args (i32.const 28))
    (if (i64.eqz (i64.load (i32.const 20)))
      (then (call $fail (i32.const 528) (i32.const 22))))
    (call $storage_write (i32.const 720) (i32.const 1) (i32.const 0) (i32.const 20))
    (call $set (i32.const 721) (i64.load (i32.const 20))))
  (func (export "buy")
    (local $amount i64)
    (local $price i64)
    (local $value i64)
    (call $args (i32.const 8))
    (local.set $amount (i64.load (i32.const 0)))
    (if (i64.eqz (local.get $amount))
      (then (call $fail (i32.const 552) (i32.const 23))))
    (local.set $price (call $get (i32.const 721)))
    (local.set $value (call $attached_value))
    ;; amount x price must not overflow, and must be the value attached
    (if (i32.or
          (i64.gt_u (local.get $amount) (i64.div_u (i64.const -1) (local.get $price)))
          (i64.ne (i64.mul (local.get $amount) (local.get $price)) (local.get $value)))
      (then (call $fail (i32.const 576) (i32.const 28))))
    (call $caller (i32.const 40))
    (memory.copy (i32.const 160) (i32.const 40) (i32.const 20))
    (i64.store (i32.const 180) (local.get $amount))
    (i64.store (i32.const 188) (local.get $value))
    (drop (call $storage_read (i32.const 720) (i32.const 1) (i32.const 96) (i32.const 20)))
    ;; token.transfer(buyer, amount), then on_bought(buyer, amount, value)
    (drop (call $promise_then
      (call $promise_call (i32.const 96) (i32.const 648) (i32.const 8) (i32.const 160)
        (i32.const 28) (i64.const 2000000) (i64.const 0))
      (i32.const 664) (i32.const 9) (i32.const 160) (i32.const 36) (i64.const 2000000)))
    (call $event (i32.const 680) (i32.const 7)))
  (func (export "on_bought")
    (call $args (i32.const 36))
    (call $caller (i32.const 40))
    (call $self_address (i32.const 64))
    (if (i32.eqz (call $eq20 (i32.const 40) (i32.const 64)))
      (then (call $fail (i32.const 608) (i32.const 37))))
    (memory.copy (i32.const 160) (i32.const 0) (i32.const 36))
    (if (i32.eq (call $promise_result (i32.const 4096)) (i32.const 1))
      (then
        ;; the buyer has the tokens: the value is the exchange's
        (call $set (i32.const 722)
          (i64.add (call $get (i32.const 722)) (i64.load (i32.const 20))))
        (call $set (i32.const 723)
          (i64.add (call $get (i32.const 723)) (i64.load (i32.const 28))))
        (call $event (i32.const 688) (i32.const 4)))
      (else
        ;; the token refused: the value goes back, with the token's reason in the log
        (call $transfer (i32.const 0) (i64.load (i32.const 28)))
        (call $log (i32.const 4096) (call $promise_result_len))
        (call $event (i32.const 696) (i32.const 8)))))
  (func (export "stats")
    (call $args (i32.const 0))
    (i64.store (i32.const 136) (call $get (i32.const 723)))
    (i64.store (i32.const 128) (call $get (i32.const 722)))
    (call $return_value (i32.const 128) (i32.const 16))))
