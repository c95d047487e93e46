//! The WebAssembly VM of smart contracts: modules are checked once, at deployment
//! ([`check_module`]), compiled once per code hash into a process-wide cache, and run by the
//! wasmi interpreter with fuel metering ([`execute`]). One unit of wasmi fuel is one unit of
//! gas.
//!
//! # Modules
//!
//! [`compile_source`] turns WAT text (or wasm bytes, unchanged) into wasm bytes. A module may
//! be deployed ([`check_module`]) when it:
//!
//! - is at most `max_code_bytes` long ([`DeployError::TooLarge`]);
//! - is valid WebAssembly using integers only: `f32`/`f64` types or instructions are refused
//!   ([`DeployError::FloatingPoint`]). SIMD, relaxed SIMD, threads (shared memory, atomics),
//!   exceptions, multiple memories, 64-bit memories, custom page sizes and wide arithmetic
//!   are not supported and fail validation ([`DeployError::Invalid`]); mutable globals,
//!   sign extension, multi-value, bulk memory, reference types, tail calls and extended
//!   constant expressions are allowed (all deterministic);
//! - has no start function ([`DeployError::StartFunction`]);
//! - imports only functions of module `env` listed below, each with exactly the signature
//!   listed ([`DeployError::ForbiddenImport`], [`DeployError::BadSignature`]); importing a
//!   memory, table or global is a forbidden import;
//! - defines exactly one memory, exported as `memory` ([`DeployError::NoMemory`]), declaring
//!   a maximum of at most `max_memory_pages` 64 KiB pages ([`DeployError::MemoryTooLarge`];
//!   a memory without a maximum is reported with `pages = u64::MAX`);
//! - can be instantiated: its tables hold at most [`MAX_TABLE_ELEMENTS`] elements and its
//!   active data and element segments fit ([`DeployError::Invalid`]).
//!
//! A *method* is an exported function of type `() -> ()`: it reads its arguments with
//! `input` and sets its return value with `return_value`. Calling anything else fails with
//! [`ExecError::NoMethod`].
//!
//! # Host API
//!
//! Functions imported from module `env`. `i32` arguments named `*_ptr`/`*_len`/`*_cap` are
//! offsets and lengths into the exported memory (read as unsigned); `i64` amounts and gas
//! are `u64` bit patterns; an address is 20 bytes in memory. Every call costs
//! [`HOST_CALL_GAS`], plus the per-byte charge in the gas column.
//!
//! | function | gas beyond [`HOST_CALL_GAS`] | what it does |
//! |---|---|---|
//! | `input_len() -> i32` | | length of the call's arguments |
//! | `input(ptr: i32)` | [`ARG_BYTE`] × length | copies the arguments to `ptr` |
//! | `storage_read(key_ptr, key_len, val_ptr, val_cap: i32) -> i64` | [`STORAGE_READ_BYTE`] × (key + value length) | `-1` if the key is absent, else the value's full length, copying its first `min(length, val_cap)` bytes to `val_ptr` |
//! | `storage_write(key_ptr, key_len, val_ptr, val_len: i32)` | [`STORAGE_WRITE_BYTE`] × (key + value length) | sets the key (≤ `max_key_bytes`) to the value (≤ `max_value_bytes`) |
//! | `storage_remove(key_ptr, key_len: i32) -> i32` | [`STORAGE_WRITE_BYTE`] × key length | `1` if the key was removed, `0` if it was absent |
//! | `caller(ptr: i32)` | | writes the caller's address (the signer, or the contract that made the promise) |
//! | `signer(ptr: i32)` | | writes the address that signed the transaction the chain of calls started from |
//! | `self_address(ptr: i32)` | | writes the contract's own address |
//! | `attached_value() -> i64` | | value attached to the call (already in the balance) |
//! | `block_height() -> i64` | | height of the executing block |
//! | `block_time() -> i64` | | its timestamp, ms |
//! | `balance() -> i64` | | the contract's balance now |
//! | `transfer(addr_ptr: i32, amount: i64)` | | moves `amount` from the contract to the address at once |
//! | `emit(ptr, len: i32)` | [`LOG_BYTE`] × length | records an event (bytes) |
//! | `log(ptr, len: i32)` | [`LOG_BYTE`] × length | records a log line (lossy UTF-8) |
//! | `return_value(ptr, len: i32)` | [`ARG_BYTE`] × length | sets the return value (≤ `max_args_bytes`; the last call wins) |
//! | `fail(ptr, len: i32)` | [`LOG_BYTE`] × length | stops with [`ExecError::Failed`] and the message (lossy UTF-8, first `max_args_bytes` bytes) |
//! | `sha256(ptr, len, out_ptr: i32)` | [`SHA256_BYTE`] × length | writes the SHA-256 digest (32 bytes) of the `len` bytes at `ptr` to `out_ptr` (the ranges may overlap) |
//! | `promise_call(addr_ptr, method_ptr, method_len, args_ptr, args_len: i32, gas: i64, value: i64) -> i32` | [`ARG_BYTE`] × (method + args length), and `gas` reserved | calls `method` of the contract at the address in a later block, with the arguments, `gas` and `value`; returns the promise's index |
//! | `promise_then(promise: i32, method_ptr, method_len, args_ptr, args_len: i32, gas: i64) -> i32` | [`ARG_BYTE`] × (method + args length), and `gas` reserved | once promise `promise` finished, calls `method` of this contract with the arguments and `gas`; its `promise_result` is the result of `promise`; returns the new promise's index |
//! | `promise_result_len() -> i32` | | `-1` if this call is not a callback, else the length of the awaited result's bytes (the return value, or the failure's reason in UTF-8) |
//! | `promise_result(ptr: i32) -> i32` | [`ARG_BYTE`] × length | `-1` if not a callback, else `1` if the awaited call succeeded and `0` if it failed, copying the bytes above to `ptr` |
//!
//! Promise indices count both kinds from 0 in the order made. A promise's method is valid
//! UTF-8 of at most [`MAX_METHOD_BYTES`] bytes, its arguments at most `max_args_bytes`, its
//! gas at most `max_call_gas`; an execution makes at most `max_promises` promises; `value`
//! is taken from the contract's balance when the promise is made ([`Host::debit`]). Logs
//! and events count together toward `max_logs`, and each is at most `max_args_bytes`.
//!
//! A host call that breaks a rule (a limit, a pointer or length outside the memory, a bad
//! promise index, a refused transfer or debit) stops the execution with
//! [`ExecError::Host`]; one that cannot pay its gas stops it with [`ExecError::OutOfGas`].
//!
//! # Gas
//!
//! The execution starts with `gas_limit` fuel. Instructions consume wasmi's fuel (its
//! default costs: most instructions 1, bulk memory and table operations in proportion to
//! their length); host functions consume the charges above; `promise_call`/`promise_then`
//! reserve the gas they attach. In the [`Outcome`]:
//!
//! - on success, `gas_attached` is the gas reserved for promises and
//!   `gas_burnt = gas_limit − fuel left − gas_attached`;
//! - on failure the promises are void, so `gas_attached = 0` and the reserved gas is neither
//!   burnt nor attached (the caller refunds it with the rest); `gas_burnt` is the fuel
//!   consumed, which for [`ExecError::OutOfGas`] is the whole limit minus the gas reserved.
//!
//! Gas is a function of the module, the method, the [`CallEnv`] and what [`Host`] answers:
//! compiling is eager (never charged), and the cache only saves compilation.

