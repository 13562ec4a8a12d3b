// The semantic model's place questions the cycle rules ask (semantic/places.ts): `refersTo`,
// `isReceiverOf`, `placeKey` and `attributeKey`, on real trees from the real grammar. The same
// spelling is not the same place (a comprehension variable, a nested def's parameter, another
// method's local), and another spelling can be (`self` and `this` as receivers of one class).
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { Parser, type Node } from 'web-tree-sitter';
import { loadPython } from '../server/src/parsing/grammar';
import { fileImports, resolveName } from '../server/src/analysis/imports';
import { SemanticModel } from '../server/src/analysis/semantic';

const SOURCE = `class Tree:
    def __init__(self, parent):
        self.parent = parent
        parent.kids = [parent for parent in range(3)]

    def close(this):
        this.parent = None
        node = this
        node.parent = None

    @property
    def up(self):
        return self.parent

    @staticmethod
    def make(self):
        self.parent = None


def outer(items):
    items.cache = {}
    def inner(items):
        items.cache.pop(0)
    items.cache.clear()
    setattr(items, "cache", None)
`;

let parser: Parser;
before(async () => {
  const python = await loadPython(); // initialises the runtime first
  parser = new Parser();
  parser.setLanguage(python);
});

function model(): { root: Node; semantic: SemanticModel; at: (snippet: string, nth?: number) => Node } {
  const tree = parser.parse(SOURCE)!;
  const root = tree.rootNode;
  const imports = fileImports(root, SOURCE);
  const semantic = new SemanticModel(root, SOURCE, (n: Node) => resolveName(n, imports.map), () => undefined);
  // The smallest named node spelled `snippet`, the nth in document order.
  const at = (snippet: string, nth = 0): Node => {
    let from = -1;
    for (let i = 0; i <= nth; i++) from = SOURCE.indexOf(snippet, from + 1);
    assert.ok(from >= 0, snippet);
    const node = root.namedDescendantForIndex(from, from + snippet.length)!;
    assert.equal(node.text, snippet);
    return node;
  };
  return { root, semantic, at };
}

function method(at: (s: string, n?: number) => Node, name: string): Node {
  const fn = at(name).parent!;
  assert.equal(fn.type, 'function_definition');
  return fn;
}

describe('semantic places', () => {
  test('refersTo follows the scope model, not the spelling', () => {
    const { semantic, at } = model();
    const param = at('parent', 0); // the parameter of __init__
    assert.equal(semantic.refersTo(at('parent', 2), param), true); // `= parent`
    assert.equal(semantic.refersTo(at('parent', 3), param), true); // `parent.kids`
    // The comprehension's own `parent` is another variable.
    assert.equal(semantic.refersTo(at('parent', 4), param), false);
    assert.equal(semantic.refersTo(at('items', 1), at('items', 0)), true);
    assert.equal(semantic.refersTo(at('items', 3), at('items', 0)), false); // inner's own parameter
  });

  test('isReceiverOf: the first parameter of instance methods and properties only', () => {
    const { semantic, at } = model();
    const init = method(at, '__init__');
    const close = method(at, 'close');
    assert.equal(semantic.isReceiverOf(at('self', 1), init), true); // `self.parent = parent`
    assert.equal(semantic.isReceiverOf(at('this', 1), close), true);
    assert.equal(semantic.isReceiverOf(at('this', 1), init), false);
    assert.equal(semantic.isReceiverOf(at('node', 1), close), false); // an alias is not the receiver
    assert.equal(semantic.isReceiverOf(at('self', 3), method(at, 'up')), true);
    assert.equal(semantic.isReceiverOf(at('self', 5), method(at, 'make')), false); // a static method's parameter
  });

  test('placeKey: one key per attribute of the class instances, per variable otherwise', () => {
    const { semantic, at } = model();
    const key = (s: string, n?: number) => semantic.placeKey(at(s, n));
    const selfParent = key('self.parent');
    assert.ok(selfParent);
    assert.equal(key('this.parent'), selfParent); // another method, another receiver name
    assert.equal(key('self.parent', 1), selfParent); // the property
    assert.notEqual(key('node.parent'), selfParent); // a local, even one bound to the receiver
    assert.notEqual(key('self.parent', 2), selfParent); // a static method's parameter `self`
    assert.notEqual(key('parent.kids'), key('self.parent'));
    assert.equal(key('items.cache'), key('items.cache', 2)); // outer's variable, twice
    assert.notEqual(key('items.cache', 1), key('items.cache')); // inner's parameter
    assert.equal(semantic.placeKey(at('items.cache.pop').childForFieldName('object')!), key('items.cache', 1));
    assert.equal(semantic.attributeKey(at('items', 5), 'cache'), key('items.cache')); // setattr(items, "cache", …)
    assert.equal(semantic.placeKey(at('[parent for parent in range(3)]')), undefined); // not a place
  });
});
