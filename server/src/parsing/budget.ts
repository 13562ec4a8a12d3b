// A deterministic work budget for code that walks syntax trees. Wall-clock limits make results
// depend on the machine and its load; this counts work instead: every call of a tree-sitter
// `Node` method or getter costs one unit, plus the size of what it walks or returns
// (`descendantsOfType` the nodes of its subtree, `children` the children). Any rule, whatever it
// does, can only look at a tree through these calls, so a rule that is quadratic in the file runs
// out of units on big files — on every machine at the same point — and stops with
// `WorkBudgetExceeded` instead of hanging its caller.
//
// The counter is process-wide (per thread): analysis is synchronous, so one budget is open at a
// time. Outside `withBudget` nothing is counted against a limit.
import { Node } from 'web-tree-sitter';

export class WorkBudgetExceeded extends Error {
  constructor(readonly limit: number) {
    super(`work budget of ${limit.toLocaleString('en-US')} tree operations exhausted`);
    this.name = 'WorkBudgetExceeded';
  }
}

let spent = 0;
let limit = Infinity;

function charge(units: number): void {
  spent += units;
  if (spent > limit) throw new WorkBudgetExceeded(limit);
}

let installed = false;

/** Wraps every `Node` method and getter with the counter (once per process). */
function install(): void {
  if (installed) return;
  installed = true;
  const proto = Node.prototype as unknown as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(proto)) {
    if (name === 'constructor') continue;
    const descriptor = Object.getOwnPropertyDescriptor(proto, name)!;
    // descendantsOfType walks its whole subtree, whatever it returns.
    const walksSubtree = name === 'descendantsOfType';
    if (descriptor.get) {
      const get = descriptor.get;
      Object.defineProperty(proto, name, {
        ...descriptor,
        get(this: Node) {
          charge(1);
          const value = get.call(this);
          if (Array.isArray(value)) charge(value.length);
          return value;
        },
      });
    } else if (typeof descriptor.value === 'function') {
      const method = descriptor.value as (...args: unknown[]) => unknown;
      Object.defineProperty(proto, name, {
        ...descriptor,
        value(this: Node, ...args: unknown[]) {
          charge(1);
          // The visited subtree is charged before the walk, so a huge walk never starts.
          if (walksSubtree) charge(this.descendantCount);
          const value = method.apply(this, args);
          if (Array.isArray(value)) charge(value.length);
          return value;
        },
      });
    }
  }
}

/** Units spent so far in the innermost open budget (for measurements). */
export function unitsSpent(): number {
  return spent;
}

/**
 * Runs fn with at most `units` tree operations; throws WorkBudgetExceeded (from inside fn) when
 * they run out. Budgets nest: an inner one never extends the outer one.
 */
export function withBudget<T>(units: number, fn: () => T): T {
  install();
  const outerSpent = spent;
  const outerLimit = limit;
  spent = 0;
  limit = Math.min(units, outerLimit - outerSpent);
  try {
    return fn();
  } finally {
    const used = spent;
    spent = outerSpent + used;
    limit = outerLimit;
  }
}