use super::{
    CallEnv, ContractParams, DeployError, ExecError, Host, Outcome, PromiseAction, PromiseResult,
};
use crate::crypto::Address;
use crate::hash::Hash;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use wasmi::{
    Caller, CompilationMode, Config, Engine, Error, Extern, ExternType, Func, Instance, Memory,
    Module, ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, ValType,
};

/// Gas every host function call costs.
pub const HOST_CALL_GAS: u64 = 100;
/// Gas per byte of key and value a `storage_read` reads.
pub const STORAGE_READ_BYTE: u64 = 2;
/// Gas per byte of key and value a `storage_write` writes (and per key byte of
/// `storage_remove`).
pub const STORAGE_WRITE_BYTE: u64 = 20;
/// Gas per byte of a log line, an event or a `fail` message.
pub const LOG_BYTE: u64 = 2;
/// Gas per byte of input, return value, promise method and arguments, and promise result
/// copied.
pub const ARG_BYTE: u64 = 1;
/// Gas per byte hashed by `sha256`.
pub const SHA256_BYTE: u64 = 4;
/// Longest method name a promise may call, bytes.
pub const MAX_METHOD_BYTES: u32 = 64;
/// Most elements a module's table may hold (declared, or grown to with `table.grow`).
pub const MAX_TABLE_ELEMENTS: u32 = 10_000;
/// Compiled modules the process-wide cache keeps (oldest evicted first).
pub const CACHE_ENTRIES: usize = 1024;
/// Wasm bytes compiled into one wasmi engine before the cache starts a new one: an engine
/// never frees the code of the modules it compiled, so it is dropped (with the cache's
/// modules) once this much was compiled into it.
const ENGINE_BYTES: usize = 64 << 20;
/// Bytes in a wasm page.
const PAGE_BYTES: usize = 64 * 1024;

/// WAT text or wasm bytes to wasm bytes.
///
/// # Errors
/// [`DeployError::Invalid`] when the text does not compile.
pub fn compile_source(src: &[u8]) -> Result<Vec<u8>, DeployError> {
    wat::parse_bytes(src)
        .map(std::borrow::Cow::into_owned)
        .map_err(|e| DeployError::Invalid(e.to_string()))
}

