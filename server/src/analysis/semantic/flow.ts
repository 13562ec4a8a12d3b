// Control flow of one function (or module) body with exceptional paths, as a forward analysis
// over Python's structured statements: a client domain says what each statement does to its
// state, what may raise and which branch conditions it knows; `runFlow` follows every path —
// branches, loops to a fixed point, `break`/`continue`, `return`, `raise`, `try` handlers by
// exception type, `else`, `finally` on every way out, `with`, `match` — and returns the states
// that leave the body normally, by `return`, and by an exception.
//
// Paths are not enumerated one by one: states with the same key are merged, so a domain with a
// few states costs a few passes over the body whatever its number of paths.
import type { Node } from 'web-tree-sitter';

export interface FlowDomain<S> {
  /** States with the same key are the same state. */
  key(state: S): string;
  /**
   * The effect of one simple statement, or of the part of a compound statement evaluated before its
   * body (an `if`'s condition, a `for`'s iterable and target, a `with` item, a `return`'s value).
   */
  evaluate(node: Node, state: S): S;
  /** The node inside `node` whose evaluation may raise before `node` has its effect, if any. */
  raises(node: Node, state: S): Node | undefined;
  /** An exception raised at `at` in `state`: the state carried to the handlers. */
  onRaise(state: S, at: Node): S;
  /** A `return`, `break` or `continue` passed in `state`. */
  onJump(state: S, jump: Node): S;
  /** A branch condition's value in `state`, when the domain knows it. */
  condition(condition: Node, state: S): boolean | undefined;
  /**
   * The state on the branch where `condition` has the value `value` (`if status is not None:` —
   * what the test tells about the state there); the state itself when absent or nothing is learnt.
   */
  assume?(condition: Node, state: S, value: boolean): S;
  /** A statement after which the path ends without leaving the function (`sys.exit()`, `self.fail()`). */
  terminates(node: Node): boolean;
}

export interface FlowOutcome<S> {
  normal: S[];
  returns: S[];
  breaks: S[];
  continues: S[];
  raises: S[];
}

class StateSet<S> {
  private readonly map = new Map<string, S>();
  constructor(private readonly domain: FlowDomain<S>) {}
  add(state: S): boolean {
    const k = this.domain.key(state);
    if (this.map.has(k)) return false;
    this.map.set(k, state);
    return true;
  }
  addAll(states: Iterable<S>): boolean {
    let changed = false;
    for (const s of states) changed = this.add(s) || changed;
    return changed;
  }
  get values(): S[] {
    return [...this.map.values()];
  }
  get size(): number {
    return this.map.size;
  }
}

/**
 * The exception types an `except` clause names (`except (OSError, ValueError) as e:` → the two
 * expressions); undefined for a bare `except:`, which catches everything.
 */
export function handlerTypes(handler: Node): Node[] | undefined {
  const value = handler.namedChildren.find((c) => c && c.type !== 'block' && c.type !== 'comment');
  if (!value) return undefined;
  const types = value.type === 'as_pattern' ? value.namedChild(0) : value;
  const names = types?.type === 'tuple' || types?.type === 'parenthesized_expression' ? types.namedChildren : [types];
  return names.filter((n): n is Node => !!n && n.type !== 'comment');
}

/** Handlers that catch every exception a program means to handle (`except:`, `Exception`, `BaseException`). */
export function catchesAll(handler: Node): boolean {
  if (handler.type !== 'except_clause') return false;
  const names = handlerTypes(handler);
  return names === undefined || names.some((n) => /^(builtins\.)?(Exception|BaseException)$/.test(n.text));
}

const MAX_LOOP_PASSES = 64;

export class FlowRunner<S> {
  constructor(private readonly domain: FlowDomain<S>) {}

  private empty(): FlowOutcome<S> {
    return { normal: [], returns: [], breaks: [], continues: [], raises: [] };
  }

  private merge(into: FlowOutcome<S>, from: FlowOutcome<S>, kinds: Array<keyof FlowOutcome<S>> = ['normal', 'returns', 'breaks', 'continues', 'raises']): void {
    for (const k of kinds) into[k].push(...from[k]);
  }

  private dedupe(states: S[]): S[] {
    const set = new StateSet(this.domain);
    set.addAll(states);
    return set.values;
  }

  /** Runs a block (or a module / a list of statements) from the entry states. */
  block(statements: Node[], entry: S[]): FlowOutcome<S> {
    const out = this.empty();
    let current = this.dedupe(entry);
    for (const stmt of statements) {
      if (current.length === 0) break;
      const r = this.statement(stmt, current);
      out.returns.push(...r.returns);
      out.breaks.push(...r.breaks);
      out.continues.push(...r.continues);
      out.raises.push(...r.raises);
      current = this.dedupe(r.normal);
    }
    out.normal = current;
    return out;
  }

