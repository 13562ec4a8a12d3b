// Every rule, in code order. Adding a rule: its file under rules/, one line here, its fixtures.
import type { Rule } from './types';
import { rule as LL101 } from './rules/LL101-unclosed-resource';
import { rule as LL201 } from './rules/LL201-mutable-default-argument';
import { rule as LL302 } from './rules/LL302-method-cache';
import { rule as LL303 } from './rules/LL303-unbounded-module-cache';

export const RULES: readonly Rule[] = [LL101, LL201, LL302, LL303];

export function findRule(code: string): Rule | undefined {
  const wanted = code.toUpperCase();
  return RULES.find((r) => r.code === wanted || r.name === code.toLowerCase());
}
