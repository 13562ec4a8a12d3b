// A small JSON Schema checker for the subset our schemas use (draft 2020-12 keywords: type,
// const, enum, required, properties, additionalProperties, items, minimum, maxProperties, anyOf,
// $ref to #/$defs/...). Returns every problem with its JSON path; unknown keywords are refused so
// that a schema cannot silently rely on something this checker ignores.

type Schema = Record<string, unknown>;

const KNOWN = new Set([
  '$schema', '$id', 'title', 'description', '$defs',
  'type', 'const', 'enum', 'required', 'properties', 'additionalProperties', 'items', 'minimum', 'maxProperties', 'anyOf', '$ref',
]);

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function matchesType(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  return actual === type || (type === 'number' && actual === 'integer');
}

export function validateSchema(root: Schema, value: unknown): string[] {
  const problems: string[] = [];
  const resolve = (ref: string): Schema => {
    const match = /^#\/\$defs\/(.+)$/.exec(ref);
    const defs = root.$defs as Record<string, Schema> | undefined;
    const target = match && defs ? defs[match[1]] : undefined;
    if (!target) throw new Error(`schema: cannot resolve ${ref}`);
    return target;
  };
  const check = (schema: Schema, data: unknown, path: string, out: string[]): void => {
    for (const key of Object.keys(schema)) if (!KNOWN.has(key)) throw new Error(`schema: keyword ${key} at ${path} is not supported by this checker`);
    if (typeof schema.$ref === 'string') check(resolve(schema.$ref), data, path, out);
    if ('const' in schema && JSON.stringify(schema.const) !== JSON.stringify(data)) out.push(`${path}: expected ${JSON.stringify(schema.const)}, got ${JSON.stringify(data)}`);
    if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(data))) {
      out.push(`${path}: ${JSON.stringify(data)} is not one of ${JSON.stringify(schema.enum)}`);
    }
    if (schema.type !== undefined) {
      const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
      if (!types.some((t) => matchesType(data, t))) {
        out.push(`${path}: expected ${types.join(' or ')}, got ${typeOf(data)}`);
        return;
      }
    }
    if (typeof schema.minimum === 'number' && typeof data === 'number' && data < schema.minimum) out.push(`${path}: ${data} < minimum ${schema.minimum}`);
    if (Array.isArray(schema.anyOf)) {
      const attempts = (schema.anyOf as Schema[]).map((option) => {
        const sub: string[] = [];
        check(option, data, path, sub);
        return sub;
      });
      if (!attempts.some((a) => a.length === 0)) {
        const best = attempts.reduce((a, b) => (b.length < a.length ? b : a));
        out.push(`${path}: matches none of the anyOf options; closest: ${best.join('; ')}`);
      }
    }
    if (typeOf(data) === 'object') {
      const object = data as Record<string, unknown>;
      if (typeof schema.maxProperties === 'number' && Object.keys(object).length > schema.maxProperties) out.push(`${path}: more than ${schema.maxProperties} properties`);
      for (const key of (schema.required as string[] | undefined) ?? []) if (!(key in object)) out.push(`${path}: missing required "${key}"`);
      const properties = (schema.properties as Record<string, Schema> | undefined) ?? {};
      for (const [key, item] of Object.entries(object)) {
        if (properties[key]) check(properties[key], item, `${path}.${key}`, out);
        else if (schema.additionalProperties === false) out.push(`${path}: unexpected property "${key}"`);
        else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') check(schema.additionalProperties as Schema, item, `${path}.${key}`, out);
      }
    }
    if (Array.isArray(data) && schema.items && typeof schema.items === 'object') {
      data.forEach((item, i) => check(schema.items as Schema, item, `${path}[${i}]`, out));
    }
  };
  check(root, value, '$', problems);
  return problems;
}