  private body(node: Node | null | undefined, entry: S[]): FlowOutcome<S> {
    if (!node) return { ...this.empty(), normal: entry };
    const stmts = node.type === 'block' || node.type === 'module' ? node.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment') : [node];
    return this.block(stmts, entry);
  }

  /** Evaluates an expression or simple statement in each state: raises first, then the effect. */
  private evaluate(node: Node, entry: S[], out: FlowOutcome<S>): S[] {
    const after: S[] = [];
    for (const s of entry) {
      const at = this.domain.raises(node, s);
      if (at) out.raises.push(this.domain.onRaise(s, at));
      after.push(this.domain.evaluate(node, s));
    }
    return after;
  }

  private statement(stmt: Node, entry: S[]): FlowOutcome<S> {
    const out = this.empty();
    switch (stmt.type) {
      case 'return_statement': {
        const after = this.evaluate(stmt, entry, out);
        out.returns.push(...after.map((s) => this.domain.onJump(s, stmt)));
        return out;
      }
      case 'raise_statement': {
        const after = this.evaluate(stmt, entry, out);
        out.raises.push(...after.map((s) => this.domain.onRaise(s, stmt)));
        return out;
      }
      case 'break_statement':
        out.breaks.push(...entry.map((s) => this.domain.onJump(s, stmt)));
        return out;
      case 'continue_statement':
        out.continues.push(...entry.map((s) => this.domain.onJump(s, stmt)));
        return out;
      case 'if_statement':
        return this.ifStatement(stmt, entry);
      case 'for_statement':
        return this.forStatement(stmt, entry);
      case 'while_statement':
        return this.whileStatement(stmt, entry);
      case 'try_statement':
        return this.tryStatement(stmt, entry);
      case 'with_statement': {
        let current = entry;
        const clause = stmt.namedChildren.find((c) => c?.type === 'with_clause');
        for (const item of clause?.namedChildren ?? []) if (item?.type === 'with_item') current = this.evaluate(item, current, out);
        const b = this.body(stmt.childForFieldName('body'), current);
        this.merge(out, b);
        return out;
      }
      case 'match_statement': {
        const subject = stmt.childForFieldName('subject');
        const current = subject ? this.evaluate(subject, entry, out) : entry;
        let irrefutable = false;
        for (const clause of stmt.childForFieldName('body')?.namedChildren ?? []) {
          if (clause?.type !== 'case_clause') continue;
          const pattern = clause.namedChildren.find((c) => c?.type === 'case_pattern');
          const guard = clause.childForFieldName('guard');
          if (!guard && pattern && /^(_|[A-Za-z_]\w*)$/.test(pattern.text.trim())) irrefutable = true;
          this.merge(out, this.body(clause.childForFieldName('consequence'), current));
        }
        if (!irrefutable) out.normal.push(...current);
        return out;
      }
      case 'decorated_definition':
      case 'function_definition':
      case 'class_definition': {
        out.normal = entry.map((s) => this.domain.evaluate(stmt, s));
        return out;
      }
      default: {
        const after = this.evaluate(stmt, entry, out);
        if (this.domain.terminates(stmt)) return out;
        out.normal = after;
        return out;
      }
    }
  }

  private branches(condition: Node | null, entry: S[], out: FlowOutcome<S>): { yes: S[]; no: S[] } {
    if (!condition) return { yes: entry, no: entry };
    const after = this.evaluate(condition, entry, out);
    const yes: S[] = [];
    const no: S[] = [];
    const literal = literalTruth(condition);
    for (const s of after) {
      const v = literal ?? this.domain.condition(condition, s);
      const assume = this.domain.assume;
      if (v !== false) yes.push(assume ? assume.call(this.domain, condition, s, true) : s);
      if (v !== true) no.push(assume ? assume.call(this.domain, condition, s, false) : s);
    }
    return { yes, no };
  }

  private ifStatement(stmt: Node, entry: S[]): FlowOutcome<S> {
    const out = this.empty();
    let { yes, no } = this.branches(stmt.childForFieldName('condition'), entry, out);
    this.merge(out, this.body(stmt.childForFieldName('consequence'), yes));
    let rest = no;
    let hasElse = false;
    for (const alt of stmt.childrenForFieldName('alternative')) {
      if (!alt) continue;
      if (alt.type === 'elif_clause') {
        ({ yes, no } = this.branches(alt.childForFieldName('condition'), rest, out));
        this.merge(out, this.body(alt.childForFieldName('consequence'), yes));
        rest = no;
      } else if (alt.type === 'else_clause') {
        hasElse = true;
        this.merge(out, this.body(alt.childForFieldName('body'), rest));
      }
    }
    if (!hasElse) out.normal.push(...rest);
    return out;
  }

