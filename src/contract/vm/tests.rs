use super::*;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};

/// A host with a map for storage, a balance, and the transfers made.
#[derive(Default)]
struct TestHost {
    storage: BTreeMap<Vec<u8>, Vec<u8>>,
    balance: u64,
    transfers: Vec<(Address, u64)>,
}

impl Host for TestHost {
    fn storage_read(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.storage.get(key).cloned()
    }
    fn storage_write(&mut self, key: &[u8], value: &[u8]) {
        self.storage.insert(key.to_vec(), value.to_vec());
    }
    fn storage_remove(&mut self, key: &[u8]) -> bool {
        self.storage.remove(key).is_some()
    }
    fn balance(&self) -> u64 {
        self.balance
    }
    fn transfer(&mut self, to: Address, amount: u64) -> Result<(), String> {
        self.debit(amount)?;
        self.transfers.push((to, amount));
        Ok(())
    }
    fn debit(&mut self, amount: u64) -> Result<(), String> {
        self.balance = self
            .balance
            .checked_sub(amount)
            .ok_or_else(|| format!("balance {} does not cover {amount}", self.balance))?;
        Ok(())
    }
}

const GAS: u64 = 1_000_000;

fn wasm(wat: &str) -> Vec<u8> {
    compile_source(wat.as_bytes()).expect("test module compiles")
}

fn env(input: &[u8]) -> CallEnv<'_> {
    CallEnv {
        contract: Address([1; 20]),
        caller: Address([2; 20]),
        signer: Address([3; 20]),
        value: 0,
        height: 0,
        time_ms: 0,
        input,
        promise_result: None,
        gas_limit: GAS,
    }
}

/// Runs `method` of the module (deploy-checked first) with default limits.
fn call_with(code: &[u8], method: &str, env: &CallEnv<'_>, host: &mut TestHost) -> Outcome {
    let params = ContractParams::default();
    check_module(code, &params).expect("test module is deployable");
    execute(&Hash::sha256(code), code, method, env, host, &params)
}

fn call(wat: &str, method: &str, host: &mut TestHost) -> Outcome {
    call_with(&wasm(wat), method, &env(&[]), host)
}

/// A module with all of `imports` (host function names) imported with their signatures, a
/// one-page memory, and `body` (functions, data).
fn module(imports: &[&str], body: &str) -> String {
    let mut wat = String::from("(module\n");
    for name in imports {
        let api = HOST_API.iter().find(|a| a.name == *name).expect("host fn");
        let ty = |t: &ValType| if *t == ValType::I32 { "i32" } else { "i64" };
        let params: Vec<_> = api.params.iter().map(ty).collect();
        let results: Vec<_> = api.results.iter().map(ty).collect();
        wat += &format!(
            "(import \"env\" \"{name}\" (func ${name} (param {}) (result {})))\n",
            params.join(" "),
            results.join(" ")
        );
    }
    wat += "(memory (export \"memory\") 1 1)\n";
    wat += body;
    wat += ")";
    wat
}

fn err(outcome: &Outcome) -> ExecError {
    outcome.result.clone().expect_err("the call fails")
}

const COUNTER: &str = r#"
(module
  (import "env" "storage_read" (func $read (param i32 i32 i32 i32) (result i64)))
  (import "env" "storage_write" (func $write (param i32 i32 i32 i32)))
  (import "env" "return_value" (func $ret (param i32 i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 0) "count")
  (func (export "increment")
    (if (i64.eq (call $read (i32.const 0) (i32.const 5) (i32.const 16) (i32.const 8))
                (i64.const -1))
      (then (i64.store (i32.const 16) (i64.const 0))))
    (i64.store (i32.const 16) (i64.add (i64.load (i32.const 16)) (i64.const 1)))
    (call $write (i32.const 0) (i32.const 5) (i32.const 16) (i32.const 8))
    (call $ret (i32.const 16) (i32.const 8))))
"#;

#[test]
fn counter_counts() {
    let code = wasm(COUNTER);
    let mut host = TestHost::default();
    for n in 1u64..=3 {
        let out = call_with(&code, "increment", &env(&[]), &mut host);
        assert_eq!(out.result, Ok(n.to_le_bytes().to_vec()));
        assert_eq!(out.gas_attached, 0);
        assert!(out.logs.is_empty() && out.events.is_empty() && out.promises.is_empty());
        // Three host calls, the key read and written, the value read (but the first time)
        // and written, the return value.
        let charges = 3 * HOST_CALL_GAS
            + STORAGE_READ_BYTE * 5
            + if n > 1 { STORAGE_READ_BYTE * 8 } else { 0 }
            + STORAGE_WRITE_BYTE * 13
            + ARG_BYTE * 8;
        assert!(out.gas_burnt > charges, "{} <= {charges}", out.gas_burnt);
        assert!(
            out.gas_burnt < charges + 100,
            "{} instructions",
            out.gas_burnt - charges
        );
    }
    assert_eq!(
        host.storage.get(&b"count"[..]),
        Some(&3u64.to_le_bytes().to_vec())
    );
}

#[test]
fn host_charges_are_per_byte() {
    let logger = |n: usize| {
        module(
            &["log", "emit"],
            &format!(
                r#"(func (export "go")
                     (call $log (i32.const 0) (i32.const {n}))
                     (call $emit (i32.const 0) (i32.const {n})))"#
            ),
        )
    };
    let mut host = TestHost::default();
    let short = call(&logger(10), "go", &mut host);
    let long = call(&logger(30), "go", &mut host);
    assert_eq!(long.gas_burnt - short.gas_burnt, 2 * 20 * LOG_BYTE);
    assert_eq!(long.logs, vec!["\0".repeat(30)]);
    assert_eq!(long.events, vec![vec![0u8; 30]]);
}

