/**
 * MCP resources: fixed resources (a URI each), resource templates (an RFC
 * 6570 URI template such as `note://{id}`, read by matching the URI), and
 * sources that list resources on demand (the notes). The registry answers
 * `resources/list` (paged), `resources/templates/list`, `resources/read`
 * and the completion of template variables, and tells its listeners when
 * a resource changed or the list did, for `notifications/resources/updated`
 * and `notifications/resources/list_changed`.
 *
 * @example
 * ```ts ignore
 * import { ResourceRegistry } from "./resources.ts";
 * const resources = new ResourceRegistry();
 * resources.add({
 *   uri: "info://hello", name: "hello", mimeType: "text/plain",
 *   read: () => [{ uri: "info://hello", mimeType: "text/plain", text: "hi" }],
 * });
 * console.log(await resources.read("info://hello"));
 * ```
 * @module
 */
import type { Annotations, Icon, ResourceContents } from "./content.ts";
import { RpcError } from "./jsonrpc.ts";

/** `resources/read` of an unknown URI (MCP's "resource not found"). */
export const RESOURCE_NOT_FOUND = -32002;

/** What `resources/list` shows of a resource. */
export interface ResourceInfo {
  /** Its URI. */
  uri: string;
  /** Its name. */
  name: string;
  /** Display title. */
  title?: string;
  /** What it is. */
  description?: string;
  /** Media type. */
  mimeType?: string;
  /** Size in bytes, when known. */
  size?: number;
  /** Annotations. */
  annotations?: Annotations;
  /** Icons. */
  icons?: Icon[];
}

/** A resource with a fixed URI. */
export interface Resource extends ResourceInfo {
  /** Its contents. */
  read(): ResourceContents[] | Promise<ResourceContents[]>;
}

/** Suggests values for one argument from what was typed so far. */
export type Completer = (
  value: string,
  context: Record<string, string>,
) => string[] | Promise<string[]>;

/** A family of resources named by a URI template. */
export interface ResourceTemplate {
  /** RFC 6570 template, simple `{var}` expressions only. */
  uriTemplate: string;
  /** Its name. */
  name: string;
  /** Display title. */
  title?: string;
  /** What they are. */
  description?: string;
  /** Media type. */
  mimeType?: string;
  /** Icons. */
  icons?: Icon[];
  /** Reads the resource `uri`, whose variables matched `vars`; `undefined` when there is none. */
  read(
    uri: string,
    vars: Record<string, string>,
  ): ResourceContents[] | undefined | Promise<ResourceContents[] | undefined>;
  /** Completion of the template's variables. */
  complete?: Record<string, Completer>;
}

/** Lists resources known only at run time (rows of a table, say). */
export type ResourceSource = () => ResourceInfo[] | Promise<ResourceInfo[]>;

/** What a change listener hears. */
export type ResourceChange = { kind: "updated"; uri: string } | { kind: "list" };

/** Resources listed per page of `resources/list`. */
const PAGE = 100;

interface CompiledTemplate {
  template: ResourceTemplate;
  pattern: RegExp;
  names: string[];
}

/** The resources a server offers. */
export class ResourceRegistry {
  readonly #fixed = new Map<string, Resource>();
  readonly #templates: CompiledTemplate[] = [];
  readonly #sources: ResourceSource[] = [];
  readonly #listeners = new Set<(change: ResourceChange) => void>();

  /** Adds a resource with a fixed URI. */
  add(resource: Resource): this {
    if (this.#fixed.has(resource.uri)) throw new Error(`resource ${resource.uri}: defined twice`);
    this.#fixed.set(resource.uri, resource);
    this.changed();
    return this;
  }

  /** Adds a resource template. */
  addTemplate(template: ResourceTemplate): this {
    const names: string[] = [];
    const source = template.uriTemplate.split(/(\{[^}]+\})/).map((part) => {
      const m = part.match(/^\{([A-Za-z0-9_]+)\}$/);
      if (!m) return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      names.push(m[1]);
      return "([^/?#]+)";
    }).join("");
    this.#templates.push({ template, pattern: new RegExp(`^${source}$`), names });
    return this;
  }

  /** Adds a source of listed resources (read through a template). */
  addSource(source: ResourceSource): this {
    this.#sources.push(source);
    return this;
  }

  /** Calls `listener` on every change; returns a function that stops it. */
  onChange(listener: (change: ResourceChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells listeners that resource `uri` changed. */
  updated(uri: string): void {
    for (const listener of this.#listeners) listener({ kind: "updated", uri });
  }

  /** Tells listeners that the list of resources changed. */
  changed(): void {
    for (const listener of this.#listeners) listener({ kind: "list" });
  }

  /** One page of `resources/list`: fixed resources first, then the sources'. */
  async list(cursor?: unknown): Promise<{ resources: ResourceInfo[]; nextCursor?: string }> {
    const start = decodeCursor(cursor);
    const all: ResourceInfo[] = [...this.#fixed.values()].map(({ read: _r, ...info }) => info);
    for (const source of this.#sources) all.push(...await source());
    const resources = all.slice(start, start + PAGE);
    return start + PAGE < all.length
      ? { resources, nextCursor: btoa(String(start + PAGE)) }
      : { resources };
  }

  /** `resources/templates/list`. */
  templates(): Omit<ResourceTemplate, "read" | "complete">[] {
    return this.#templates.map(({ template: { read: _r, complete: _c, ...info } }) => info);
  }

  /** True when `uri` names a fixed resource or matches a template. */
  knows(uri: string): boolean {
    return this.#fixed.has(uri) || this.#templates.some((t) => t.pattern.test(uri));
  }

  /** `resources/read`; an unknown URI throws "resource not found". */
  async read(uri: string): Promise<ResourceContents[]> {
    const fixed = this.#fixed.get(uri);
    if (fixed) return await fixed.read();
    for (const { template, pattern, names } of this.#templates) {
      const m = uri.match(pattern);
      if (!m) continue;
      const vars: Record<string, string> = {};
      names.forEach((name, i) => vars[name] = decodeURIComponent(m[i + 1]));
      const contents = await template.read(uri, vars);
      if (contents) return contents;
    }
    throw new RpcError(RESOURCE_NOT_FOUND, `Resource not found: ${uri}`, { uri });
  }

  /** The completer of variable `name` of the template `uriTemplate`. */
  completer(uriTemplate: string, name: string): Completer | undefined {
    return this.#templates.find((t) => t.template.uriTemplate === uriTemplate)?.template
      .complete?.[name];
  }
}

function decodeCursor(cursor: unknown): number {
  if (cursor === undefined) return 0;
  let n = NaN;
  try {
    n = Number(atob(String(cursor)));
  } catch { /* not base64 */ }
  if (!Number.isInteger(n) || n < 0) throw new RpcError(-32602, "Invalid cursor");
  return n;
}