/// Checks a module for deployment (the rules are in the module documentation).
///
/// # Errors
/// The first rule it breaks, in this order: size, validity (floating point, start function),
/// imports, memory, instantiation.
pub fn check_module(code: &[u8], params: &ContractParams) -> Result<(), DeployError> {
    if code.len() > params.max_code_bytes as usize {
        return Err(DeployError::TooLarge {
            size: code.len(),
            max: params.max_code_bytes,
        });
    }
    // A throwaway engine: the shared one keeps the code of every module it compiled.
    let engine = Engine::new(&config());
    let compiled = compile(&engine, code)?;
    let max = params.max_memory_pages;
    let memory = match compiled.module.get_export("memory") {
        Some(ExternType::Memory(memory)) => memory,
        _ => return Err(DeployError::NoMemory),
    };
    match memory.maximum() {
        None => {
            return Err(DeployError::MemoryTooLarge {
                pages: u64::MAX,
                max,
            })
        }
        Some(pages) if pages > u64::from(max) => {
            return Err(DeployError::MemoryTooLarge { pages, max })
        }
        Some(_) => {}
    }
    if memory.minimum() > u64::from(max) {
        return Err(DeployError::MemoryTooLarge {
            pages: memory.minimum(),
            max,
        });
    }
    let mut host = NullHost;
    let env = CallEnv {
        contract: Address::default(),
        caller: Address::default(),
        signer: Address::default(),
        value: 0,
        height: 0,
        time_ms: 0,
        input: &[],
        promise_result: None,
        gas_limit: 0,
    };
    instantiate(&compiled, &env, &mut host, params)
        .map(drop)
        .map_err(|e| DeployError::Invalid(format!("cannot be instantiated: {e}")))
}

/// Whether the module exports `method` as a `() -> ()` function (false if it does not
/// compile).
pub fn has_method(code_hash: &Hash, code: &[u8], method: &str) -> bool {
    cached(code_hash, code).is_ok_and(|compiled| compiled.has_method(method))
}

/// Runs `method` of the module `code` (whose hash is `code_hash`, the compile cache's key:
/// it must be the hash of `code`).
///
/// A module that does not compile (it was never deployable) or cannot be instantiated
/// under `params` fails with [`ExecError::Trap`] and burns no gas.
pub fn execute(
    code_hash: &Hash,
    code: &[u8],
    method: &str,
    env: &CallEnv<'_>,
    host: &mut dyn Host,
    params: &ContractParams,
) -> Outcome {
    match cached(code_hash, code) {
        Ok(compiled) => run(&compiled, method, env, host, params),
        Err(e) => failure(0, ExecError::Trap(format!("invalid module: {e}"))),
    }
}

/// The one wasmi configuration: fuel on, deterministic features only, eager compilation (so
/// that compiling is never charged to a call and the cache cannot change gas).
fn config() -> Config {
    let mut config = Config::default();
    config
        .consume_fuel(true)
        .floats(false)
        .wasm_multi_memory(false)
        .wasm_custom_page_sizes(false)
        .wasm_wide_arithmetic(false)
        .allow_start_fn(false)
        .ignore_custom_sections(true)
        .compilation_mode(CompilationMode::Eager);
    // SIMD, relaxed SIMD and memory64 are compiled out (wasmi's `simd` and `memory64`
    // features are off); threads and exceptions are never enabled by wasmi.
    config
}

/// A module compiled, with its imports resolved to host functions (in import order).
struct Compiled {
    module: Module,
    imports: Vec<HostFn>,
}

impl Compiled {
    fn has_method(&self, method: &str) -> bool {
        matches!(
            self.module.get_export(method),
            Some(ExternType::Func(ty)) if ty.params().is_empty() && ty.results().is_empty()
        )
    }
}

/// Compiles and validates `code` and resolves its imports (the parameter-free rules).
fn compile(engine: &Engine, code: &[u8]) -> Result<Compiled, DeployError> {
    let module = Module::new(engine, code).map_err(|e| {
        let reason = e.to_string();
        if reason.contains("floating-point") {
            DeployError::FloatingPoint(reason)
        } else if reason.contains("start function") {
            DeployError::StartFunction
        } else {
            DeployError::Invalid(reason)
        }
    })?;
    let mut imports = Vec::new();
    for import in module.imports() {
        let forbidden = || DeployError::ForbiddenImport {
            module: import.module().into(),
            name: import.name().into(),
        };
        let api = HOST_API
            .iter()
            .find(|api| import.module() == "env" && api.name == import.name())
            .ok_or_else(forbidden)?;
        match import.ty() {
            ExternType::Func(ty) if ty.params() == api.params && ty.results() == api.results => {
                imports.push(api.func);
            }
            ExternType::Func(_) => return Err(DeployError::BadSignature(api.name.into())),
            _ => return Err(forbidden()),
        }
    }
    Ok(Compiled { module, imports })
}

