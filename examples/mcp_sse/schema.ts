/**
 * The small JSON Schema subset the tools declare their inputs in, and a
 * checker for it: object properties of type string, integer, number,
 * boolean, object or array, `required`, `enum`, length and range bounds,
 * and `additionalProperties: false`. Other keywords (`$schema`, `$defs`,
 * `$ref`, `items`, …) are kept as written and passed to clients, but not
 * checked here.
 *
 * @example
 * ```ts ignore
 * import { checkArgs, type ObjectSchema } from "./schema.ts";
 * const schema: ObjectSchema = {
 *   type: "object",
 *   properties: { q: { type: "string", minLength: 1 } },
 *   required: ["q"],
 * };
 * console.log(checkArgs(schema, { q: "" })); // ["q: shorter than 1 characters"]
 * ```
 * @module
 */

/** One property's schema. */
export interface PropertySchema {
  /** JSON type; without one (a `$ref`, say) the value is not checked. */
  type?: "string" | "integer" | "number" | "boolean" | "object" | "array";
  /** Human description shown to the model. */
  description?: string;
  /** Allowed values. */
  enum?: readonly (string | number)[];
  /** Shortest string. */
  minLength?: number;
  /** Longest string. */
  maxLength?: number;
  /** Smallest number. */
  minimum?: number;
  /** Largest number. */
  maximum?: number;
  /** Value used when the property is absent. */
  default?: string | number | boolean;
  /** Other JSON Schema keywords, passed through. */
  [keyword: string]: unknown;
}

/** A tool's input schema: always an object. */
export interface ObjectSchema {
  /** Always `"object"`. */
  type: "object";
  /** The properties. */
  properties: Record<string, PropertySchema>;
  /** Names that must be present. */
  required?: readonly string[];
  /** `false` refuses names not listed in `properties`. */
  additionalProperties?: boolean;
  /** Other JSON Schema keywords (`$schema`, `$defs`, …), passed through. */
  [keyword: string]: unknown;
}

/** Checks `args` against `schema`; returns the problems found (empty when valid). */
export function checkArgs(schema: ObjectSchema, args: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const name of schema.required ?? []) {
    if (args[name] === undefined) problems.push(`${name}: required`);
  }
  for (const [name, value] of Object.entries(args)) {
    const prop = schema.properties[name];
    if (!prop) {
      if (schema.additionalProperties === false) problems.push(`${name}: unknown argument`);
      continue;
    }
    if (value === undefined) continue;
    const problem = checkValue(prop, value);
    if (problem) problems.push(`${name}: ${problem}`);
  }
  return problems;
}

/** `args` with the schema's defaults filled in for absent properties. */
export function withDefaults(
  schema: ObjectSchema,
  args: Record<string, unknown>,
): Record<string, unknown> {
  const out = { ...args };
  for (const [name, prop] of Object.entries(schema.properties)) {
    if (out[name] === undefined && prop.default !== undefined) out[name] = prop.default;
  }
  return out;
}

function checkValue(prop: PropertySchema, value: unknown): string | undefined {
  switch (prop.type) {
    case "string":
      if (typeof value !== "string") return "expected a string";
      if (prop.minLength !== undefined && value.length < prop.minLength) {
        return `shorter than ${prop.minLength} characters`;
      }
      if (prop.maxLength !== undefined && value.length > prop.maxLength) {
        return `longer than ${prop.maxLength} characters`;
      }
      break;
    case "integer":
    case "number":
      if (typeof value !== "number" || !Number.isFinite(value)) return `expected a ${prop.type}`;
      if (prop.type === "integer" && !Number.isInteger(value)) return "expected an integer";
      if (prop.minimum !== undefined && value < prop.minimum) return `less than ${prop.minimum}`;
      if (prop.maximum !== undefined && value > prop.maximum) return `more than ${prop.maximum}`;
      break;
    case "boolean":
      if (typeof value !== "boolean") return "expected a boolean";
      break;
    case "object":
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        return "expected an object";
      }
      break;
    case "array":
      if (!Array.isArray(value)) return "expected an array";
      break;
  }
  if (prop.enum && !prop.enum.includes(value as string | number)) {
    return `expected one of ${prop.enum.join(", ")}`;
  }
  return undefined;
}
