// The rules' boundaries (ARCHITECTURE.md, `analysis/semantic/`): a rule never imports another
// rule (shared code lives in cycles.ts, resources.ts or semantic/) and keeps no per-analysis state
// in module-level variables or maps (that belongs in `semantic.memo`).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import ts from 'typescript';

// Compiled to out/test/: the repository root is two levels up.
const ROOT = join(__dirname, '..', '..');
const RULES = join(ROOT, 'server', 'src', 'analysis', 'rules');
const ruleFiles = readdirSync(RULES).filter((f) => f.endsWith('.ts')).map((f) => join(RULES, f));

function parse(path: string): ts.SourceFile {
  return ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
}

/** Every module specifier a file names: imports, re-exports, `require(…)` and `import(…)`. */
function specifiers(file: ts.SourceFile): string[] {
  const out: string[] = [];
  const visit = (n: ts.Node): void => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) out.push(n.moduleSpecifier.text);
    if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference) && ts.isStringLiteral(n.moduleReference.expression)) {
      out.push(n.moduleReference.expression.text);
    }
    if (ts.isCallExpression(n) && n.arguments.length === 1 && ts.isStringLiteral(n.arguments[0])) {
      if (n.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(n.expression) && n.expression.text === 'require')) out.push(n.arguments[0].text);
    }
    ts.forEachChild(n, visit);
  };
  visit(file);
  return out;
}

const MUTATING = new Set(['set', 'add', 'delete', 'clear', 'push', 'pop', 'shift', 'unshift', 'splice', 'sort', 'reverse', 'fill']);
const STATEFUL_CONSTRUCTORS = new Set(['Map', 'WeakMap', 'WeakSet', 'WeakRef']);

/** Module-level state of a file: `let`/`var`, maps, and constants that some code mutates. */
function moduleState(file: ts.SourceFile): string[] {
  const problems: string[] = [];
  const constants = new Map<string, ts.Node>();
  for (const stmt of file.statements) {
    if (!ts.isVariableStatement(stmt)) continue;
    const isConst = (stmt.declarationList.flags & ts.NodeFlags.Const) !== 0;
    for (const d of stmt.declarationList.declarations) {
      const name = d.name.getText(file);
      const line = file.getLineAndCharacterOfPosition(d.getStart(file)).line + 1;
      if (!isConst) {
        problems.push(`line ${line}: module-level \`let\`/\`var\` ${name}`);
        continue;
      }
      let init = d.initializer;
      while (init && (ts.isAsExpression(init) || ts.isParenthesizedExpression(init) || ts.isSatisfiesExpression(init))) init = init.expression;
      if (init && ts.isNewExpression(init) && ts.isIdentifier(init.expression) && STATEFUL_CONSTRUCTORS.has(init.expression.text)) {
        problems.push(`line ${line}: module-level \`new ${init.expression.text}\` ${name}`);
        continue;
      }
      if (ts.isIdentifier(d.name)) constants.set(d.name.text, d);
    }
  }
  // A module-level constant that code mutates (`CACHE.set(…)`, `SEEN.add(…)`, `X.length = 0`) is state too.
  const visit = (n: ts.Node): void => {
    if (ts.isPropertyAccessExpression(n) && ts.isIdentifier(n.expression) && constants.has(n.expression.text)) {
      const call = n.parent;
      const member = n.name.text;
      const line = file.getLineAndCharacterOfPosition(n.getStart(file)).line + 1;
      if (ts.isCallExpression(call) && call.expression === n && MUTATING.has(member)) problems.push(`line ${line}: \`${n.getText(file)}(…)\` mutates a module-level constant`);
      if (ts.isBinaryExpression(call) && call.left === n && call.operatorToken.kind === ts.SyntaxKind.EqualsToken) problems.push(`line ${line}: assigns \`${n.getText(file)}\``);
    }
    ts.forEachChild(n, visit);
  };
  visit(file);
  return problems;
}

describe('rule files', () => {
  test('the rule directory is where the test looks', () => {
    assert.ok(ruleFiles.length >= 13, `only ${ruleFiles.length} rule files under ${RULES}`);
  });

  test('no rule imports another rule', () => {
    const problems: string[] = [];
    for (const path of ruleFiles) {
      for (const spec of specifiers(parse(path))) {
        if (!spec.startsWith('.')) continue;
        const target = resolve(dirname(path), spec);
        if (dirname(target) === RULES || relative(RULES, target).split(/[\\/]/)[0] !== '..') {
          problems.push(`${relative(ROOT, path)} imports ${spec}`);
        }
      }
    }
    assert.deepEqual(problems, [], 'shared code belongs in cycles.ts, resources.ts or semantic/, not in another rule');
  });

  test('the import check sees every form of import', () => {
    const file = ts.createSourceFile(
      'x.ts',
      "import a from './LL1';\nexport { b } from './LL2';\nimport c = require('./LL3');\nconst d = require('./LL4');\nvoid import('./LL5');\n",
      ts.ScriptTarget.Latest,
      true,
    );
    assert.deepEqual(specifiers(file), ['./LL1', './LL2', './LL3', './LL4', './LL5']);
  });

  test('no rule keeps state in module-level variables or maps', () => {
    const problems = ruleFiles.flatMap((path) => moduleState(parse(path)).map((p) => `${relative(ROOT, path)} ${p}`));
    assert.deepEqual(problems, [], 'per-analysis state belongs in `context.semantic.memo`');
  });

  test('the state check sees let, maps and mutated constants', () => {
    const file = ts.createSourceFile(
      'x.ts',
      'let a = 1;\nconst B = new WeakMap();\nconst C = new Set([1]);\nconst D = new Set([2]);\nfunction f() { C.add(3); return D.has(2); }\n',
      ts.ScriptTarget.Latest,
      true,
    );
    assert.equal(moduleState(file).length, 3, moduleState(file).join('\n'));
  });
});