/// The process-wide cache of compiled modules.
struct Cache {
    engine: Engine,
    /// Wasm bytes compiled into `engine`.
    engine_bytes: usize,
    modules: BTreeMap<Hash, Arc<Compiled>>,
    /// Keys of `modules`, oldest first.
    order: VecDeque<Hash>,
}

fn cache() -> MutexGuard<'static, Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE
        .get_or_init(|| {
            Mutex::new(Cache {
                engine: Engine::new(&config()),
                engine_bytes: 0,
                modules: BTreeMap::new(),
                order: VecDeque::new(),
            })
        })
        .lock()
        // The cache holds no invariant a panic elsewhere could break.
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The compiled module of `code`, from the cache or compiled (outside the lock) and cached.
fn cached(code_hash: &Hash, code: &[u8]) -> Result<Arc<Compiled>, DeployError> {
    let engine = {
        let mut cache = cache();
        if let Some(compiled) = cache.modules.get(code_hash) {
            return Ok(compiled.clone());
        }
        if cache.engine_bytes > ENGINE_BYTES {
            // Modules in use keep the old engine alive until they are dropped.
            cache.engine = Engine::new(&config());
            cache.engine_bytes = 0;
            cache.modules.clear();
            cache.order.clear();
        }
        cache.engine_bytes += code.len();
        cache.engine.clone()
    };
    let compiled = Arc::new(compile(&engine, code)?);
    let mut cache = cache();
    if !cache.modules.contains_key(code_hash) {
        cache.modules.insert(*code_hash, compiled.clone());
        cache.order.push_back(*code_hash);
        while cache.order.len() > CACHE_ENTRIES {
            if let Some(old) = cache.order.pop_front() {
                cache.modules.remove(&old);
            }
        }
    }
    Ok(compiled)
}

/// An outcome of a failed execution.
fn failure(gas_burnt: u64, error: ExecError) -> Outcome {
    Outcome {
        gas_burnt,
        gas_attached: 0,
        result: Err(error),
        logs: Vec::new(),
        events: Vec::new(),
        promises: Vec::new(),
    }
}

/// What host functions see: the call, the host, and what the execution produced so far.
struct Ctx<'a> {
    host: &'a mut dyn Host,
    env: CallEnv<'a>,
    params: ContractParams,
    memory: Option<Memory>,
    limits: StoreLimits,
    logs: Vec<String>,
    events: Vec<Vec<u8>>,
    promises: Vec<PromiseAction>,
    ret: Vec<u8>,
    gas_attached: u64,
    /// Why a host function stopped the execution (the first reason).
    stopped: Option<ExecError>,
}

fn limiter<'a>(ctx: &'a mut Ctx<'_>) -> &'a mut dyn ResourceLimiter {
    &mut ctx.limits
}

/// A store for one execution and the module instantiated in it.
fn instantiate<'a>(
    compiled: &Compiled,
    env: &CallEnv<'a>,
    host: &'a mut dyn Host,
    params: &ContractParams,
) -> Result<(Store<Ctx<'a>>, Instance), Error> {
    let limits = StoreLimitsBuilder::new()
        .memory_size((params.max_memory_pages as usize).saturating_mul(PAGE_BYTES))
        .table_elements(MAX_TABLE_ELEMENTS as usize)
        .instances(1)
        .memories(1)
        .build();
    let ctx = Ctx {
        host,
        env: *env,
        params: *params,
        memory: None,
        limits,
        logs: Vec::new(),
        events: Vec::new(),
        promises: Vec::new(),
        ret: Vec::new(),
        gas_attached: 0,
        stopped: None,
    };
    let mut store = Store::new(compiled.module.engine(), ctx);
    store.limiter(limiter);
    store.set_fuel(env.gas_limit)?;
    let imports: Vec<Extern> = compiled
        .imports
        .iter()
        .map(|&f| Extern::Func(f.wrap(&mut store)))
        .collect();
    let instance = Instance::new(&mut store, &compiled.module, &imports)?;
    store.data_mut().memory = instance.get_memory(&store, "memory");
    Ok((store, instance))
}

