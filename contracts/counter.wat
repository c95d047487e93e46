;; counter: the smallest stateful contract. `increment` adds one to a number kept in the
;; contract's storage under the key "n" and returns the new value (u64, little-endian); `get`
;; returns it. It shows a call transaction changing contract state that every node executes
;; the same way: run config/contracts-counter.toml and compare the nodes' final states
;; (the invariant check replays every block) and the `contracts` section of the report.
(module
  (import "env" "storage_read" (func $storage_read (param i32 i32 i32 i32) (result i64)))
  (import "env" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "env" "return_value" (func $return_value (param i32 i32)))
  (memory (export "memory") 1 1)
  ;; the key "n" at 0; the value at 16
  (data (i32.const 0) "n")
  (func $load (result i64)
    (if (result i64)
      (i64.lt_s
        (call $storage_read (i32.const 0) (i32.const 1) (i32.const 16) (i32.const 8))
        (i64.const 0))
      (then (i64.const 0))
      (else (i64.load (i32.const 16)))))
  (func (export "increment")
    (i64.store (i32.const 16) (i64.add (call $load) (i64.const 1)))
    (call $storage_write (i32.const 0) (i32.const 1) (i32.const 16) (i32.const 8))
    (call $return_value (i32.const 16) (i32.const 8)))
  (func (export "get")
    (i64.store (i32.const 16) (call $load))
    (call $return_value (i32.const 16) (i32.const 8))))
