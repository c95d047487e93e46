;; vault_naive: asynchronous re-entrancy, the bug. A vault keeps users' `token` deposits and
;; books what each may take back. Deposits are honest: a user sends tokens with
;; `token.transfer_call(vault, amount)`, and the token (and only the token) then calls
;; `on_tokens(from, amount)`, which credits the sender's books. `withdraw(amount)` checks the
;; caller's books, calls `token.transfer(caller, amount)` (a receipt, run in a later block)
;; and, in a callback `on_withdrawn(user, amount)` that runs after it, debits the books once the
;; tokens were paid. The books are only debited when the callback runs, two blocks after the
;; withdrawal: a second `withdraw` arriving in between passes the same check, and the vault
;; pays the same books twice, out of other users' deposits (the second callback then finds
;; the books short, fails with "books underflow", and the tokens are gone anyway). With A and
;; B booked 100 each, A's two withdrawals of 100 take all 200 tokens: the books still owe B
;; 100 and the vault holds none. vault_fixed is the same vault with the books debited before
;; the call. Run config/contracts-vault.toml.
;;
;; init(token: address); on_tokens(from: address, amount: u64), from the token only;
;; withdraw(amount: u64); on_withdrawn(user: address, amount: u64), its own callback only;
;; books_of(user: address) -> u64; total() -> u64 (the sum of the books). Storage: "t" the
;; token's address, "T" the total, "b" ++ address a user's books (u64 little-endian). Events:
;; an ASCII tag then user (20 bytes) ++ amount (u64): "deposit", "withdraw" (asked),
;; "paid" (the callback saw the tokens paid), "failed" (the callback saw the transfer fail).
(module
  (import "env" "input_len" (func $input_len (result i32)))
  (import "env" "input" (func $input (param i32)))
  (import "env" "caller" (func $caller (param i32)))
  (import "env" "self_address" (func $self_address (param i32)))
  (import "env" "storage_read" (func $storage_read (param i32 i32 i32 i32) (result i64)))
  (import "env" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "env" "return_value" (func $return_value (param i32 i32)))
  (import "env" "emit" (func $emit (param i32 i32)))
  (import "env" "fail" (func $fail (param i32 i32)))
  (import "env" "promise_call"
    (func $promise_call (param i32 i32 i32 i32 i32 i64 i64) (result i32)))
  (import "env" "promise_then"
    (func $promise_then (param i32 i32 i32 i32 i32 i64) (result i32)))
  (import "env" "promise_result" (func $promise_result (param i32) (result i32)))
  (memory (export "memory") 1 1)
  ;; 0..28 input; 32..52 caller; 64..84 own address; 96..116 token address; 128..149 books
  ;; key; 160..168 a storage value; 192..220 user ++ amount (the transfer's and the
  ;; callback's arguments, and an event's fields); 256.. an event; 4096.. a promise result
  (data (i32.const 512) "bad arguments")
  (data (i32.const 528) "insufficient books")
  (data (i32.const 560) "only the token credits deposits")
  (data (i32.const 600) "only the vault calls its callbacks")
  (data (i32.const 640) "transfer")
  (data (i32.const 656) "on_withdrawn")
  (data (i32.const 672) "books underflow")
  (data (i32.const 688) "amount must be positive")
  (data (i32.const 720) "overflow")
  (data (i32.const 736) "deposit")
  (data (i32.const 744) "withdraw")
  (data (i32.const 752) "paid")
  (data (i32.const 760) "failed")
  (data (i32.const 800) "T")
  (data (i32.const 801) "t")
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
      (then (call $fail (i32.const 600) (i32.const 34)))))
  (func $get (param $key i32) (param $len i32) (result i64)
    (if (result i64)
      (i64.lt_s
        (call $storage_read (local.get $key) (local.get $len) (i32.const 160) (i32.const 8))
        (i64.const 0))
      (then (i64.const 0))
      (else (i64.load (i32.const 160)))))
  (func $set (param $key i32) (param $len i32) (param $v i64)
    (i64.store (i32.const 160) (local.get $v))
    (call $storage_write (local.get $key) (local.get $len) (i32.const 160) (i32.const 8)))
  (func $book_key (param $user i32)
    (i32.store8 (i32.const 128) (i32.const 98))
    (memory.copy (i32.const 129) (local.get $user) (i32.const 20)))
  (func $books (param $user i32) (result i64)
    (call $book_key (local.get $user))
    (call $get (i32.const 128) (i32.const 21)))
  (func $set_books (param $user i32) (param $v i64)
    (call $book_key (local.get $user))
    (call $set (i32.const 128) (i32.const 21) (local.get $v)))
  (func $total (result i64)
    (call $get (i32.const 800) (i32.const 1)))
  (func $add (param $a i64) (param $b i64) (result i64)
    (if (i64.lt_u (i64.add (local.get $a) (local.get $b)) (local.get $a))
      (then (call $fail (i32.const 720) (i32.const 8))))
    (i64.add (local.get $a) (local.get $b)))
  ;; the event: the tag, then the 28 bytes at 192
  (func $event (param $tag i32) (param $len i32)
    (memory.copy (i32.const 256) (local.get $tag) (local.get $len))
    (memory.copy (i32.add (i32.const 256) (local.get $len)) (i32.const 192) (i32.const 28))
    (call $emit (i32.const 256) (i32.add (local.get $len) (i32.const 28))))
  (func (export "init")
    (call $args (i32.const 20))
    (call $storage_write (i32.const 801) (i32.const 1) (i32.const 0) (i32.const 20)))
  (func (export "on_tokens")
    (local $amount i64)
    (call $args (i32.const 28))
    (drop (call $storage_read (i32.const 801) (i32.const 1) (i32.const 96) (i32.const 20)))
    (call $caller (i32.const 32))
    (if (i32.eqz (call $eq20 (i32.const 32) (i32.const 96)))
      (then (call $fail (i32.const 560) (i32.const 31))))
    (local.set $amount (i64.load (i32.const 20)))
    (call $set_books (i32.const 0) (call $add (call $books (i32.const 0)) (local.get $amount)))
    (call $set (i32.const 800) (i32.const 1) (call $add (call $total) (local.get $amount)))
    (memory.copy (i32.const 192) (i32.const 0) (i32.const 28))
    (call $event (i32.const 736) (i32.const 7)))
  (func (export "withdraw")
    (local $amount i64)
    (call $args (i32.const 8))
    (local.set $amount (i64.load (i32.const 0)))
    (if (i64.eqz (local.get $amount))
      (then (call $fail (i32.const 688) (i32.const 23))))
    (call $caller (i32.const 32))
    ;; the check: the books as they are now, with earlier withdrawals still in flight
    (if (i64.lt_u (call $books (i32.const 32)) (local.get $amount))
      (then (call $fail (i32.const 528) (i32.const 18))))
    (memory.copy (i32.const 192) (i32.const 32) (i32.const 20))
    (i64.store (i32.const 212) (local.get $amount))
    (drop (call $storage_read (i32.const 801) (i32.const 1) (i32.const 96) (i32.const 20)))
    ;; token.transfer(user, amount), then on_withdrawn(user, amount)
    (drop (call $promise_then
      (call $promise_call (i32.const 96) (i32.const 640) (i32.const 8) (i32.const 192)
        (i32.const 28) (i64.const 2000000) (i64.const 0))
      (i32.const 656) (i32.const 12) (i32.const 192) (i32.const 28) (i64.const 2000000)))
    (call $event (i32.const 744) (i32.const 8)))
  (func (export "on_withdrawn")
    (local $amount i64)
    (local $books i64)
    (call $args (i32.const 28))
    (call $only_self)
    (local.set $amount (i64.load (i32.const 20)))
    (memory.copy (i32.const 192) (i32.const 0) (i32.const 28))
    (if (i32.eq (call $promise_result (i32.const 4096)) (i32.const 1))
      (then
        ;; the tokens are paid: debit the books now (too late)
        (local.set $books (call $books (i32.const 0)))
        (if (i64.lt_u (local.get $books) (local.get $amount))
          (then (call $fail (i32.const 672) (i32.const 15))))
        (call $set_books (i32.const 0) (i64.sub (local.get $books) (local.get $amount)))
        (call $set (i32.const 800) (i32.const 1) (i64.sub (call $total) (local.get $amount)))
        (call $event (i32.const 752) (i32.const 4)))
      (else
        ;; nothing was debited, so nothing to restore
        (call $event (i32.const 760) (i32.const 6)))))
  (func (export "books_of")
    (call $args (i32.const 20))
    (i64.store (i32.const 160) (call $books (i32.const 0)))
    (call $return_value (i32.const 160) (i32.const 8)))
  (func (export "total")
    (call $args (i32.const 0))
    (i64.store (i32.const 160) (call $total))
    (call $return_value (i32.const 160) (i32.const 8))))