fn run(
    compiled: &Compiled,
    method: &str,
    env: &CallEnv<'_>,
    host: &mut dyn Host,
    params: &ContractParams,
) -> Outcome {
    if !compiled.has_method(method) {
        return failure(0, ExecError::NoMethod(method.into()));
    }
    let (mut store, instance) = match instantiate(compiled, env, host, params) {
        Ok(instantiated) => instantiated,
        Err(e) => return failure(0, ExecError::Trap(format!("instantiation failed: {e}"))),
    };
    let called = match instance.get_typed_func::<(), ()>(&store, method) {
        Ok(func) => func.call(&mut store, ()),
        Err(_) => return failure(0, ExecError::NoMethod(method.into())),
    };
    let left = store.get_fuel().unwrap_or(0);
    let ctx = store.into_data();
    let consumed = env.gas_limit.saturating_sub(left);
    match called {
        Ok(()) => Outcome {
            gas_burnt: consumed.saturating_sub(ctx.gas_attached),
            gas_attached: ctx.gas_attached,
            result: Ok(ctx.ret),
            logs: ctx.logs,
            events: ctx.events,
            promises: ctx.promises,
        },
        Err(e) => {
            let error = match ctx.stopped {
                Some(error) => error,
                None if e.as_trap_code() == Some(wasmi::TrapCode::OutOfFuel) => ExecError::OutOfGas,
                None => ExecError::Trap(e.to_string()),
            };
            let consumed = if error == ExecError::OutOfGas {
                env.gas_limit
            } else {
                consumed
            };
            failure(consumed.saturating_sub(ctx.gas_attached), error)
        }
    }
}

/// A host that has nothing, for the trial instantiation of [`check_module`] (which runs no
/// code).
struct NullHost;

impl Host for NullHost {
    fn storage_read(&self, _: &[u8]) -> Option<Vec<u8>> {
        None
    }
    fn storage_write(&mut self, _: &[u8], _: &[u8]) {}
    fn storage_remove(&mut self, _: &[u8]) -> bool {
        false
    }
    fn balance(&self) -> u64 {
        0
    }
    fn transfer(&mut self, _: Address, _: u64) -> Result<(), String> {
        Err("no host".into())
    }
    fn debit(&mut self, _: u64) -> Result<(), String> {
        Err("no host".into())
    }
}

// ---------------------------------------------------------------------------------------
// Host functions

type C<'c, 'a> = Caller<'c, Ctx<'a>>;
type HostResult<T> = Result<T, ExecError>;

/// Ends a host function: a refusal is recorded in the context (the first one wins) and
/// stops the execution.
fn done<T>(c: &mut C<'_, '_>, result: HostResult<T>) -> Result<T, Error> {
    result.map_err(|e| {
        c.data_mut().stopped.get_or_insert(e);
        Error::new("stopped by a host function")
    })
}

fn host_err<T>(what: impl Into<String>) -> HostResult<T> {
    Err(ExecError::Host(what.into()))
}

/// Takes `gas` from the fuel left; out of gas if there is not that much.
fn charge(c: &mut C<'_, '_>, gas: u64) -> HostResult<()> {
    let fuel = c.get_fuel().unwrap_or(0);
    match fuel.checked_sub(gas) {
        Some(left) => {
            let _ = c.set_fuel(left);
            Ok(())
        }
        None => {
            let _ = c.set_fuel(0);
            Err(ExecError::OutOfGas)
        }
    }
}

/// A length argument, unsigned.
fn len(x: i32) -> u64 {
    u64::from(x as u32)
}

/// The range `[ptr, ptr + len)` of a memory of `size` bytes.
fn range(ptr: i32, len: u64, size: usize) -> HostResult<std::ops::Range<usize>> {
    let start = ptr as u32 as usize;
    match usize::try_from(len)
        .ok()
        .and_then(|len| start.checked_add(len))
    {
        Some(end) if end <= size => Ok(start..end),
        _ => host_err(format!(
            "memory access out of bounds: {len} bytes at {start} in a memory of {size}"
        )),
    }
}

fn memory(c: &C<'_, '_>) -> HostResult<Memory> {
    match c.data().memory {
        Some(memory) => Ok(memory),
        None => host_err("the module exports no memory"),
    }
}

/// Copies `len` bytes at `ptr` out of the memory.
fn read(c: &C<'_, '_>, ptr: i32, len: u64) -> HostResult<Vec<u8>> {
    let memory = memory(c)?;
    let data = memory.data(c);
    Ok(data[range(ptr, len, data.len())?].to_vec())
}

/// Copies `bytes` into the memory at `ptr`.
fn write(c: &mut C<'_, '_>, ptr: i32, bytes: &[u8]) -> HostResult<()> {
    let memory = memory(c)?;
    let data = memory.data_mut(&mut *c);
    let range = range(ptr, bytes.len() as u64, data.len())?;
    data[range].copy_from_slice(bytes);
    Ok(())
}

fn read_address(c: &C<'_, '_>, ptr: i32) -> HostResult<Address> {
    let mut address = [0u8; 20];
    address.copy_from_slice(&read(c, ptr, 20)?);
    Ok(Address(address))
}

fn to_i32(n: usize) -> HostResult<i32> {
    i32::try_from(n).or_else(|_| host_err(format!("{n} does not fit an i32")))
}

fn input_len(c: &mut C<'_, '_>) -> HostResult<i32> {
    charge(c, HOST_CALL_GAS)?;
    to_i32(c.data().env.input.len())
}

fn input(c: &mut C<'_, '_>, ptr: i32) -> HostResult<()> {
    charge(c, HOST_CALL_GAS)?;
    let input = c.data().env.input;
    charge(c, ARG_BYTE * input.len() as u64)?;
    write(c, ptr, input)
}

