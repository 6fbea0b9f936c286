/**
 * MCP prompts: message templates with arguments the user fills in
 * (`prompts/list`, `prompts/get`), whose messages may carry text, images
 * and embedded resources, with completion of their arguments
 * (`completion/complete`).
 *
 * @example
 * ```ts ignore
 * import { PromptRegistry } from "./prompts.ts";
 * const prompts = new PromptRegistry().add({
 *   name: "greet",
 *   description: "Says hello.",
 *   arguments: [{ name: "who", required: true }],
 *   get: (args) => ({ messages: [{ role: "user", content: { type: "text", text: `Hi ${args.who}` } }] }),
 * });
 * console.log(await prompts.get("greet", { who: "Ada" }, ctx));
 * ```
 * @module
 */
import type { Content, Icon } from "./content.ts";
import type { CallContext } from "./context.ts";
import { INVALID_PARAMS, isObject, RpcError } from "./jsonrpc.ts";
import type { Completer } from "./resources.ts";

/** One argument of a prompt. */
export interface PromptArgument {
  /** Its name. */
  name: string;
  /** Display title. */
  title?: string;
  /** What it is. */
  description?: string;
  /** Must be given. */
  required?: boolean;
}

/** One message of a prompt. */
export interface PromptMessage {
  /** Who says it. */
  role: "user" | "assistant";
  /** What is said. */
  content: Content;
}

/** The result of `prompts/get`. */
export interface PromptResult {
  /** A description of this instance. */
  description?: string;
  /** The messages. */
  messages: PromptMessage[];
}

/** A prompt the server offers. */
export interface Prompt {
  /** Unique name. */
  name: string;
  /** Display title. */
  title?: string;
  /** What it is for. */
  description?: string;
  /** Its arguments. */
  arguments?: PromptArgument[];
  /** Icons. */
  icons?: Icon[];
  /** The messages for `args` (every required argument present, all strings). */
  get(args: Record<string, string>, ctx: CallContext): PromptResult | Promise<PromptResult>;
  /** Completion of its arguments. */
  complete?: Record<string, Completer>;
}

/** The prompts a server offers; tells its listeners when the set changes. */
export class PromptRegistry {
  readonly #prompts = new Map<string, Prompt>();
  readonly #listeners = new Set<() => void>();

  /** Adds a prompt. */
  add(prompt: Prompt): this {
    if (this.#prompts.has(prompt.name)) throw new Error(`prompt ${prompt.name}: defined twice`);
    this.#prompts.set(prompt.name, prompt);
    for (const listener of this.#listeners) listener();
    return this;
  }

  /** Calls `listener` after every change; returns a function that stops it. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** `prompts/list`. */
  list(): Omit<Prompt, "get" | "complete">[] {
    return [...this.#prompts.values()].map(({ get: _g, complete: _c, ...info }) => info);
  }

  /** `prompts/get`: an unknown prompt or a missing argument is an invalid-params error. */
  async get(name: unknown, args: unknown, ctx: CallContext): Promise<PromptResult> {
    const prompt = typeof name === "string" ? this.#prompts.get(name) : undefined;
    if (!prompt) throw new RpcError(INVALID_PARAMS, `Unknown prompt: ${String(name)}`);
    if (args !== undefined && !isObject(args)) {
      throw new RpcError(INVALID_PARAMS, "arguments: expected an object");
    }
    const given: Record<string, string> = {};
    for (const [key, value] of Object.entries(args ?? {})) {
      if (typeof value !== "string") {
        throw new RpcError(INVALID_PARAMS, `${key}: expected a string`);
      }
      given[key] = value;
    }
    const missing = (prompt.arguments ?? []).filter((a) => a.required && !(a.name in given));
    if (missing.length) {
      throw new RpcError(
        INVALID_PARAMS,
        `Missing arguments for ${prompt.name}: ${missing.map((a) => a.name).join(", ")}`,
      );
    }
    return await prompt.get(given, ctx);
  }

  /** The completer of argument `arg` of prompt `name`; throws for an unknown prompt. */
  completer(name: string, arg: string): Completer | undefined {
    const prompt = this.#prompts.get(name);
    if (!prompt) throw new RpcError(INVALID_PARAMS, `Unknown prompt: ${name}`);
    return prompt.complete?.[arg];
  }
}
