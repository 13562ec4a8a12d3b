// Where each scope's own code lies, as offset ranges, so that "which scope holds this node" is a
// binary search instead of a climb through `Node.parent` (which web-tree-sitter answers by
// walking down from the root every time, and which the work budget counts).
//
// The answer is the same as Python's rule that `ScopeTable.enclosingScopeNode` documents: a def's
// body and parameter names are its own, its decorators, defaults, annotations and return type
// belong to the scope around it; a class owns its body; a lambda its body and parameter names; a
// comprehension everything inside its brackets except the first iterable.
import type { Node } from 'web-tree-sitter';
import { parameterName } from './scopes';

const SCOPE_NODES = ['function_definition', 'lambda', 'class_definition', 'list_comprehension', 'set_comprehension', 'dictionary_comprehension', 'generator_expression'];

interface Region {
  node: Node;
  start: number;
  end: number;
  /** The entry of the nearest region containing this one, or -1. */
  parent: number;
  /** Ranges [start, end] that are this scope's own code. */
  own: Array<[number, number]>;
  /** A range inside `own` that is not (a comprehension's first iterable). */
  except?: [number, number];
  comprehension?: boolean;
}

export class ScopeRegions {
  private readonly regions: Region[] = [];

  constructor(private readonly root: Node) {
    const stack: number[] = [];
    for (const n of root.descendantsOfType(SCOPE_NODES)) {
      if (!n) continue;
      while (stack.length > 0 && this.regions[stack[stack.length - 1]].end <= n.startIndex) stack.pop();
      this.regions.push({ node: n, start: n.startIndex, end: n.endIndex, parent: stack.length > 0 ? stack[stack.length - 1] : -1, ...ownCode(n) });
      stack.push(this.regions.length - 1);
    }
  }

  /** The scope node (def, lambda, class, comprehension; else the root) whose own code holds `node`. */
  scopeNodeOf(node: Node): Node {
    const start = node.startIndex;
    const end = node.endIndex;
    let lo = 0;
    let hi = this.regions.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.regions[mid].start <= start) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    for (let i = found; i !== -1; i = this.regions[i].parent) {
      const r = this.regions[i];
      if (r.start > start || r.end < end) continue;
      if (r.except && r.except[0] <= start && end <= r.except[1]) continue;
      // A comprehension's whole range is the comprehension itself or an ancestor of it (the
      // expression statement around it): not its own code. Its brackets and clauses are.
      if (r.comprehension && r.start === start && r.end === end) continue;
      if (r.own.some(([s, e]) => s <= start && end <= e)) return r.node;
    }
    return this.root;
  }
}

function ownCode(n: Node): Pick<Region, 'own' | 'except' | 'comprehension'> {
  const own: Array<[number, number]> = [];
  if (n.type === 'function_definition' || n.type === 'lambda' || n.type === 'class_definition') {
    const body = n.childForFieldName('body');
    if (body) own.push([body.startIndex, body.endIndex]);
    if (n.type !== 'class_definition') {
      for (const p of n.childForFieldName('parameters')?.namedChildren ?? []) {
        const name = p ? parameterName(p) : undefined;
        if (name) own.push([name.startIndex, name.endIndex]);
      }
    }
    return { own };
  }
  // A comprehension: its range, less the first iterable.
  own.push([n.startIndex, n.endIndex]);
  const first = n.namedChildren.find((c) => c?.type === 'for_in_clause');
  const right = first?.childForFieldName('right');
  return { own, except: right ? [right.startIndex, right.endIndex] : undefined, comprehension: true };
}
