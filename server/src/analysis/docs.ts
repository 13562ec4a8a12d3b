// Renders a rule's documentation (one source: the rule file) as terminal text or Markdown.
import { onByDefault } from './registry';
import type { Rule } from './types';

const SECTIONS: Array<[keyof Rule['docs'], string]> = [
  ['whatItDoes', 'What it does'],
  ['whyLeak', 'Why is this a leak?'],
  ['example', 'Example'],
  ['useInstead', 'Use instead'],
  ['fixSafety', 'Fix safety'],
  ['options', 'Options'],
  ['references', 'References'],
];

function body(rule: Rule, key: keyof Rule['docs'], markdown: boolean): string {
  const value = rule.docs[key];
  if (Array.isArray(value)) return value.map((r) => `- ${r}`).join('\n');
  if (key === 'example' || key === 'useInstead') {
    return markdown ? '```python\n' + value.replace(/\n$/, '') + '\n```' : value.replace(/\n$/, '').replace(/^/gm, '    ');
  }
  return value as string;
}

function defaultLine(rule: Rule): string {
  return onByDefault(rule.code) ? 'on by default' : `off by default (enable with select = ["${rule.code}"] or extend-select)`;
}

export function renderMarkdown(rule: Rule): string {
  const head = `# ${rule.code} ${rule.name}\n\n${rule.docs.summary}\n\nCategory: ${rule.category} · default severity: ${rule.defaultSeverity} · ${defaultLine(rule)}\n`;
  return head + SECTIONS.map(([key, title]) => `\n## ${title}\n\n${body(rule, key, true)}\n`).join('');
}

export function renderText(rule: Rule): string {
  const head = `${rule.code} ${rule.name}\n${rule.docs.summary}\nCategory: ${rule.category}; default severity: ${rule.defaultSeverity}; ${defaultLine(rule)}\n`;
  return head + SECTIONS.map(([key, title]) => `\n${title}\n${body(rule, key, false)}\n`).join('');
}

export { SECTIONS as DOC_SECTIONS };
