/**
 * MCP tools: what a tool declares (name, description, input schema) and a
 * registry that lists them and runs a call — checking the arguments first,
 * and turning a failure inside the tool into an `isError` result the model
 * can read, as MCP asks.
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
 * console.log(await tools.call("echo", { text: "hi" }));
 * ```
 * @module
 */
import { LunetError } from "../../mod.ts";
import { INVALID_PARAMS, isObject, RpcError } from "./jsonrpc.ts";
import { checkArgs, type ObjectSchema, withDefaults } from "./schema.ts";

/** One block of tool output. */
export interface TextContent {
  /** Always `"text"`. */
  type: "text";
  /** The text. */
  text: string;
}

/** The result of `tools/call`. */
export interface ToolResult {
  /** Output blocks for the model. */
  content: TextContent[];
  /** The same result as data, for clients that read it. */
  structuredContent?: Record<string, unknown>;
  /** True when the tool failed; `content` then says why. */
  isError?: boolean;
}

/** Hints about a tool's behaviour, as MCP defines them. */
export interface ToolAnnotations {
  /** The tool changes nothing. */
  readOnlyHint?: boolean;
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
  /** Behaviour hints. */
  annotations?: ToolAnnotations;
  /** Runs the tool with checked arguments (defaults filled in). */
  call(args: Record<string, unknown>): ToolResult | Promise<ToolResult>;
}

/** What `tools/list` shows of a tool. */
export type ToolDescriptor = Omit<Tool, "call">;

/** A text result. */
export function textResult(text: string, structured?: Record<string, unknown>): ToolResult {
  const result: ToolResult = { content: [{ type: "text", text }] };
  if (structured) result.structuredContent = structured;
  return result;
}

/** A failed result carrying `message` for the model. */
export function errorResult(message: string): ToolResult {
  return { content: [{ type: "text", text: message }], isError: true };
}

/** The set of tools a server offers. */
export class ToolRegistry {
  readonly #tools = new Map<string, Tool>();

  /** @param tools the tools to offer; names must be unique */
  constructor(tools: Iterable<Tool> = []) {
    for (const tool of tools) this.add(tool);
  }

  /** Adds a tool. */
  add(tool: Tool): void {
    if (this.#tools.has(tool.name)) throw new Error(`tool ${tool.name}: defined twice`);
    this.#tools.set(tool.name, tool);
  }

  /** Tool names, in the order they were added. */
  get names(): string[] {
    return [...this.#tools.keys()];
  }

  /** The descriptors `tools/list` returns. */
  list(): ToolDescriptor[] {
    return [...this.#tools.values()].map(({ call: _call, ...descriptor }) => descriptor);
  }

  /**
   * Runs tool `name`. An unknown tool or invalid arguments throw an
   * {@linkcode RpcError} (invalid params); an error thrown by the tool
   * becomes an `isError` result, except a cancellation, which propagates.
   */
  async call(name: unknown, args: unknown): Promise<ToolResult> {
    if (typeof name !== "string") throw new RpcError(INVALID_PARAMS, "name: expected a string");
    const tool = this.#tools.get(name);
    if (!tool) throw new RpcError(INVALID_PARAMS, `Unknown tool: ${name}`);
    if (args !== undefined && !isObject(args)) {
      throw new RpcError(INVALID_PARAMS, "arguments: expected an object");
    }
    const problems = checkArgs(tool.inputSchema, args ?? {});
    if (problems.length) {
      throw new RpcError(INVALID_PARAMS, `Invalid arguments for ${name}: ${problems.join("; ")}`);
    }
    try {
      return await tool.call(withDefaults(tool.inputSchema, args ?? {}));
    } catch (err) {
      if (err instanceof RpcError || (err instanceof LunetError && err.code === "cancelled")) {
        throw err;
      }
      return errorResult(`${name} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
