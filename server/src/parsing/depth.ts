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
