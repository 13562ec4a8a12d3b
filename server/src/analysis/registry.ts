// Every rule, in code order. Adding a rule: its file under rules/, one line here, its fixtures.
import type { Rule } from './types';
import { rule as LL101 } from './rules/LL101-unclosed-resource';
import { rule as LL201 } from './rules/LL201-mutable-default-argument';

export const RULES: readonly Rule[] = [LL101, LL201];

export function findRule(code: string): Rule | undefined {
  const wanted = code.toUpperCase();
  return RULES.find((r) => r.code === wanted || r.name === code.toLowerCase());
}
