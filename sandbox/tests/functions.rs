//! Behaviour of compiled functions: the seed, the allowed modules, errors
//! with the user's line numbers, non-JSON answers and the limits.

use std::time::Duration;

use sandbox::{Function, FunctionError, Limits, MeteredAlloc};
use serde_json::{Value, json};

#[global_allocator]
static ALLOC: MeteredAlloc<mimalloc::MiMalloc> = MeteredAlloc::new(mimalloc::MiMalloc);

const SEED: &str =
    "# -*- coding: utf-8 -*-\nimport json\ndef handler(event,context):\n    obj = json.loads(event)\n    return obj\n";

fn context() -> Value {
    json!({"requestId": "r-1", "workgroup": "demo"})
}

async fn run(source: &str, event: Value) -> Result<Value, FunctionError> {
    let f = Function::compile("test", source)?;
    f.call(&event, &context(), Limits::default()).await
}

fn handler(body: &str) -> String {
    format!("def handler(event, context):\n{body}\n")
}

#[test]
fn the_allocator_meters() {
    assert!(sandbox::metering_installed());
}

#[tokio::test]
async fn runs_the_seed_function_unchanged() {
    let event = json!({"user_id": 7, "name": "张三", "tags": ["a", 1.5, null, true]});
    assert_eq!(run(SEED, event.clone()).await.unwrap(), event);
}

#[tokio::test]
async fn sees_the_context_as_a_dict() {
    let src = handler("    return {'rid': context['requestId'], 'wg': context.get('workgroup')}");
    assert_eq!(run(&src, json!({})).await.unwrap(), json!({"rid": "r-1", "wg": "demo"}));
}

#[tokio::test]
async fn imports_json_re_and_math() {
    let src = "import json\nimport re\nimport math\ndef handler(event, context):\n    m = re.match(r'(\\w+)-(\\d+)', json.loads(event)['id'])\n    return [m.group(1), int(m.group(2)), math.sqrt(16), math.floor(2.7), json.dumps([1, 2])]\n";
    let v = run(src, json!({"id": "ord-42"})).await.unwrap();
    assert_eq!(v, json!(["ord", 42, 4.0, 2, "[1, 2]"]));
}

#[tokio::test]
async fn imports_time_stand_in() {
    let src = "import time\nfrom time import time as now, sleep\ndef handler(event, context):\n    t = time.time()\n    sleep(0.01)\n    m = time.monotonic()\n    return [t > 1.7e9, now() >= t, m >= 0, isinstance(time.time_ns(), int)]\n";
    assert_eq!(run(src, json!({})).await.unwrap(), json!([true, true, true, true]));
}

#[tokio::test]
async fn imports_random_stand_in() {
    let src = "import random\nfrom random import randint, choice, shuffle\ndef handler(event, context):\n    xs = list(range(10))\n    shuffle(xs)\n    r = random.Random(42)\n    a = [r.randint(1, 100) for _ in range(5)]\n    r.seed(42)\n    b = [r.randint(1, 100) for _ in range(5)]\n    x = random.random()\n    return [sorted(xs) == list(range(10)), 1 <= randint(1, 6) <= 6, choice('ab') in 'ab', a == b, 0 <= x < 1, len(random.sample(range(9), 3))]\n";
    assert_eq!(run(src, json!({})).await.unwrap(), json!([true, true, true, true, true, 3]));
}

#[tokio::test]
async fn random_differs_between_calls() {
    let src = handler("    import random\n    return random.random()");
    let f = Function::compile("r", &src).unwrap();
    let a = f.call(&json!({}), &context(), Limits::default()).await.unwrap();
    let b = f.call(&json!({}), &context(), Limits::default()).await.unwrap();
    assert_ne!(a, b);
}

#[tokio::test]
async fn refuses_other_imports_at_compile_time() {
    for module in
        ["os", "sys", "subprocess", "socket", "pickle", "builtins", "importlib", "pathlib", "typing", "ctypes"]
    {
        let src = format!("import json\nimport {module}\ndef handler(event, context):\n    return 1\n");
        let err = Function::compile("f", &src).unwrap_err();
        assert!(matches!(&err, FunctionError::Compile { line: Some(2), .. }), "{module}: {err:?}");
        assert!(err.to_string().contains(&format!("'{module}'")), "{err}");
        assert_eq!(err.code(), "Workflow.FunctionError");
    }
    assert!(Function::compile("f", "from time import strftime\ndef handler(e, c):\n    return 1\n").is_err());
}

#[tokio::test]
async fn reports_exceptions_with_the_users_line() {
    let src = "import random\nimport time\n\ndef helper(x):\n    return x['missing']\n\ndef handler(event, context):\n    return helper({})\n";
    let err = run(src, json!({})).await.unwrap_err();
    assert_eq!(err, FunctionError::Raised { message: "KeyError: missing".into(), line: Some(5) });
    assert_eq!(err.code(), "Workflow.FunctionError");
    let err = run(&handler("    x = 1\n    raise ValueError('no ' + 'way')"), json!({})).await.unwrap_err();
    assert_eq!(err, FunctionError::Raised { message: "ValueError: no way".into(), line: Some(3) });
    assert_eq!(err.to_string(), "function raised ValueError: no way (line 3)");
    let err = run(SEED, json!("not json")).await;
    assert_eq!(err.unwrap(), json!("not json"));
    let err = run(&handler("    return json.loads('{')"), json!({})).await.unwrap_err();
    assert!(matches!(err, FunctionError::Raised { line: Some(2), .. }), "{err:?}");
}

