// Targets with arguments (`module:function(args…)`, `file.py:function(args…)`): the runner and
// `leaklens run` as processes, on this machine's python3, against test/fixtures/runtime/shop.py,
// whose price cache is bounded when the order ids come back and grows when every id is new.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CLI, ROOT } from './helpers/cli';
import { ENV, FIXTURES, NO_PYTHON, PYTHON, runRunner } from './helpers/runtime';
import type { GrowthFinding, RuntimeReport } from '../server/src/runtime/report';

const runner = (target: string, extra: string[] = []) => runRunner('growth', target, extra);

const cli = (args: string[]) =>
  spawnSync(process.execPath, [CLI, 'run', '--python', PYTHON, '--workspace', FIXTURES, ...args], { cwd: ROOT, env: ENV, encoding: 'utf8', timeout: 120_000 });

const SHOP = join(FIXTURES, 'shop.py');
const PRICE_LINE = 8; // `return ["%08d" % order_id] * 20`: what the cache keeps
const priceSite = (report: RuntimeReport) =>
  report.findings.find((f): f is GrowthFinding => f.kind === 'growth' && f.location.file === SHOP && f.location.line === PRICE_LINE);

describe('targets with arguments', { skip: NO_PYTHON }, () => {
  test('the same cache: a leak when keyed by i, bounded over 50 ids, nothing with a constant id', () => {
    const byCall = runner('shop:handle(i)');
    assert.equal(byCall.status, 1, byCall.dump);
    assert.equal(priceSite(byCall.report)?.verdict, 'leak', byCall.dump);
    assert.equal(priceSite(byCall.report)?.location.function, 'price');
    assert.deepEqual(
      [byCall.report.target.kind, byCall.report.target.module, byCall.report.target.function, byCall.report.target.arguments, byCall.report.target.call],
      ['function', 'shop', 'handle', 'i', 'handle(i)'],
    );

    const fifty = runner('shop:handle(i % 50)');
    assert.equal(fifty.status, 0, fifty.dump);
    assert.equal(priceSite(fifty.report)?.verdict, 'bounded', fifty.dump);
    assert.equal(fifty.report.totals.leaks, 0);
    assert.equal(fifty.report.target.call, 'handle(i % 50)');

    const constant = runner('shop:handle(7, currency="USD")');
    assert.equal(constant.status, 0, constant.dump);
    assert.equal(priceSite(constant.report), undefined, 'one entry, made during the warm-up: no growth');
  });

  test('file.py form, keyword arguments, names from the module, comprehensions that use i', () => {
    const keyword = runner('shop.py:handle(order_id=i % 1000, currency=DEFAULT_CURRENCY)');
    assert.equal(keyword.status, 1, keyword.dump);
    assert.equal(priceSite(keyword.report)?.verdict, 'leak', 'ids 0..999: still filling up after 253 calls');
    assert.equal(keyword.report.target.file, SHOP);
    const comprehension = runner('shop.py:total([i * 10 + k for k in range(3)])', ['--rounds', '3', '--calls', '20']);
    assert.equal(comprehension.status, 1, comprehension.dump);
    assert.equal(priceSite(comprehension.report)?.verdict, 'leak', comprehension.dump);
    const dictArgument = runner('shop:lookup({1: "a", 2: "b"}, i % 2 + 1)', ['--rounds', '2', '--calls', '5']);
    assert.equal(dictArgument.status, 0, dictArgument.dump);
    assert.equal(dictArgument.report.target.arguments, '{1: "a", 2: "b"}, i % 2 + 1', 'a colon inside the arguments is not the target colon');
  });

  test('an async def with arguments runs on one event loop; cycles mode takes arguments too', () => {
    const asynchronous = runner('shop:handle_async(i)');
    assert.equal(asynchronous.status, 1, asynchronous.dump);
    assert.equal(priceSite(asynchronous.report)?.verdict, 'leak', asynchronous.dump);
    const cycles = (target: string) => runRunner('cycles', target, ['--calls', '10']);
    const withLines = cycles('shop:order_with_lines(i, count=2)');
    assert.equal(withLines.status, 1, JSON.stringify(withLines.report, null, 2));
    assert.equal(withLines.report.findings.length, 1);
    assert.equal((withLines.report.findings[0] as { count: number }).count, 10, 'one cycle per call');
    assert.equal(withLines.report.target.call, 'order_with_lines(i, count=2)');
    const without = cycles('shop:order_with_lines(i, count=0)');
    assert.equal(without.status, 0, JSON.stringify(without.report, null, 2));
    assert.equal(without.report.findings.length, 0, 'no lines, no back references');
  });

  test('bad arguments: exit 2 with one message naming the problem', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['shop:handle(i +)', 'target', /^bad arguments in target shop:handle\(i \+\): invalid syntax/],
      ['shop:handle(j)', 'target-arguments', /^the arguments of target shop:handle\(j\) failed at call 1 \(i = 0\): NameError: name 'j' is not defined \(`i` is the call number; other names must be defined in module shop/],
      ['shop:handle(1 // (i - 4))', 'target-arguments', /failed at call 5 \(i = 4\): ZeroDivisionError/],
      ['shop:handle(1, 2, 3)', 'target-arguments', /do not fit handle\(order_id, currency='EUR'\): too many positional arguments/],
      ['shop:handle()', 'target-arguments', /do not fit handle\(order_id, currency='EUR'\): missing a required argument: 'order_id'/],
      ['shop:handle', 'target', /^target shop:handle needs arguments \(order_id\): give them as Python expressions after the name, e\.g\. `shop:handle\(i\)`/],
      ['shop:handle(', 'target', /^cannot read target 'shop:handle\(': .*`module:function\(i, key=i % 50\)`/],
    ];
    for (const [target, kind, message] of cases) {
      const run = runner(target);
      assert.equal(run.status, 2, target);
      assert.equal(run.report.errors.length, 1, run.dump);
      assert.equal(run.report.errors[0].kind, kind, target);
      assert.match(run.report.errors[0].message, message);
      assert.doesNotMatch(run.report.errors[0].message, /\n/, 'one line');
      assert.equal(run.report.findings.length, 0);
    }
  });

  test('leaklens run growth with a call: the verdict differs with the arguments; errors are one line, exit 2', () => {
    const bounded = cli(['growth', 'shop:handle(i % 50)']);
    assert.equal(bounded.status, 0, bounded.stdout + bounded.stderr);
    assert.match(bounded.stdout, /^LeakLens growth: shop:handle\(i % 50\) \(CPython/);
    assert.match(bounded.stdout, /Each call: handle\(i % 50\), with i = 0, 1, 2/);
    assert.match(bounded.stdout, /shop\.py:8 in price: BOUNDED/);
    const leaky = cli(['growth', 'shop:handle(i)', '--format', 'json']);
    assert.equal(leaky.status, 1, leaky.stderr);
    const report = JSON.parse(leaky.stdout) as RuntimeReport;
    assert.equal(report.target.call, 'handle(i)');
    assert.equal(priceSite(report)?.verdict, 'leak');
    const missing = cli(['growth', 'shop:handle']);
    assert.equal(missing.status, 2);
    assert.match(missing.stdout, /^Error: target shop:handle needs arguments \(order_id\).*`shop:handle\(i\)`/m);
    const bad = cli(['growth', 'shop:handle(i +)', '--format', 'json']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^leaklens: bad arguments in target shop:handle\(i \+\): invalid syntax/m);
  });
});