fn check_key(c: &C<'_, '_>, key_len: u64) -> HostResult<()> {
    let max = c.data().params.max_key_bytes;
    if key_len > u64::from(max) {
        return host_err(format!("storage key of {key_len} bytes, over {max}"));
    }
    Ok(())
}

fn storage_read(
    c: &mut C<'_, '_>,
    key_ptr: i32,
    key_len: i32,
    val_ptr: i32,
    val_cap: i32,
) -> HostResult<i64> {
    charge(c, HOST_CALL_GAS)?;
    check_key(c, len(key_len))?;
    charge(c, STORAGE_READ_BYTE * len(key_len))?;
    let key = read(c, key_ptr, len(key_len))?;
    let Some(value) = c.data().host.storage_read(&key) else {
        return Ok(-1);
    };
    charge(c, STORAGE_READ_BYTE * value.len() as u64)?;
    let copied = value.len().min(val_cap as u32 as usize);
    write(c, val_ptr, &value[..copied])?;
    i64::try_from(value.len()).or_else(|_| host_err("value too long"))
}

fn storage_write(
    c: &mut C<'_, '_>,
    key_ptr: i32,
    key_len: i32,
    val_ptr: i32,
    val_len: i32,
) -> HostResult<()> {
    charge(c, HOST_CALL_GAS)?;
    check_key(c, len(key_len))?;
    let max = c.data().params.max_value_bytes;
    if len(val_len) > u64::from(max) {
        return host_err(format!(
            "storage value of {} bytes, over {max}",
            len(val_len)
        ));
    }
    charge(c, STORAGE_WRITE_BYTE * (len(key_len) + len(val_len)))?;
    let key = read(c, key_ptr, len(key_len))?;
    let value = read(c, val_ptr, len(val_len))?;
    c.data_mut().host.storage_write(&key, &value);
    Ok(())
}

fn storage_remove(c: &mut C<'_, '_>, key_ptr: i32, key_len: i32) -> HostResult<i32> {
    charge(c, HOST_CALL_GAS)?;
    check_key(c, len(key_len))?;
    charge(c, STORAGE_WRITE_BYTE * len(key_len))?;
    let key = read(c, key_ptr, len(key_len))?;
    Ok(i32::from(c.data_mut().host.storage_remove(&key)))
}

fn caller(c: &mut C<'_, '_>, ptr: i32) -> HostResult<()> {
    charge(c, HOST_CALL_GAS)?;
    let address = c.data().env.caller;
    write(c, ptr, &address.0)
}

fn signer(c: &mut C<'_, '_>, ptr: i32) -> HostResult<()> {
    charge(c, HOST_CALL_GAS)?;
    let address = c.data().env.signer;
    write(c, ptr, &address.0)
}

fn self_address(c: &mut C<'_, '_>, ptr: i32) -> HostResult<()> {
    charge(c, HOST_CALL_GAS)?;
    let address = c.data().env.contract;
    write(c, ptr, &address.0)
}

fn attached_value(c: &mut C<'_, '_>) -> HostResult<i64> {
    charge(c, HOST_CALL_GAS)?;
    Ok(c.data().env.value as i64)
}

fn block_height(c: &mut C<'_, '_>) -> HostResult<i64> {
    charge(c, HOST_CALL_GAS)?;
    Ok(c.data().env.height as i64)
}

fn block_time(c: &mut C<'_, '_>) -> HostResult<i64> {
    charge(c, HOST_CALL_GAS)?;
    Ok(c.data().env.time_ms as i64)
}

fn balance(c: &mut C<'_, '_>) -> HostResult<i64> {
    charge(c, HOST_CALL_GAS)?;
    Ok(c.data().host.balance() as i64)
}

fn transfer(c: &mut C<'_, '_>, addr_ptr: i32, amount: i64) -> HostResult<()> {
    charge(c, HOST_CALL_GAS)?;
    let to = read_address(c, addr_ptr)?;
    c.data_mut()
        .host
        .transfer(to, amount as u64)
        .or_else(host_err)
}

/// The bytes of a log line or event, counted toward `max_logs`.
fn log_bytes(c: &mut C<'_, '_>, ptr: i32, n: i32) -> HostResult<Vec<u8>> {
    charge(c, HOST_CALL_GAS)?;
    let ctx = c.data();
    let max = ctx.params.max_logs;
    if ctx.logs.len() + ctx.events.len() >= max as usize {
        return host_err(format!("more than {max} logs and events"));
    }
    let max_bytes = ctx.params.max_args_bytes;
    if len(n) > u64::from(max_bytes) {
        return host_err(format!(
            "log or event of {} bytes, over {max_bytes}",
            len(n)
        ));
    }
    charge(c, LOG_BYTE * len(n))?;
    read(c, ptr, len(n))
}

