// The depth guard: how deeply a syntax tree nests, measured on the tree itself (brackets inside
// strings and comments do not count; operator, call and attribute chains do).
import type { Node } from 'web-tree-sitter';

/**
 * True when some node lies more than `limit` levels below `node`. A subtree of c nodes is at most
 * c - 1 levels deep, so only subtrees big enough to go past the limit are entered: on ordinary
 * code that is the root's children and the children of a few big classes, not every node.
 */
export function depthExceeds(node: Node, limit: number): boolean {
  if (node.descendantCount - 1 <= limit) return false;
  const cursor = node.walk();
  try {
    if (!cursor.gotoFirstChild()) return false;
    let depth = 1;
    for (;;) {
      if (depth > limit) return true;
      if (depth + cursor.currentNode.descendantCount - 1 > limit && cursor.gotoFirstChild()) {
        depth++;
        continue;
      }
      while (!cursor.gotoNextSibling()) {
        if (!cursor.gotoParent()) return false;
        if (--depth === 0) return false;
      }
    }
  } finally {
    cursor.delete();
  }
}

/**
 * True when blocks (the bodies of compound statements) nest more than `limit` deep below `node`.
 * Python's tokenizer refuses more than 100 levels of indentation, which tree-sitter accepts. Each
 * further level takes at least two more nodes (a statement and its block), so a subtree too
 * small to reach the limit is not entered.
 */
export function blocksNestDeeper(node: Node, limit: number): boolean {
  const cursor = node.walk();
  try {
    if (!cursor.gotoFirstChild()) return false;
    const outer: number[] = [];
    let blocks = 0;
    for (;;) {
      const current = cursor.currentNode;
      const here = blocks + (current.type === 'block' ? 1 : 0);
      if (here > limit) return true;
      if (current.descendantCount > 2 * (limit - here) && cursor.gotoFirstChild()) {
        outer.push(blocks);
        blocks = here;
        continue;
      }
      while (!cursor.gotoNextSibling()) {
        if (!cursor.gotoParent() || outer.length === 0) return false;
        blocks = outer.pop()!;
      }
    }
  } finally {
    cursor.delete();
  }
}
