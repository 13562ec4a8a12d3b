// The class of a value, for the few library classes whose methods the rules care about
// (`pathlib.Path(...).open()`, `zipfile.ZipFile(...).open(name)`). Known only from what the file
// shows: a constructor call, an annotated parameter, a name whose every binding is one of those,
// `with ZipFile(...) as zf`, and the path operations that give another path. Anything else is
// unknown: this is no type checker, and an unknown value is never guessed at.
import type { Node } from 'web-tree-sitter';
import type { ScopeTable } from './scopes';

/** Constructors and class methods, by qualified name → the class of what they return. */
const CONSTRUCTORS = new Map<string, string>([
  ['pathlib.Path', 'pathlib.Path'],
  ['pathlib.PosixPath', 'pathlib.Path'],
  ['pathlib.WindowsPath', 'pathlib.Path'],
  ['pathlib.Path.cwd', 'pathlib.Path'],
  ['pathlib.Path.home', 'pathlib.Path'],
  ['zipfile.ZipFile', 'zipfile.ZipFile'],
  ['zipfile.PyZipFile', 'zipfile.ZipFile'],
  ['tarfile.open', 'tarfile.TarFile'],
  ['tarfile.TarFile', 'tarfile.TarFile'],
]);

/** Annotations naming a class (the value may be a subclass: its methods still apply). */
const ANNOTATIONS = new Map<string, string>([
  ['pathlib.Path', 'pathlib.Path'],
  ['pathlib.PosixPath', 'pathlib.Path'],
  ['pathlib.WindowsPath', 'pathlib.Path'],
  ['zipfile.ZipFile', 'zipfile.ZipFile'],
  ['tarfile.TarFile', 'tarfile.TarFile'],
]);

/** Methods and attributes of a path that give another path. */
const PATH_METHODS = new Set(['joinpath', 'with_name', 'with_suffix', 'with_stem', 'resolve', 'absolute', 'expanduser', 'relative_to']);
const PATH_ATTRIBUTES = new Set(['parent']);
/** Classes whose `__enter__` returns the object itself. */
const ENTER_RETURNS_SELF = new Set(['zipfile.ZipFile', 'tarfile.TarFile']);

const MAX_DEPTH = 8;

export class ValueClasses {
  private readonly memo = new Map<number, string | null>();

  constructor(
    private readonly scopes: ScopeTable,
    private readonly qualifiedName: (node: Node) => string | undefined,
  ) {}

  /** The library class of the value `expr` evaluates to, when the file shows it; else undefined. */
  classOf(expr: Node, depth = 0): string | undefined {
    if (depth > MAX_DEPTH) return undefined;
    const known = this.memo.get(expr.id);
    if (known !== undefined) return known ?? undefined;
    // Cut cycles (`p = p / "x"` in a loop): a value being worked out is unknown for now.
    this.memo.set(expr.id, null);
    const result = this.compute(expr, depth);
    this.memo.set(expr.id, result ?? null);
    return result;
  }

  private compute(expr: Node, depth: number): string | undefined {
    switch (expr.type) {
      case 'parenthesized_expression': {
        const inner = expr.namedChild(0);
        return inner ? this.classOf(inner, depth + 1) : undefined;
      }
      case 'call': {
        const fn = expr.childForFieldName('function');
        if (!fn) return undefined;
        const q = this.qualifiedName(fn);
        if (q && CONSTRUCTORS.has(q)) return CONSTRUCTORS.get(q);
        if (fn.type === 'attribute' && PATH_METHODS.has(fn.childForFieldName('attribute')?.text ?? '')) {
          const object = fn.childForFieldName('object');
          if (object && this.classOf(object, depth + 1) === 'pathlib.Path') return 'pathlib.Path';
        }
        return undefined;
      }
      case 'attribute': {
        const object = expr.childForFieldName('object');
        if (object && PATH_ATTRIBUTES.has(expr.childForFieldName('attribute')?.text ?? '') && this.classOf(object, depth + 1) === 'pathlib.Path') return 'pathlib.Path';
        return undefined;
      }
      case 'binary_operator': {
        const op = expr.childForFieldName('operator')?.text;
        const left = expr.childForFieldName('left');
        if (op === '/' && left && this.classOf(left, depth + 1) === 'pathlib.Path') return 'pathlib.Path';
        return undefined;
      }
      case 'identifier':
        return this.nameClass(expr, depth);
      default:
        return undefined;
    }
  }

  /** A name's class: every binding it may see gives the same one. */
  private nameClass(id: Node, depth: number): string | undefined {
    const bindings = this.scopes.resolve(id);
    if (bindings.length === 0) return undefined;
    let result: string | undefined;
    for (const b of bindings) {
      const c = this.bindingClass(b.kind, b.node, depth);
      if (!c || (result && c !== result)) return undefined;
      result = c;
    }
    return result;
  }

  private bindingClass(kind: string, node: Node, depth: number): string | undefined {
    const parent = node.parent;
    if (!parent) return undefined;
    if (kind === 'parameter' || kind === 'annotation') {
      const annotation = parent.childForFieldName('type');
      const target = annotation?.type === 'type' ? annotation.namedChild(0) : annotation;
      const q = target ? this.qualifiedName(target) : undefined;
      if (q && ANNOTATIONS.has(q)) return ANNOTATIONS.get(q);
      if (kind === 'parameter') return undefined;
    }
    if (kind === 'assignment' || kind === 'annotation') {
      if (parent.type !== 'assignment' || !parent.childForFieldName('left')?.equals(node)) return undefined;
      const right = parent.childForFieldName('right');
      return right ? this.classOf(right, depth + 1) : undefined;
    }
    if (kind === 'with') {
      // `with ZipFile(p) as zf:` — the tree holds `as_pattern(value, as_pattern_target(zf))`.
      let pattern: Node | null = parent;
      while (pattern && pattern.type !== 'as_pattern') pattern = pattern.parent;
      const value = pattern?.namedChild(0);
      const c = value ? this.classOf(value, depth + 1) : undefined;
      return c && ENTER_RETURNS_SELF.has(c) ? c : undefined;
    }
    return undefined;
  }
}