fn emit(c: &mut C<'_, '_>, ptr: i32, n: i32) -> HostResult<()> {
    let event = log_bytes(c, ptr, n)?;
    c.data_mut().events.push(event);
    Ok(())
}

fn log(c: &mut C<'_, '_>, ptr: i32, n: i32) -> HostResult<()> {
    let line = log_bytes(c, ptr, n)?;
    let line = String::from_utf8_lossy(&line).into_owned();
    c.data_mut().logs.push(line);
    Ok(())
}

fn return_value(c: &mut C<'_, '_>, ptr: i32, n: i32) -> HostResult<()> {
    charge(c, HOST_CALL_GAS)?;
    let max = c.data().params.max_args_bytes;
    if len(n) > u64::from(max) {
        return host_err(format!("return value of {} bytes, over {max}", len(n)));
    }
    charge(c, ARG_BYTE * len(n))?;
    let value = read(c, ptr, len(n))?;
    c.data_mut().ret = value;
    Ok(())
}

fn fail(c: &mut C<'_, '_>, ptr: i32, n: i32) -> HostResult<()> {
    charge(c, HOST_CALL_GAS)?;
    let n = len(n).min(u64::from(c.data().params.max_args_bytes));
    charge(c, LOG_BYTE * n)?;
    let message = read(c, ptr, n)?;
    Err(ExecError::Failed(
        String::from_utf8_lossy(&message).into_owned(),
    ))
}

fn sha256(c: &mut C<'_, '_>, ptr: i32, n: i32, out_ptr: i32) -> HostResult<()> {
    charge(c, HOST_CALL_GAS)?;
    charge(c, SHA256_BYTE * len(n))?;
    let data = read(c, ptr, len(n))?;
    write(c, out_ptr, &Hash::sha256(&data).0)
}

/// Checks and reads a promise's method and arguments (after the count and gas checks).
fn promise_parts(
    c: &mut C<'_, '_>,
    method_ptr: i32,
    method_len: i32,
    args_ptr: i32,
    args_len: i32,
    gas: u64,
) -> HostResult<(String, Vec<u8>)> {
    let params = c.data().params;
    if c.data().promises.len() >= params.max_promises as usize {
        return host_err(format!("more than {} promises", params.max_promises));
    }
    if len(method_len) > u64::from(MAX_METHOD_BYTES) {
        return host_err(format!(
            "method name of {} bytes, over {MAX_METHOD_BYTES}",
            len(method_len)
        ));
    }
    if len(args_len) > u64::from(params.max_args_bytes) {
        return host_err(format!(
            "arguments of {} bytes, over {}",
            len(args_len),
            params.max_args_bytes
        ));
    }
    if gas > params.max_call_gas {
        return host_err(format!(
            "promise gas {gas} over the limit of {}",
            params.max_call_gas
        ));
    }
    charge(c, ARG_BYTE * (len(method_len) + len(args_len)))?;
    let method = read(c, method_ptr, len(method_len))?;
    let method = String::from_utf8(method).or_else(|_| host_err("method name is not UTF-8"))?;
    let args = read(c, args_ptr, len(args_len))?;
    Ok((method, args))
}

/// Reserves `gas` for a promise: taken from the fuel left, counted as attached.
fn reserve(c: &mut C<'_, '_>, gas: u64) -> HostResult<()> {
    charge(c, gas)?;
    let ctx = c.data_mut();
    ctx.gas_attached = ctx.gas_attached.saturating_add(gas);
    Ok(())
}

/// Adds a promise; its index.
fn push_promise(c: &mut C<'_, '_>, promise: PromiseAction) -> HostResult<i32> {
    let promises = &mut c.data_mut().promises;
    promises.push(promise);
    to_i32(promises.len() - 1)
}

#[allow(clippy::too_many_arguments)]
fn promise_call(
    c: &mut C<'_, '_>,
    addr_ptr: i32,
    method_ptr: i32,
    method_len: i32,
    args_ptr: i32,
    args_len: i32,
    gas: i64,
    value: i64,
) -> HostResult<i32> {
    charge(c, HOST_CALL_GAS)?;
    let (gas, value) = (gas as u64, value as u64);
    let (method, args) = promise_parts(c, method_ptr, method_len, args_ptr, args_len, gas)?;
    let contract = read_address(c, addr_ptr)?;
    reserve(c, gas)?;
    if value > 0 {
        c.data_mut().host.debit(value).or_else(host_err)?;
    }
    push_promise(
        c,
        PromiseAction::Call {
            contract,
            method,
            args,
            gas,
            value,
        },
    )
}

