;; registry_commit: the name registry of registry.wat with commit–reveal, which a front-runner
;; cannot beat. `commit(h)` records the 32-byte commitment h for the caller with the block's
;; height; `reveal(name ++ salt)` (a name of 1 to 64 bytes, then a 32-byte salt) makes the
;; caller the name's owner if sha256(name ++ salt ++ caller) was committed by the caller at
;; least one block earlier (else "no commitment", "commitment too recent") and nobody owns the
;; name yet (else "taken"); it uses up the commitment and emits name ++ owner as registry.wat
;; does. `owner_of(name)` is the same. A commitment hides the name until the reveal, and the
;; hash binds the caller: a copied reveal hashes to the copier's commitment, which does not
;; exist, so it fails; a copied commit is a commitment only the victim's reveal opens, under
;; the victim's address, not the copier's. config/contracts-commit-reveal.toml runs the attack
;; of config/contracts-frontrun.toml against it (docs/contracts-frontrunning.md).
(module
  (import "env" "input_len" (func $input_len (result i32)))
  (import "env" "input" (func $input (param i32)))
  (import "env" "caller" (func $caller (param i32)))
  (import "env" "block_height" (func $block_height (result i64)))
  (import "env" "sha256" (func $sha256 (param i32 i32 i32)))
  (import "env" "storage_read" (func $storage_read (param i32 i32 i32 i32) (result i64)))
  (import "env" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "env" "storage_remove" (func $storage_remove (param i32 i32) (result i32)))
  (import "env" "return_value" (func $return_value (param i32 i32)))
  (import "env" "emit" (func $emit (param i32 i32)))
  (import "env" "fail" (func $fail (param i32 i32)))
  (memory (export "memory") 1 1)
  ;; 128: "c", 129..149 the caller, 149..181 the commitment: the commitment key (53 bytes).
  ;; 255: "o", then the input from 256: the owner key "o" ++ name is [255, 256 + len).
  ;; 512..532: an owner or a height (8 bytes) read or written.
  (data (i32.const 128) "c")
  (data (i32.const 255) "o")
  (data (i32.const 1024) "bad arguments")
  (data (i32.const 1040) "taken")
  (data (i32.const 1056) "not registered")
  (data (i32.const 1072) "no commitment")
  (data (i32.const 1088) "commitment too recent")
  (func $bad_arguments (call $fail (i32.const 1024) (i32.const 13)))
  ;; whether the name of length $n at 256 has an owner (then copied to 512)
  (func $owned (param $n i32) (result i32)
    (i64.ge_s
      (call $storage_read (i32.const 255) (i32.add (local.get $n) (i32.const 1))
        (i32.const 512) (i32.const 20))
      (i64.const 0)))
  (func (export "commit")
    (if (i32.ne (call $input_len) (i32.const 32))
      (then (call $bad_arguments)))
    (call $input (i32.const 149))
    (call $caller (i32.const 129))
    (i64.store (i32.const 512) (call $block_height))
    (call $storage_write (i32.const 128) (i32.const 53) (i32.const 512) (i32.const 8)))
  (func (export "reveal")
    (local $len i32)
    (local $n i32)
    (local.set $len (call $input_len))
    (if (i32.or (i32.lt_u (local.get $len) (i32.const 33))
                (i32.gt_u (local.get $len) (i32.const 96)))
      (then (call $bad_arguments)))
    (local.set $n (i32.sub (local.get $len) (i32.const 32)))
    (call $input (i32.const 256))
    ;; name ++ salt ++ caller, hashed into the commitment key
    (call $caller (i32.add (i32.const 256) (local.get $len)))
    (call $sha256 (i32.const 256) (i32.add (local.get $len) (i32.const 20)) (i32.const 149))
    (call $caller (i32.const 129))
    (if (i64.lt_s
          (call $storage_read (i32.const 128) (i32.const 53) (i32.const 512) (i32.const 8))
          (i64.const 0))
      (then (call $fail (i32.const 1072) (i32.const 13))))
    (if (i64.ge_u (i64.load (i32.const 512)) (call $block_height))
      (then (call $fail (i32.const 1088) (i32.const 21))))
    (if (call $owned (local.get $n))
      (then (call $fail (i32.const 1040) (i32.const 5))))
    (drop (call $storage_remove (i32.const 128) (i32.const 53)))
    ;; the owner over the salt: [256, 256 + n + 20) is name ++ owner
    (call $caller (i32.add (i32.const 256) (local.get $n)))
    (call $storage_write (i32.const 255) (i32.add (local.get $n) (i32.const 1))
      (i32.add (i32.const 256) (local.get $n)) (i32.const 20))
    (call $emit (i32.const 256) (i32.add (local.get $n) (i32.const 20))))
  (func (export "owner_of")
    (local $n i32)
    (local.set $n (call $input_len))
    (if (i32.or (i32.eqz (local.get $n)) (i32.gt_u (local.get $n) (i32.const 64)))
      (then (call $bad_arguments)))
    (call $input (i32.const 256))
    (if (i32.eqz (call $owned (local.get $n)))
      (then (call $fail (i32.const 1056) (i32.const 14))))
    (call $return_value (i32.const 512) (i32.const 20))))
