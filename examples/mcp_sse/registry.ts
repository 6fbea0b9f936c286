/**
 * MCP tools: what a tool declares (name, title, description, input and
 * output schemas, annotations, icons) and a registry that lists them and
 * runs a call — checking the arguments first and turning bad arguments or
 * a failure inside the tool into an `isError` result the model can read
 * and correct (SEP-1303); only an unknown tool is a JSON-RPC error. A tool
 * with an output schema returns `structuredContent`, which also goes out
 * serialized as a text block for clients that read only text.
 *
 * @example
 * ```ts ignore
 * import { textResult, ToolRegistry } from "./registry.ts";
 * const tools = new ToolRegistry([{
 *   name: "echo",
 *   description: "Returns its input.",
 *   inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
 *   call: (args) => textResult(String(args.text)),
 * }]);
 * console.log(await tools.call("echo", { text: "hi" }, ctx));
 * ```
 * @module
 */
import { LunetError } from "../../mod.ts";
import type { Content, Icon } from "./content.ts";
import { type CallContext, CapabilityError } from "./context.ts";
import { INVALID_PARAMS, isObject, RpcError } from "./jsonrpc.ts";
import { InputRequired } from "./mrtr.ts";
import { checkArgs, type ObjectSchema, withDefaults } from "./schema.ts";

/** The result of `tools/call`. */
export interface ToolResult {
  /** Output blocks for the model. */
  content: Content[];
  /** The same result as data, matching the tool's output schema. */
  structuredContent?: Record<string, unknown>;
  /** True when the tool failed; `content` then says why. */
  isError?: boolean;
  /** Extra metadata. */
  _meta?: Record<string, unknown>;
}

/** Hints about a tool's behaviour, as MCP defines them. */
export interface ToolAnnotations {
  /** Display title. */
  title?: string;
  /** The tool changes nothing. */
  readOnlyHint?: boolean;
  /** The tool may delete or overwrite. */
  destructiveHint?: boolean;
  /** The tool reaches outside systems. */
  openWorldHint?: boolean;
  /** Calling again with the same arguments has no further effect. */
  idempotentHint?: boolean;
}

/** A tool the server offers. */
export interface Tool {
  /** Unique name, the one `tools/call` uses. */
  name: string;
  /** Short display title. */
  title?: string;
  /** What it does, for the model. */
  description: string;
  /** Its arguments. */
  inputSchema: ObjectSchema;
  /** The shape of its `structuredContent`. */
  outputSchema?: ObjectSchema;
  /** Behaviour hints. */
  annotations?: ToolAnnotations;
  /** Icons. */
  icons?: Icon[];
  /** Extra metadata. */
  _meta?: Record<string, unknown>;
  /** Runs the tool with checked arguments (defaults filled in). */
  call(args: Record<string, unknown>, ctx: CallContext): ToolResult | Promise<ToolResult>;
}

/** What `tools/list` shows of a tool. */
export type ToolDescriptor = Omit<Tool, "call">;

/** A text result, with structured data when the tool declares an output schema. */
export function textResult(text: string, structured?: Record<string, unknown>): ToolResult {
  const result: ToolResult = { content: [{ type: "text", text }] };
  if (structured) result.structuredContent = structured;
  return result;
}

/** A failed result carrying `message` for the model. */
export function errorResult(message: string): ToolResult {
  return { content: [{ type: "text", text: message }], isError: true };
}

/** The set of tools a server offers; tells its listeners when the set changes. */
export class ToolRegistry {
  readonly #tools = new Map<string, Tool>();
  readonly #listeners = new Set<() => void>();
  #listed: ToolDescriptor[] | undefined;

  /** @param tools the tools to offer; names must be unique */
  constructor(tools: Iterable<Tool> = []) {
    for (const tool of tools) this.add(tool);
  }

  /** Adds a tool (listeners hear of it). */
  add(tool: Tool): void {
    if (this.#tools.has(tool.name)) throw new Error(`tool ${tool.name}: defined twice`);
    this.#tools.set(tool.name, tool);
    this.#changed();
  }

  /** Removes a tool; false when there was none. */
  remove(name: string): boolean {
    if (!this.#tools.delete(name)) return false;
    this.#changed();
    return true;
  }

  /** Calls `listener` after every change of the set; returns a function that stops it. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tool names, in the order they were added. */
  get names(): string[] {
    return [...this.#tools.keys()];
  }

  /** The descriptors `tools/list` returns. */
  list(): ToolDescriptor[] {
    return this.#listed ??= [...this.#tools.values()].map(({ call: _call, ...d }) => d);
  }

  /**
   * Runs tool `name`. An unknown tool throws an {@linkcode RpcError}
   * (invalid params); invalid arguments and an error thrown by the tool
   * become `isError` results, except a cancellation and, on the stateless
   * revision, a question for the client ({@linkcode InputRequired}) or a
   * capability the client lacks, which propagate.
   */
  async call(name: unknown, args: unknown, ctx: CallContext): Promise<ToolResult> {
    if (typeof name !== "string") throw new RpcError(INVALID_PARAMS, "name: expected a string");
    const tool = this.#tools.get(name);
    if (!tool) throw new RpcError(INVALID_PARAMS, `Unknown tool: ${name}`);
    if (args !== undefined && !isObject(args)) {
      return errorResult(`Invalid arguments for ${name}: arguments must be an object`);
    }
    const problems = checkArgs(tool.inputSchema, args ?? {});
    if (problems.length) {
      return errorResult(`Invalid arguments for ${name}: ${problems.join("; ")}`);
    }
    let result: ToolResult;
    try {
      result = await tool.call(withDefaults(tool.inputSchema, args ?? {}), ctx);
    } catch (err) {
      if (
        err instanceof RpcError || err instanceof InputRequired ||
        (err instanceof LunetError && err.code === "cancelled") ||
        (err instanceof CapabilityError && ctx.stateless)
      ) {
        throw err;
      }
      return errorResult(`${name} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    const data = result.structuredContent;
    if (data !== undefined && !result.isError && tool.outputSchema) {
      const json = JSON.stringify(data);
      if (!result.content.some((c) => c.type === "text" && c.text === json)) {
        result = { ...result, content: [...result.content, { type: "text", text: json }] };
      }
    }
    return result;
  }

  #changed(): void {
    this.#listed = undefined;
    for (const listener of this.#listeners) listener();
  }
}