fn promise_then(
    c: &mut C<'_, '_>,
    promise: i32,
    method_ptr: i32,
    method_len: i32,
    args_ptr: i32,
    args_len: i32,
    gas: i64,
) -> HostResult<i32> {
    charge(c, HOST_CALL_GAS)?;
    let gas = gas as u64;
    let made = c.data().promises.len();
    let after = match u32::try_from(promise) {
        Ok(after) if (after as usize) < made => after,
        _ => return host_err(format!("no promise {promise} (made {made})")),
    };
    let (method, args) = promise_parts(c, method_ptr, method_len, args_ptr, args_len, gas)?;
    reserve(c, gas)?;
    push_promise(
        c,
        PromiseAction::Then {
            after,
            method,
            args,
            gas,
        },
    )
}

/// The awaited result: whether it succeeded, and its bytes.
fn awaited<'a>(c: &C<'_, 'a>) -> Option<(bool, &'a [u8])> {
    c.data().env.promise_result.map(|result| match result {
        PromiseResult::Ok(bytes) => (true, bytes.as_slice()),
        PromiseResult::Err(reason) => (false, reason.as_bytes()),
    })
}

fn promise_result_len(c: &mut C<'_, '_>) -> HostResult<i32> {
    charge(c, HOST_CALL_GAS)?;
    match awaited(c) {
        None => Ok(-1),
        Some((_, bytes)) => to_i32(bytes.len()),
    }
}

fn promise_result(c: &mut C<'_, '_>, ptr: i32) -> HostResult<i32> {
    charge(c, HOST_CALL_GAS)?;
    let Some((ok, bytes)) = awaited(c) else {
        return Ok(-1);
    };
    charge(c, ARG_BYTE * bytes.len() as u64)?;
    write(c, ptr, bytes)?;
    Ok(i32::from(ok))
}

/// Declares the host functions: an enum of them, their table (name and signature), the
/// wasmi entry points (which record a refusal in the context) and their wrapping into a
/// store.
macro_rules! host_api {
    ($( $variant:ident $name:ident ( $($arg:ident : $ty:ident),* ) $(-> $ret:ident)? ; )*) => {
        /// A host function.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        enum HostFn { $($variant),* }

        /// A host function's import name and signature.
        struct Api {
            name: &'static str,
            params: &'static [ValType],
            results: &'static [ValType],
            func: HostFn,
        }

        /// The host API, as modules import it from `env`.
        const HOST_API: &[Api] = &[$(
            Api {
                name: stringify!($name),
                params: &[$(host_api!(@valtype $ty)),*],
                results: &[$(host_api!(@valtype $ret))?],
                func: HostFn::$variant,
            }
        ),*];

        /// The entry points wasmi calls.
        mod entry {
            use super::*;
            $(
                #[allow(clippy::too_many_arguments)]
                pub(super) fn $name(
                    mut c: Caller<'_, Ctx<'_>>,
                    $($arg: $ty),*
                ) -> Result<host_api!(@ret $($ret)?), Error> {
                    let result = super::$name(&mut c, $($arg),*);
                    done(&mut c, result)
                }
            )*
        }

        impl HostFn {
            /// The function as a wasmi function of `store`.
            fn wrap(self, store: &mut Store<Ctx<'_>>) -> Func {
                match self {
                    $(HostFn::$variant => Func::wrap(&mut *store, entry::$name)),*
                }
            }
        }
    };
    (@valtype i32) => { ValType::I32 };
    (@valtype i64) => { ValType::I64 };
    (@ret) => { () };
    (@ret $ret:ident) => { $ret };
}

host_api! {
    InputLen input_len() -> i32;
    Input input(ptr: i32);
    StorageRead storage_read(key_ptr: i32, key_len: i32, val_ptr: i32, val_cap: i32) -> i64;
    StorageWrite storage_write(key_ptr: i32, key_len: i32, val_ptr: i32, val_len: i32);
    StorageRemove storage_remove(key_ptr: i32, key_len: i32) -> i32;
    Caller caller(ptr: i32);
    Signer signer(ptr: i32);
    SelfAddress self_address(ptr: i32);
    AttachedValue attached_value() -> i64;
    BlockHeight block_height() -> i64;
    BlockTime block_time() -> i64;
    Balance balance() -> i64;
    Transfer transfer(addr_ptr: i32, amount: i64);
    Emit emit(ptr: i32, len: i32);
    Log log(ptr: i32, len: i32);
    ReturnValue return_value(ptr: i32, len: i32);
    Fail fail(ptr: i32, len: i32);
    Sha256 sha256(ptr: i32, len: i32, out_ptr: i32);
    PromiseCall promise_call(addr_ptr: i32, method_ptr: i32, method_len: i32, args_ptr: i32, args_len: i32, gas: i64, value: i64) -> i32;
    PromiseThen promise_then(promise: i32, method_ptr: i32, method_len: i32, args_ptr: i32, args_len: i32, gas: i64) -> i32;
    PromiseResultLen promise_result_len() -> i32;
    PromiseResult promise_result(ptr: i32) -> i32;
}

#[cfg(test)]
mod tests;