#[test]
fn compile_source_takes_text_or_binary() {
    let code = wasm(COUNTER);
    assert_eq!(compile_source(&code), Ok(code.clone()));
    assert!(matches!(
        compile_source(b"(module (func"),
        Err(DeployError::Invalid(_))
    ));
}

fn check(wat: &str) -> Result<(), DeployError> {
    check_module(&wasm(wat), &ContractParams::default())
}

#[test]
fn deploy_rules() {
    let params = ContractParams::default();
    assert_eq!(check(COUNTER), Ok(()));
    let small = ContractParams {
        max_code_bytes: 10,
        ..params
    };
    let code = wasm(COUNTER);
    assert_eq!(
        check_module(&code, &small),
        Err(DeployError::TooLarge {
            size: code.len(),
            max: 10
        })
    );
    assert!(matches!(
        check_module(b"not wasm", &params),
        Err(DeployError::Invalid(_))
    ));
    // Type error.
    assert!(matches!(
        check(r#"(module (memory (export "memory") 1 1) (func (result i32) (i64.const 1)))"#),
        Err(DeployError::Invalid(_))
    ));
    assert_eq!(
        check(r#"(module (import "env" "random" (func)) (memory (export "memory") 1 1))"#),
        Err(DeployError::ForbiddenImport {
            module: "env".into(),
            name: "random".into()
        })
    );
    assert_eq!(
        check(
            r#"(module (import "wasi" "input_len" (func (result i32)))
                       (memory (export "memory") 1 1))"#
        ),
        Err(DeployError::ForbiddenImport {
            module: "wasi".into(),
            name: "input_len".into()
        })
    );
    assert_eq!(
        check(r#"(module (import "env" "memory" (memory 1 1)) (export "memory" (memory 0)))"#),
        Err(DeployError::ForbiddenImport {
            module: "env".into(),
            name: "memory".into()
        })
    );
    assert_eq!(
        check(r#"(module (import "env" "input" (global i32)) (memory (export "memory") 1 1))"#),
        Err(DeployError::ForbiddenImport {
            module: "env".into(),
            name: "input".into()
        })
    );
    assert_eq!(
        check(
            r#"(module (import "env" "input_len" (func (result i64)))
                       (memory (export "memory") 1 1))"#
        ),
        Err(DeployError::BadSignature("input_len".into()))
    );
    assert_eq!(
        check(
            r#"(module (import "env" "storage_write" (func (param i32 i32 i32)))
                       (memory (export "memory") 1 1))"#
        ),
        Err(DeployError::BadSignature("storage_write".into()))
    );
    assert_eq!(
        check(r#"(module (memory (export "memory") 1 17))"#),
        Err(DeployError::MemoryTooLarge { pages: 17, max: 16 })
    );
    assert_eq!(
        check(r#"(module (memory (export "memory") 1))"#),
        Err(DeployError::MemoryTooLarge {
            pages: u64::MAX,
            max: 16
        })
    );
    assert_eq!(
        check(r#"(module (memory 1 1))"#),
        Err(DeployError::NoMemory)
    );
    assert_eq!(
        check(r#"(module (memory (export "mem") 1 1))"#),
        Err(DeployError::NoMemory)
    );
    assert_eq!(check(r#"(module (func))"#), Err(DeployError::NoMemory));
    assert_eq!(
        check(r#"(module (func (export "memory")))"#),
        Err(DeployError::NoMemory)
    );
    assert_eq!(
        check(r#"(module (memory (export "memory") 1 1) (func $s) (start $s))"#),
        Err(DeployError::StartFunction)
    );
    // Two memories (multi-memory is off).
    assert!(matches!(
        check(r#"(module (memory (export "memory") 1 1) (memory 1 1))"#),
        Err(DeployError::Invalid(_))
    ));
    // Shared memory (threads are off).
    assert!(matches!(
        check(r#"(module (memory (export "memory") 1 1 shared))"#),
        Err(DeployError::Invalid(_))
    ));
    // SIMD is off.
    assert!(matches!(
        check(
            r#"(module (memory (export "memory") 1 1)
                       (func (drop (v128.const i64x2 0 0))))"#
        ),
        Err(DeployError::Invalid(_))
    ));
    // A table over the limit, a data segment outside the memory: not instantiable.
    let table = format!(
        r#"(module (memory (export "memory") 1 1) (table {} funcref))"#,
        MAX_TABLE_ELEMENTS + 1
    );
    assert!(matches!(check(&table), Err(DeployError::Invalid(_))));
    let table =
        format!(r#"(module (memory (export "memory") 1 1) (table {MAX_TABLE_ELEMENTS} funcref))"#);
    assert_eq!(check(&table), Ok(()));
    assert!(matches!(
        check(r#"(module (memory (export "memory") 1 1) (data (i32.const 65535) "ab"))"#),
        Err(DeployError::Invalid(_))
    ));
}

#[test]
fn floating_point_is_refused() {
    for wat in [
        r#"(module (memory (export "memory") 1 1) (func (result f32) (f32.const 1)))"#,
        r#"(module (memory (export "memory") 1 1)
                   (func (param i32) (result i32) (i32.trunc_f64_s (f64.convert_i32_s (local.get 0)))))"#,
        r#"(module (memory (export "memory") 1 1) (global f64 (f64.const 0)))"#,
        r#"(module (memory (export "memory") 1 1) (func (local f32)))"#,
        r#"(module (import "env" "log" (func (param f64))) (memory (export "memory") 1 1))"#,
    ] {
        match check(wat) {
            Err(DeployError::FloatingPoint(reason)) => assert!(!reason.is_empty()),
            other => panic!("{wat}: {other:?}"),
        }
    }
}

#[test]
fn the_call_environment_reaches_the_module() {
    let wat = module(
        &[
            "input_len",
            "input",
            "caller",
            "signer",
            "self_address",
            "attached_value",
            "block_height",
            "block_time",
            "balance",
            "return_value",
        ],
        r#"(func (export "env")
             (call $caller (i32.const 0))
             (call $signer (i32.const 20))
             (call $self_address (i32.const 40))
             (i64.store (i32.const 60) (call $attached_value))
             (i64.store (i32.const 68) (call $block_height))
             (i64.store (i32.const 76) (call $block_time))
             (i64.store (i32.const 84) (call $balance))
             (i32.store (i32.const 92) (call $input_len))
             (call $input (i32.const 96))
             (call $return_value (i32.const 0) (i32.add (i32.const 96) (call $input_len))))"#,
    );
    let mut host = TestHost {
        balance: 1234,
        ..TestHost::default()
    };
    let env = CallEnv {
        value: u64::MAX - 1,
        height: 42,
        time_ms: 1_700_000_000_000,
        ..env(b"hello")
    };
    let out = call_with(&wasm(&wat), "env", &env, &mut host);
    let mut expected = Vec::new();
    expected.extend([2u8; 20]);
    expected.extend([3u8; 20]);
    expected.extend([1u8; 20]);
    expected.extend((u64::MAX - 1).to_le_bytes());
    expected.extend(42u64.to_le_bytes());
    expected.extend(1_700_000_000_000u64.to_le_bytes());
    expected.extend(1234u64.to_le_bytes());
    expected.extend(5u32.to_le_bytes());
    expected.extend(b"hello");
    assert_eq!(out.result, Ok(expected));
}

#[test]
fn storage_remove_and_transfer() {
    let wat = module(
        &[
            "storage_write",
            "storage_remove",
            "transfer",
            "return_value",
        ],
        r#"(data (i32.const 0) "k")
           (data (i32.const 8) "\07\07\07\07\07\07\07\07\07\07\07\07\07\07\07\07\07\07\07\07")
           (func (export "go")
             (call $storage_write (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1))
             (i32.store8 (i32.const 100) (call $storage_remove (i32.const 0) (i32.const 1)))
             (i32.store8 (i32.const 101) (call $storage_remove (i32.const 0) (i32.const 1)))
             (call $transfer (i32.const 8) (i64.const 30))
             (call $return_value (i32.const 100) (i32.const 2)))
           (func (export "overdraw") (call $transfer (i32.const 8) (i64.const -1)))"#,
    );
    let mut host = TestHost {
        balance: 100,
        ..TestHost::default()
    };
    let out = call(&wat, "go", &mut host);
    assert_eq!(out.result, Ok(vec![1, 0]));
    assert!(host.storage.is_empty());
    assert_eq!(host.transfers, vec![(Address([7; 20]), 30)]);
    assert_eq!(host.balance, 70);
    let out = call(&wat, "overdraw", &mut host);
    assert!(matches!(err(&out), ExecError::Host(_)), "{out:?}");
    assert_eq!(host.balance, 70);
}

const PROMISES: &str = r#"
  (data (i32.const 0) "\09\09\09\09\09\09\09\09\09\09\09\09\09\09\09\09\09\09\09\09")
  (data (i32.const 32) "pingdone")
  (data (i32.const 48) "args")
  (data (i32.const 56) "\ff\fe\fd\fc")
  (func (export "go")
    (i32.store8 (i32.const 100)
      (call $promise_call (i32.const 0) (i32.const 32) (i32.const 4) (i32.const 48)
                          (i32.const 4) (i64.const 1000) (i64.const 7)))
    (i32.store8 (i32.const 101)
      (call $promise_then (i32.const 0) (i32.const 36) (i32.const 4) (i32.const 48)
                          (i32.const 0) (i64.const 500)))
    (i32.store8 (i32.const 102)
      (call $promise_then (i32.const 1) (i32.const 36) (i32.const 4) (i32.const 48)
                          (i32.const 0) (i64.const 0)))
    (call $log (i32.const 32) (i32.const 4))
    (call $return_value (i32.const 100) (i32.const 3)))
  (func (export "attach")
    (call $input (i32.const 200))
    (drop (call $promise_call (i32.const 0) (i32.const 32) (i32.const 4) (i32.const 48)
                              (i32.const 4) (i64.load (i32.const 200)) (i64.const 0))))
  (func (export "bad_index")
    (drop (call $promise_then (i32.const 0) (i32.const 36) (i32.const 4) (i32.const 48)
                              (i32.const 0) (i64.const 0))))
  (func (export "too_much_gas")
    (drop (call $promise_call (i32.const 0) (i32.const 32) (i32.const 4) (i32.const 48)
                              (i32.const 4) (i64.const 50000001) (i64.const 0))))
  (func (export "more_gas_than_left")
    (drop (call $promise_call (i32.const 0) (i32.const 32) (i32.const 4) (i32.const 48)
                              (i32.const 4) (i64.const 2000000) (i64.const 0))))
  (func (export "too_much_value")
    (drop (call $promise_call (i32.const 0) (i32.const 32) (i32.const 4) (i32.const 48)
                              (i32.const 4) (i64.const 0) (i64.const 101))))
  (func (export "bad_method")
    (drop (call $promise_call (i32.const 0) (i32.const 32) (i32.const 65) (i32.const 48)
                              (i32.const 4) (i64.const 0) (i64.const 0))))
  (func (export "not_utf8")
    (drop (call $promise_call (i32.const 0) (i32.const 56) (i32.const 4) (i32.const 48)
                              (i32.const 4) (i64.const 0) (i64.const 0))))
  (func (export "too_many")
    (loop $l
      (drop (call $promise_call (i32.const 0) (i32.const 32) (i32.const 4) (i32.const 48)
                                (i32.const 4) (i64.const 0) (i64.const 0)))
      (br $l)))
  (func (export "attach_then_fail")
    (drop (call $promise_call (i32.const 0) (i32.const 32) (i32.const 4) (i32.const 48)
                              (i32.const 4) (i64.const 1000) (i64.const 7)))
    (call $log (i32.const 32) (i32.const 4))
    (call $fail (i32.const 32) (i32.const 4)))
  (func (export "attach_then_loop")
    (drop (call $promise_call (i32.const 0) (i32.const 32) (i32.const 4) (i32.const 48)
                              (i32.const 4) (i64.const 1000) (i64.const 7)))
    (loop $l (br $l)))
"#;

fn promises_module() -> Vec<u8> {
    wasm(&module(
        &[
            "promise_call",
            "promise_then",
            "log",
            "return_value",
            "fail",
            "input",
        ],
        PROMISES,
    ))
}

#[test]
fn promises_are_recorded_with_gas_reserved_and_value_debited() {
    let code = promises_module();
    let mut host = TestHost {
        balance: 100,
        ..TestHost::default()
    };
    let out = call_with(&code, "go", &env(&[]), &mut host);
    assert_eq!(out.result, Ok(vec![0, 1, 2]));
    assert_eq!(out.gas_attached, 1500);
    assert_eq!(host.balance, 93);
    assert_eq!(out.logs, vec!["ping".to_string()]);
    assert_eq!(
        out.promises,
        vec![
            PromiseAction::Call {
                contract: Address([9; 20]),
                method: "ping".into(),
                args: b"args".to_vec(),
                gas: 1000,
                value: 7,
            },
            PromiseAction::Then {
                after: 0,
                method: "done".into(),
                args: Vec::new(),
                gas: 500,
            },
            PromiseAction::Then {
                after: 1,
                method: "done".into(),
                args: Vec::new(),
                gas: 0,
            },
        ]
    );
    // The gas attached is not burnt: the same code attaching nothing burns as much.
    let attach =
        |gas: u64, host: &mut TestHost| call_with(&code, "attach", &env(&gas.to_le_bytes()), host);
    let none = attach(0, &mut host);
    let some = attach(1000, &mut host);
    assert_eq!((none.gas_attached, some.gas_attached), (0, 1000));
    assert_eq!(none.gas_burnt, some.gas_burnt);
    assert!(none.result.is_ok() && some.result.is_ok());
}

#[test]
fn promise_rules() {
    let code = promises_module();
    let mut host = TestHost {
        balance: 100,
        ..TestHost::default()
    };
    for method in [
        "bad_index",
        "too_much_gas",
        "too_much_value",
        "bad_method",
        "not_utf8",
        "too_many",
    ] {
        let out = call_with(&code, method, &env(&[]), &mut host);
        assert!(matches!(err(&out), ExecError::Host(_)), "{method}: {out:?}");
        assert_eq!(out.gas_attached, 0);
        assert!(out.promises.is_empty());
    }
    let out = call_with(&code, "more_gas_than_left", &env(&[]), &mut host);
    assert_eq!(err(&out), ExecError::OutOfGas);
    assert_eq!(out.gas_burnt, GAS);

    // A failure voids promises and logs; the gas reserved is neither burnt nor attached.
    let out = call_with(&code, "attach_then_fail", &env(&[]), &mut host);
    assert_eq!(err(&out), ExecError::Failed("ping".into()));
    assert!(out.logs.is_empty() && out.promises.is_empty());
    assert_eq!(out.gas_attached, 0);
    assert!(out.gas_burnt < 2000);
    let out = call_with(&code, "attach_then_loop", &env(&[]), &mut host);
    assert_eq!(err(&out), ExecError::OutOfGas);
    assert_eq!(out.gas_burnt, GAS - 1000);
    assert_eq!(out.gas_attached, 0);
}

#[test]
fn promise_result_in_a_callback() {
    let wat = module(
        &["promise_result_len", "promise_result", "return_value"],
        r#"(func (export "cb")
             (i32.store (i32.const 0) (call $promise_result_len))
             (i32.store (i32.const 4) (call $promise_result (i32.const 8)))
             (call $return_value (i32.const 0)
               (i32.add (i32.const 8)
                 (select (i32.const 0) (i32.load (i32.const 0))
                         (i32.lt_s (i32.load (i32.const 0)) (i32.const 0))))))"#,
    );
    let code = wasm(&wat);
    let mut host = TestHost::default();
    let result_of = |promise_result: Option<&PromiseResult>, host: &mut TestHost| {
        let env = CallEnv {
            promise_result,
            ..env(&[])
        };
        call_with(&code, "cb", &env, host).result.expect("runs")
    };
    let mut expected = Vec::new();
    expected.extend(3i32.to_le_bytes());
    expected.extend(1i32.to_le_bytes());
    expected.extend(b"abc");
    let ok = PromiseResult::Ok(b"abc".to_vec());
    assert_eq!(result_of(Some(&ok), &mut host), expected);
    let mut expected = Vec::new();
    expected.extend(4i32.to_le_bytes());
    expected.extend(0i32.to_le_bytes());
    expected.extend(b"boom");
    let failed = PromiseResult::Err("boom".into());
    assert_eq!(result_of(Some(&failed), &mut host), expected);
    let mut expected = Vec::new();
    expected.extend((-1i32).to_le_bytes());
    expected.extend((-1i32).to_le_bytes());
    assert_eq!(result_of(None, &mut host), expected);
}

#[test]
fn failures() {
    let wat = module(
        &["fail", "log", "emit", "storage_write", "return_value"],
        r#"(data (i32.const 0) "nope")
           (func (export "fail")
             (call $log (i32.const 0) (i32.const 4))
             (call $emit (i32.const 0) (i32.const 4))
             (call $return_value (i32.const 0) (i32.const 4))
             (call $storage_write (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1))
             (call $fail (i32.const 0) (i32.const 4)))
           (func (export "fail_long") (call $fail (i32.const 0) (i32.const 60000)))
           (func (export "unreachable") unreachable)
           (func (export "div0") (drop (i32.div_u (i32.const 1) (i32.const 0))))
           (func (export "load_oob") (drop (i32.load (i32.const 65534))))
           (func (export "loop") (loop $l (br $l)))
           (func $rec (call $rec))
           (func (export "recurse") (call $rec))
           (func (export "args") (param i32))"#,
    );
    let code = wasm(&wat);
    let mut host = TestHost::default();
    let mut run = |method: &str| call_with(&code, method, &env(&[]), &mut host);

    let out = run("fail");
    assert_eq!(err(&out), ExecError::Failed("nope".into()));
    assert!(out.logs.is_empty() && out.events.is_empty() && out.promises.is_empty());
    assert!(out.gas_burnt > 5 * HOST_CALL_GAS);
    let out = run("fail_long");
    let ExecError::Failed(message) = err(&out) else {
        panic!("{out:?}")
    };
    assert_eq!(message.len(), 4096);
    assert!(message.starts_with("nope\0"));
    for method in ["unreachable", "div0", "load_oob", "recurse"] {
        let out = run(method);
        assert!(matches!(err(&out), ExecError::Trap(_)), "{method}: {out:?}");
        assert!(out.gas_burnt > 0 && out.gas_burnt < GAS);
    }
    let out = run("loop");
    assert_eq!(err(&out), ExecError::OutOfGas);
    assert_eq!(out.gas_burnt, GAS);
    assert_eq!(out.gas_attached, 0);
    for method in ["missing", "args", "memory", ""] {
        let out = run(method);
        assert_eq!(err(&out), ExecError::NoMethod(method.into()));
        assert_eq!(out.gas_burnt, 0);
    }
    // The storage write was made through the host: the caller reverts it.
    assert_eq!(host.storage.len(), 1);

    let hash = Hash::sha256(&code);
    assert!(has_method(&hash, &code, "fail"));
    assert!(!has_method(&hash, &code, "args"));
    assert!(!has_method(&hash, &code, "memory"));
    assert!(!has_method(&hash, &code, "missing"));
    assert!(!has_method(&Hash::sha256(b"junk"), b"junk", "fail"));
}

#[test]
fn sha256_hashes_memory_with_gas_per_byte() {
    // Hashes the input (copied to 0) and returns the digest, written over the input's start.
    let wat = module(
        &["input_len", "input", "sha256", "return_value"],
        r#"(func (export "hash")
             (call $input (i32.const 0))
             (call $sha256 (i32.const 0) (call $input_len) (i32.const 0))
             (call $return_value (i32.const 0) (i32.const 32)))
           (func (export "oob_in") (call $sha256 (i32.const 65530) (i32.const 10) (i32.const 0)))
           (func (export "oob_out") (call $sha256 (i32.const 0) (i32.const 1) (i32.const 65530)))
           (func (export "huge") (call $sha256 (i32.const 0) (i32.const -1) (i32.const 0)))"#,
    );
    let code = wasm(&wat);
    let mut host = TestHost::default();
    let hash = |input: &[u8], host: &mut TestHost| call_with(&code, "hash", &env(input), host);
    let abc = hash(b"abc", &mut host);
    assert_eq!(
        hex::encode(abc.result.clone().unwrap()),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "the FIPS 180-2 test vector"
    );
    let long_input = vec![7u8; 1003];
    let long = hash(&long_input, &mut host);
    assert_eq!(long.result, Ok(Hash::sha256(&long_input).0.to_vec()));
    // Input copied and hashed per byte; the rest is the same.
    assert_eq!(
        long.gas_burnt - abc.gas_burnt,
        1000 * (ARG_BYTE + SHA256_BYTE)
    );
    for method in ["oob_in", "oob_out"] {
        let out = call_with(&code, method, &env(&[]), &mut host);
        assert!(matches!(err(&out), ExecError::Host(_)), "{method}: {out:?}");
    }
    // 4 GiB to hash: out of gas before any memory is touched.
    let out = call_with(&code, "huge", &env(&[]), &mut host);
    assert_eq!(err(&out), ExecError::OutOfGas);
    // Imported with another signature, it is refused at deployment.
    let bad = r#"(module (import "env" "sha256" (func (param i32 i32)))
                   (memory (export "memory") 1 1))"#;
    assert_eq!(check(bad), Err(DeployError::BadSignature("sha256".into())));
}

#[test]
fn host_gas_runs_out() {
    let wat = module(
        &["storage_write"],
        r#"(func (export "write")
             (call $storage_write (i32.const 0) (i32.const 200) (i32.const 0) (i32.const 4000)))"#,
    );
    let code = wasm(&wat);
    let mut host = TestHost::default();
    let limit = HOST_CALL_GAS + STORAGE_WRITE_BYTE * 4200;
    let env_with = |gas_limit| CallEnv {
        gas_limit,
        ..env(&[])
    };
    // Enough for the charges but not the few instructions around them.
    let out = call_with(&code, "write", &env_with(limit), &mut host);
    assert_eq!(err(&out), ExecError::OutOfGas);
    assert_eq!(out.gas_burnt, limit);
    assert!(host.storage.is_empty(), "refused before writing");
    let out = call_with(&code, "write", &env_with(limit + 100), &mut host);
    assert_eq!(out.result, Ok(Vec::new()));
    assert_eq!(host.storage.len(), 1);
}

#[test]
fn limits_and_bad_pointers_are_host_errors() {
    let wat = module(
        &[
            "storage_write",
            "storage_read",
            "storage_remove",
            "input",
            "caller",
            "log",
            "emit",
            "return_value",
            "transfer",
        ],
        r#"(func (export "long_key")
             (call $storage_write (i32.const 0) (i32.const 257) (i32.const 0) (i32.const 1)))
           (func (export "long_value")
             (call $storage_write (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 4097)))
           (func (export "long_read_key")
             (drop (call $storage_read (i32.const 0) (i32.const 257) (i32.const 0) (i32.const 0))))
           (func (export "long_remove_key")
             (drop (call $storage_remove (i32.const 0) (i32.const 257))))
           (func (export "long_return") (call $return_value (i32.const 0) (i32.const 4097)))
           (func (export "long_log") (call $log (i32.const 0) (i32.const 4097)))
           (func (export "many_logs")
             (loop $l
               (call $log (i32.const 0) (i32.const 1))
               (call $emit (i32.const 0) (i32.const 1))
               (br $l)))
           (func (export "input_oob") (call $input (i32.const 65535)))
           (func (export "caller_oob") (call $caller (i32.const 65530)))
           (func (export "caller_negative") (call $caller (i32.const -1)))
           (func (export "key_oob")
             (call $storage_write (i32.const -1) (i32.const 10) (i32.const 0) (i32.const 1)))
           (func (export "value_oob")
             (call $storage_write (i32.const 0) (i32.const 1) (i32.const 65000) (i32.const 4000)))
           (func (export "read_oob")
             (drop (call $storage_read (i32.const 0) (i32.const 1) (i32.const 65535) (i32.const 8))))
           (func (export "log_negative") (call $log (i32.const 0) (i32.const -1)))
           (func (export "transfer_oob") (call $transfer (i32.const 65535) (i64.const 0)))"#,
    );
    let code = wasm(&wat);
    let mut host = TestHost::default();
    // `read_oob` reads a present value into a place outside the memory.
    host.storage.insert(vec![0], vec![1, 2, 3]);
    for method in [
        "long_key",
        "long_value",
        "long_read_key",
        "long_remove_key",
        "long_return",
        "long_log",
        "many_logs",
        "input_oob",
        "caller_oob",
        "caller_negative",
        "key_oob",
        "value_oob",
        "read_oob",
        "log_negative",
        "transfer_oob",
    ] {
        let out = call_with(&code, method, &env(b"0123456789"), &mut host);
        assert!(matches!(err(&out), ExecError::Host(_)), "{method}: {out:?}");
        assert!(out.gas_burnt < GAS, "{method}");
    }
    assert!(host.transfers.is_empty());
}

#[test]
fn gas_is_deterministic_and_the_cache_changes_nothing() {
    let code = promises_module();
    let hash = Hash::sha256(&code);
    let params = ContractParams::default();
    let fresh = || compile(&Engine::new(&config()), &code).expect("compiles");
    for method in ["go", "attach_then_fail", "attach_then_loop", "bad_index"] {
        let mut outcomes = Vec::new();
        for cached_run in [true, true, false, false] {
            let mut host = TestHost {
                balance: 100,
                ..TestHost::default()
            };
            let out = if cached_run {
                execute(&hash, &code, method, &env(&[]), &mut host, &params)
            } else {
                run(&fresh(), method, &env(&[]), &mut host, &params)
            };
            outcomes.push((out, host.balance));
        }
        assert!(
            outcomes.windows(2).all(|w| w[0] == w[1]),
            "{method}: {outcomes:?}"
        );
    }
    // The counter, from a fresh cache entry each time, burns what the cached one does.
    let counter = wasm(COUNTER);
    let mut hosts = [TestHost::default(), TestHost::default()];
    for _ in 0..3 {
        let a = execute(
            &Hash::sha256(&counter),
            &counter,
            "increment",
            &env(&[]),
            &mut hosts[0],
            &params,
        );
        let compiled = compile(&Engine::new(&config()), &counter).expect("compiles");
        let b = run(&compiled, "increment", &env(&[]), &mut hosts[1], &params);
        assert_eq!(a, b);
    }
}

#[test]
fn execution_respects_the_params_not_the_deploy() {
    // A memory over the current limit (deployed under a larger one) cannot be instantiated.
    let code = wasm(r#"(module (memory (export "memory") 17 17) (func (export "go")))"#);
    let mut host = TestHost::default();
    let params = ContractParams::default();
    let out = execute(
        &Hash::sha256(&code),
        &code,
        "go",
        &env(&[]),
        &mut host,
        &params,
    );
    assert!(matches!(err(&out), ExecError::Trap(_)), "{out:?}");
    let bigger = ContractParams {
        max_memory_pages: 17,
        ..params
    };
    let out = execute(
        &Hash::sha256(&code),
        &code,
        "go",
        &env(&[]),
        &mut host,
        &bigger,
    );
    assert_eq!(out.result, Ok(Vec::new()));
    // Garbage never deployed: a trap, no panic.
    let out = execute(
        &Hash::sha256(b"junk"),
        b"junk",
        "go",
        &env(&[]),
        &mut host,
        &params,
    );
    assert!(matches!(err(&out), ExecError::Trap(_)), "{out:?}");
    // memory.grow stops at the declared maximum.
    let code = wasm(
        r#"(module (import "env" "return_value" (func $r (param i32 i32)))
                   (memory (export "memory") 1 2)
                   (func (export "go")
                     (i32.store (i32.const 0) (memory.grow (i32.const 1)))
                     (i32.store (i32.const 4) (memory.grow (i32.const 1)))
                     (call $r (i32.const 0) (i32.const 8))))"#,
    );
    let out = call_with(&code, "go", &env(&[]), &mut host);
    let mut expected = 1i32.to_le_bytes().to_vec();
    expected.extend((-1i32).to_le_bytes());
    assert_eq!(out.result, Ok(expected));
}

#[test]
fn truncated_and_mutated_modules_never_panic() {
    let params = ContractParams::default();
    let code = promises_module();
    let mut host = TestHost::default();
    let mut accepted = 0;
    for end in 0..code.len() {
        let part = &code[..end];
        // A prefix ending where the data section or the trailing custom (name) section
        // starts is a valid module (without its data, or its names).
        accepted += usize::from(check_module(part, &params).is_ok());
        let out = execute(
            &Hash::sha256(part),
            part,
            "go",
            &env(&[]),
            &mut host,
            &params,
        );
        assert!(out.result.is_err() || accepted > 0, "prefix of {end} bytes");
    }
    assert!(accepted <= 2, "{accepted} prefixes accepted");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for _ in 0..2000 {
        let mut mutated = code.clone();
        for _ in 0..rng.gen_range(1..4) {
            let at = rng.gen_range(0..mutated.len());
            mutated[at] = rng.gen();
        }
        let _ = check_module(&mutated, &params);
        let _ = execute(
            &Hash::sha256(&mutated),
            &mutated,
            "go",
            &env(&[]),
            &mut host,
            &params,
        );
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let params = ContractParams::default();
        let _ = check_module(&bytes, &params);
        let mut with_header = b"\0asm\x01\0\0\0".to_vec();
        with_header.extend(&bytes);
        let _ = check_module(&with_header, &params);
        let mut host = TestHost::default();
        let out = execute(&Hash::sha256(&with_header), &with_header, "go", &env(&[]), &mut host, &params);
        prop_assert!(out.result.is_err() || out.gas_burnt <= GAS);
    }
}
