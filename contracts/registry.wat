;; registry: a first-come name registry, and the victim of a front-runner. `register(name)`
;; (1 to 64 bytes) makes the caller the name's owner if nobody owns it yet, else fails with
;; "taken"; it emits the event name ++ owner (the owner's 20-byte address). `owner_of(name)`
;; returns the owner's address (20 bytes), failing with "not registered". Owners never
;; change. Whoever's `register` executes first wins, and a block executes its transactions in
;; the order its miner chose (by fee): a node that sees a `register` in its mempool can copy
;; it with a higher fee and take the name, which is what config/contracts-frontrun.toml shows
;; (docs/contracts-frontrunning.md). contracts/registry_commit.wat is the defence.
(module
  (import "env" "input_len" (func $input_len (result i32)))
  (import "env" "input" (func $input (param i32)))
  (import "env" "caller" (func $caller (param i32)))
  (import "env" "storage_read" (func $storage_read (param i32 i32 i32 i32) (result i64)))
  (import "env" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "env" "return_value" (func $return_value (param i32 i32)))
  (import "env" "emit" (func $emit (param i32 i32)))
  (import "env" "fail" (func $fail (param i32 i32)))
  (memory (export "memory") 1 1)
  ;; 255: "o", then the name from 256: the owner key "o" ++ name is [255, 256 + len); the
  ;; owner's address is written right after the name, so [256, 256 + len + 20) is the event.
  ;; 512..532: an owner read back.
  (data (i32.const 255) "o")
  (data (i32.const 1024) "bad arguments")
  (data (i32.const 1040) "taken")
  (data (i32.const 1056) "not registered")
  ;; reads the name (1 to 64 bytes) to 256; its length
  (func $name (result i32)
    (local $n i32)
    (local.set $n (call $input_len))
    (if (i32.or (i32.eqz (local.get $n)) (i32.gt_u (local.get $n) (i32.const 64)))
      (then (call $fail (i32.const 1024) (i32.const 13))))
    (call $input (i32.const 256))
    (local.get $n))
  ;; whether the name of length $n at 256 has an owner (then copied to 512)
  (func $owned (param $n i32) (result i32)
    (i64.ge_s
      (call $storage_read (i32.const 255) (i32.add (local.get $n) (i32.const 1))
        (i32.const 512) (i32.const 20))
      (i64.const 0)))
  (func (export "register")
    (local $n i32)
    (local.set $n (call $name))
    (if (call $owned (local.get $n))
      (then (call $fail (i32.const 1040) (i32.const 5))))
    (call $caller (i32.add (i32.const 256) (local.get $n)))
    (call $storage_write (i32.const 255) (i32.add (local.get $n) (i32.const 1))
      (i32.add (i32.const 256) (local.get $n)) (i32.const 20))
    (call $emit (i32.const 256) (i32.add (local.get $n) (i32.const 20))))
  (func (export "owner_of")
    (if (i32.eqz (call $owned (call $name)))
      (then (call $fail (i32.const 1056) (i32.const 14))))
    (call $return_value (i32.const 512) (i32.const 20))))