  /**
   * Runs a `for`/`while` to a fixed point: `iterate` gives, from the states at the loop's head,
   * those that start an iteration and those that leave it; the `else` block runs on the leaving
   * ones, and `break` goes past it.
   */
  private loop(stmt: Node, entry: S[], iterate: (states: S[], out: FlowOutcome<S>) => { enter: S[]; exit: S[] }, out: FlowOutcome<S>): FlowOutcome<S> {
    const body = stmt.childForFieldName('body');
    const seen = new StateSet(this.domain);
    const exits = new StateSet(this.domain);
    const breaks: S[] = [];
    let frontier = entry;
    for (let pass = 0; pass < MAX_LOOP_PASSES && frontier.length > 0; pass++) {
      const fresh = frontier.filter((s) => seen.add(s));
      if (fresh.length === 0) break;
      const { enter, exit } = iterate(fresh, out);
      exits.addAll(exit);
      const b = this.body(body, enter);
      out.returns.push(...b.returns);
      out.raises.push(...b.raises);
      breaks.push(...b.breaks);
      frontier = [...b.normal, ...b.continues];
    }
    this.merge(out, this.body(stmt.childForFieldName('alternative')?.childForFieldName('body'), exits.values));
    out.normal.push(...breaks);
    return out;
  }

  private forStatement(stmt: Node, entry: S[]): FlowOutcome<S> {
    const out = this.empty();
    const right = stmt.childForFieldName('right');
    const left = stmt.childForFieldName('left');
    const start = right ? this.evaluate(right, entry, out) : entry;
    return this.loop(stmt, start, (states) => ({ enter: left ? states.map((s) => this.domain.evaluate(left, s)) : states, exit: states }), out);
  }

  private whileStatement(stmt: Node, entry: S[]): FlowOutcome<S> {
    const condition = stmt.childForFieldName('condition');
    return this.loop(
      stmt,
      entry,
      (states, o) => {
        const { yes, no } = this.branches(condition, states, o);
        return { enter: yes, exit: no };
      },
      this.empty(),
    );
  }

  private tryStatement(stmt: Node, entry: S[]): FlowOutcome<S> {
    const body = this.body(stmt.childForFieldName('body'), entry);
    const handled = this.empty();
    handled.returns.push(...body.returns);
    handled.breaks.push(...body.breaks);
    handled.continues.push(...body.continues);
    let pending = body.raises;
    let elseClause: Node | undefined;
    let finallyClause: Node | undefined;
    for (const c of stmt.namedChildren) {
      if (!c) continue;
      if (c.type === 'except_clause' || c.type === 'except_group_clause') {
        if (pending.length === 0) continue;
        const block = c.namedChildren.find((x) => x?.type === 'block');
        this.merge(handled, this.body(block, pending));
        // A narrower handler lets other exceptions through to the next one.
        if (catchesAll(c)) pending = [];
      } else if (c.type === 'else_clause') elseClause = c;
      else if (c.type === 'finally_clause') finallyClause = c;
    }
    handled.raises.push(...pending);
    if (elseClause) this.merge(handled, this.body(elseClause.childForFieldName('body'), body.normal));
    else handled.normal.push(...body.normal);
    if (!finallyClause) return handled;
    // `finally` runs on every way out; afterwards each way goes on where it was going, unless the
    // `finally` block itself leaves.
    const out = this.empty();
    const block = finallyClause.namedChildren.find((x) => x?.type === 'block');
    for (const kind of ['normal', 'returns', 'breaks', 'continues', 'raises'] as const) {
      if (handled[kind].length === 0) continue;
      const f = this.body(block, handled[kind]);
      out[kind].push(...f.normal);
      this.merge(out, f, ['returns', 'breaks', 'continues', 'raises']);
    }
    return out;
  }
}

/** `True`, `1`, `False`, `0`, `None` as a condition. */
function literalTruth(node: Node): boolean | undefined {
  let n = node;
  while (n.type === 'parenthesized_expression' && n.namedChild(0)) n = n.namedChild(0)!;
  if (n.type === 'true') return true;
  if (n.type === 'false' || n.type === 'none') return false;
  if (n.type === 'integer') return Number(n.text) !== 0;
  return undefined;
}

/** Follows a function's (or module's) body from one entry state. */
export function runFlow<S>(domain: FlowDomain<S>, body: Node, entry: S): FlowOutcome<S> {
  const runner = new FlowRunner(domain);
  const stmts = body.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment');
  return runner.block(stmts, [entry]);
}
