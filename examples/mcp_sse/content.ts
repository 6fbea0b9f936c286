/**
 * MCP content blocks — text, image, audio, a link to a resource, an
 * embedded resource — with their annotations, and the icons servers,
 * tools, prompts and resources may carry.
 *
 * @example
 * ```ts ignore
 * import { image, text } from "./content.ts";
 * const blocks = [text("a chart:"), image(pngBase64, "image/png")];
 * ```
 * @module
 */

/** Who a block is for and how much it matters. */
export interface Annotations {
  /** Intended readers. */
  audience?: ("user" | "assistant")[];
  /** 0 (least) to 1 (most important). */
  priority?: number;
  /** ISO 8601 time of the last change. */
  lastModified?: string;
}

/** An icon (2025-11-25): an image URL (`data:` URLs included). */
export interface Icon {
  /** Image URL. */
  src: string;
  /** Its media type. */
  mimeType?: string;
  /** Sizes such as `"48x48"` or `"any"`. */
  sizes?: string[];
  /** For a light or a dark background. */
  theme?: "light" | "dark";
}

/** Text for the model. */
export interface TextContent {
  /** Always `"text"`. */
  type: "text";
  /** The text. */
  text: string;
  /** Annotations. */
  annotations?: Annotations;
}

/** An image or a sound, base64-encoded. */
export interface MediaContent {
  /** `"image"` or `"audio"`. */
  type: "image" | "audio";
  /** Base64 data. */
  data: string;
  /** Media type. */
  mimeType: string;
  /** Annotations. */
  annotations?: Annotations;
}

/** The contents of a resource: text or base64 bytes. */
export interface ResourceContents {
  /** The resource URI. */
  uri: string;
  /** Media type. */
  mimeType?: string;
  /** Text contents. */
  text?: string;
  /** Base64 contents. */
  blob?: string;
  /** Annotations. */
  annotations?: Annotations;
  /** Extra metadata. */
  _meta?: Record<string, unknown>;
}

/** A resource carried inside a result. */
export interface EmbeddedResource {
  /** Always `"resource"`. */
  type: "resource";
  /** Its contents. */
  resource: ResourceContents;
  /** Annotations. */
  annotations?: Annotations;
}

/** A link to a resource the client may read (2025-06-18). */
export interface ResourceLink {
  /** Always `"resource_link"`. */
  type: "resource_link";
  /** The resource URI. */
  uri: string;
  /** Its name. */
  name: string;
  /** Display title. */
  title?: string;
  /** What it is. */
  description?: string;
  /** Media type. */
  mimeType?: string;
  /** Annotations. */
  annotations?: Annotations;
}

/** Any content block. */
export type Content = TextContent | MediaContent | EmbeddedResource | ResourceLink;

/** A text block. */
export function text(value: string, annotations?: Annotations): TextContent {
  return annotations ? { type: "text", text: value, annotations } : { type: "text", text: value };
}

/** An image block. */
export function image(data: string, mimeType: string): MediaContent {
  return { type: "image", data, mimeType };
}

/** An audio block. */
export function audio(data: string, mimeType: string): MediaContent {
  return { type: "audio", data, mimeType };
}

/** An embedded text resource. */
export function embedded(uri: string, mimeType: string, value: string): EmbeddedResource {
  return { type: "resource", resource: { uri, mimeType, text: value } };
}

/** Base64 of bytes. */
export function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** The server's icon: an SVG, as a `data:` URL. */
export const LUNET_ICON: Icon = {
  src: "data:image/svg+xml;base64," +
    btoa(
      '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 48 48">' +
        '<circle cx="24" cy="24" r="20" fill="#1d3557"/>' +
        '<circle cx="30" cy="20" r="14" fill="#f1faee"/></svg>',
    ),
  mimeType: "image/svg+xml",
  sizes: ["any"],
};