#[tokio::test]
async fn reports_syntax_errors_with_their_line() {
    let err = Function::compile("f", "def handler(event, context):\n    return (1 +\n\nx = \n").unwrap_err();
    assert!(matches!(err, FunctionError::Compile { line: Some(_), .. }), "{err:?}");
    let err = Function::compile("f", "x = 1\n").unwrap_err();
    assert!(err.to_string().contains("handler"), "{err}");
    let big = format!("{}\n{}", handler("    return 1"), "#".repeat(70_000));
    assert!(Function::compile("f", &big).is_err());
}

#[tokio::test]
async fn refuses_non_json_answers() {
    for body in ["{1, 2}", "handler", "float('nan')", "{1: 'a'}", "b'bytes'", "float('inf')", "10 ** 30", "range(3)"] {
        let src = handler(&format!("    return {body}"));
        let err = run(&src, json!({})).await.unwrap_err();
        assert!(matches!(err, FunctionError::NotJson(_)), "{body}: {err:?}");
        assert_eq!(err.code(), "Workflow.FunctionError");
    }
    let v = run(&handler("    return (1, [2.5], {'a': None}, 'x', True)"), json!({})).await.unwrap();
    assert_eq!(v, json!([1, [2.5], {"a": null}, "x", true]));
}

#[tokio::test]
async fn refuses_huge_answers() {
    let err = run(&handler("    return ['x' * 500000 for _ in range(4)]"), json!({})).await.unwrap_err();
    assert!(matches!(err, FunctionError::OutputTooLarge { .. }), "{err:?}");
}

#[tokio::test]
async fn applies_the_time_limit_given() {
    let src = handler("    while True:\n        pass");
    let f = Function::compile("spin", &src).unwrap();
    for cpu_ms in [20, 150] {
        let limits = Limits { cpu_ms, ..Limits::default() };
        let (answer, stats) = f.call_with_stats(&json!({}), &context(), limits).await;
        let err = answer.unwrap_err();
        assert_eq!(err, FunctionError::Timeout { limit_ms: cpu_ms });
        assert_eq!(err.code(), "Workflow.FunctionTimeout");
        // The budget is the interpreter thread's CPU time.
        let cpu = stats.unwrap().cpu.as_millis() as u64;
        assert!(cpu >= cpu_ms * 9 / 10 && cpu <= cpu_ms + 50, "{cpu_ms} ms limit used {cpu} ms");
    }
}

#[tokio::test]
async fn applies_the_memory_limit_given() {
    let src = handler("    xs = []\n    while True:\n        xs.append('x' * 1000 + str(len(xs)))");
    let f = Function::compile("grow", &src).unwrap();
    for mib in [2, 32] {
        let limits = Limits { cpu_ms: 5_000, memory_bytes: mib << 20 };
        let err = f.call(&json!({}), &context(), limits).await.unwrap_err();
        assert_eq!(err, FunctionError::MemoryLimit { limit_bytes: mib << 20 });
    }
    // Within the limit the same kind of work succeeds.
    let ok = handler("    xs = ['x' * 1000 + str(i) for i in range(2000)]\n    return len(xs)");
    assert_eq!(run(&ok, json!({})).await.unwrap(), json!(2000));
}

#[tokio::test]
async fn limits_are_clamped() {
    let l = Limits { cpu_ms: 60_000, memory_bytes: usize::MAX }.clamped();
    assert_eq!(l.cpu_ms, Limits::MAX_CPU_MS);
    assert_eq!(l.memory_bytes, Limits::MAX_MEMORY_BYTES);
    assert_eq!(Limits::default(), Limits { cpu_ms: 200, memory_bytes: 16 << 20 });
}

#[tokio::test]
async fn the_seed_runs_at_the_smallest_memory_limit() {
    let f = Function::compile("seed", SEED).unwrap();
    let event = json!({"user_id": 7, "name": "x"});
    let smallest = Limits { memory_bytes: 0, ..Limits::default() };
    assert_eq!(f.call(&event, &context(), smallest).await.unwrap(), event);
}

/// A step whose result is too big to make in the time left is refused before it runs, as out
/// of time and within the limit's slack; smaller steps, or the same under a larger budget, run.
#[tokio::test]
async fn a_step_too_big_for_the_time_left_is_refused_before_it_runs() {
    let small = handler("    s = 'x' * 300000\n    l = [0] * 30000\n    return [len(s), len(l)]");
    assert_eq!(run(&small, json!({})).await.unwrap(), json!([300000, 30000]));

    // 3 ** 1000000 is 198 KB; six factors of it make 1.19 MB in the last multiplication.
    let big = handler("    n = 3 ** 1000000\n    m = n * n * n * n * n * n\n    return m % 1000003");
    let f = Function::compile("test", &big).unwrap();
    let (result, stats) = f.call_with_stats(&json!({}), &context(), Limits::default()).await;
    assert!(matches!(result, Err(FunctionError::Timeout { .. })), "{result:?}");
    let cpu = stats.expect("stats").cpu;
    assert!(cpu <= Duration::from_millis(Limits::default().cpu_ms + 50), "used {cpu:?}");

    let ample = Limits { cpu_ms: Limits::MAX_CPU_MS, ..Limits::default() };
    assert_eq!(f.call(&json!({}), &context(), ample).await.unwrap(), json!(967830));
}
