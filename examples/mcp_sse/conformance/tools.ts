/**
 * The tools the official MCP conformance suite calls by name
 * (`npm:@modelcontextprotocol/conformance`, `server` scenarios), offered
 * beside the real ones when the server runs with `MCP_CONFORMANCE=1`.
 * Each does what its scenario checks, through the same machinery the real
 * tools use: content blocks, progress, logging, sampling, elicitation and
 * a stream the server closes mid-call (SEP-1699).
 *
 * @example
 * ```ts ignore
 * import { conformanceTools } from "./tools.ts";
 * for (const tool of conformanceTools()) registry.add(tool);
 * ```
 * @module
 */
import { sleep } from "../../../mod.ts";
import { audio, embedded, image, text } from "../content.ts";
import type { Tool, ToolResult } from "../registry.ts";
import type { ObjectSchema } from "../schema.ts";

/** A 1×1 red PNG. */
export const TEST_IMAGE_BASE64 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
/** A minimal WAV file. */
export const TEST_AUDIO_BASE64 = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";

const NONE: ObjectSchema = { type: "object", properties: {} };

function fixed(name: string, description: string, result: ToolResult): Tool {
  return { name, description, inputSchema: NONE, call: () => result };
}

const DEFAULTS_FORM = {
  type: "object",
  properties: {
    name: { type: "string", description: "User name", default: "John Doe" },
    age: { type: "integer", description: "User age", default: 30 },
    score: { type: "number", description: "User score", default: 95.5 },
    status: {
      type: "string",
      description: "User status",
      enum: ["active", "inactive", "pending"],
      default: "active",
    },
    verified: { type: "boolean", description: "Verification status", default: true },
  },
  required: [],
};

const ENUMS_FORM = {
  type: "object",
  properties: {
    untitledSingle: {
      type: "string",
      description: "Select one option",
      enum: ["option1", "option2", "option3"],
    },
    titledSingle: {
      type: "string",
      description: "Select one option with titles",
      oneOf: [
        { const: "value1", title: "First Option" },
        { const: "value2", title: "Second Option" },
        { const: "value3", title: "Third Option" },
      ],
    },
    legacyEnum: {
      type: "string",
      description: "Select one option (legacy)",
      enum: ["opt1", "opt2", "opt3"],
      enumNames: ["Option One", "Option Two", "Option Three"],
    },
    untitledMulti: {
      type: "array",
      description: "Select multiple options",
      minItems: 1,
      maxItems: 3,
      items: { type: "string", enum: ["option1", "option2", "option3"] },
    },
    titledMulti: {
      type: "array",
      description: "Select multiple options with titles",
      minItems: 1,
      maxItems: 3,
      items: {
        anyOf: [
          { const: "value1", title: "First Choice" },
          { const: "value2", title: "Second Choice" },
          { const: "value3", title: "Third Choice" },
        ],
      },
    },
  },
  required: [],
};

/** The conformance suite's tools. */
export function conformanceTools(): Tool[] {
  return [
    fixed("test_simple_text", "Tests simple text content response", {
      content: [text("This is a simple text response for testing.")],
    }),
    fixed("test_image_content", "Tests image content response", {
      content: [image(TEST_IMAGE_BASE64, "image/png")],
    }),
    fixed("test_audio_content", "Tests audio content response", {
      content: [audio(TEST_AUDIO_BASE64, "audio/wav")],
    }),
    fixed("test_embedded_resource", "Tests embedded resource content response", {
      content: [
        embedded("test://embedded-resource", "text/plain", "This is an embedded resource content."),
      ],
    }),
    fixed(
      "test_multiple_content_types",
      "Tests response with multiple content types (text, image, resource)",
      {
        content: [
          text("Multiple content types test:"),
          image(TEST_IMAGE_BASE64, "image/png"),
          embedded(
            "test://mixed-content-resource",
            "application/json",
            JSON.stringify({ test: "data", value: 123 }),
          ),
        ],
      },
    ),
    {
      name: "test_tool_with_logging",
      description: "Tests tool that emits log messages during execution",
      inputSchema: NONE,
      async call(_args, ctx) {
        await ctx.log("info", "Tool execution started");
        await sleep(50);
        await ctx.log("info", "Tool processing data");
        await sleep(50);
        await ctx.log("info", "Tool execution completed");
        return { content: [text("Tool with logging executed successfully")] };
      },
    },
    {
      name: "test_tool_with_progress",
      description: "Tests tool that reports progress notifications",
      inputSchema: NONE,
      async call(_args, ctx) {
        for (const step of [0, 50, 100]) {
          await ctx.progress(step, 100, `Completed step ${step} of 100`);
          if (step < 100) await sleep(50);
        }
        return { content: [text("Progress reported")] };
      },
    },
    {
      name: "test_error_handling",
      description: "Tests error response handling",
      inputSchema: NONE,
      call() {
        throw new Error("This tool intentionally returns an error for testing");
      },
    },
    {
      name: "test_reconnection",
      description:
        "Tests SSE stream disconnection and client reconnection (SEP-1699): the server closes the stream mid-call and sends the result after the client reconnects.",
      inputSchema: NONE,
      async call(_args, ctx) {
        ctx.closeStream();
        await sleep(100);
        return {
          content: [
            text(
              "Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure.",
            ),
          ],
        };
      },
    },
    {
      name: "test_sampling",
      description: "Tests server-initiated sampling (LLM completion request)",
      inputSchema: {
        type: "object",
        properties: { prompt: { type: "string", description: "The prompt to send to the LLM" } },
        required: ["prompt"],
      },
      async call(args, ctx) {
        const result = await ctx.sample({
          messages: [{ role: "user", content: { type: "text", text: args.prompt } }],
          maxTokens: 100,
        }) as { content?: { text?: string } };
        return { content: [text(`LLM response: ${result.content?.text ?? "No response"}`)] };
      },
    },
    {
      name: "test_elicitation",
      description: "Tests server-initiated elicitation (user input request)",
      inputSchema: {
        type: "object",
        properties: { message: { type: "string", description: "The message to show the user" } },
        required: ["message"],
      },
      async call(args, ctx) {
        const result = await ctx.elicit({
          message: args.message as string,
          requestedSchema: {
            type: "object",
            properties: { response: { type: "string", description: "User's response" } },
            required: ["response"],
          },
        });
        return {
          content: [
            text(
              `User response: action=${result.action}, content=${
                JSON.stringify(result.content ?? {})
              }`,
            ),
          ],
        };
      },
    },
    elicitTool(
      "test_elicitation_sep1034_defaults",
      "Tests elicitation with default values per SEP-1034",
      "Please review and update the form fields with defaults",
      DEFAULTS_FORM,
    ),
    elicitTool(
      "test_elicitation_sep1330_enums",
      "Tests elicitation with enum schema improvements per SEP-1330",
      "Please select options from the enum fields",
      ENUMS_FORM,
    ),
    {
      name: "json_schema_2020_12_tool",
      description: "Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)",
      inputSchema: {
        $schema: "https://json-schema.org/draft/2020-12/schema",
        type: "object",
        $defs: {
          address: {
            type: "object",
            properties: { street: { type: "string" }, city: { type: "string" } },
          },
        },
        properties: { name: { type: "string" }, address: { $ref: "#/$defs/address" } },
        additionalProperties: false,
      },
      call: (args) => ({
        content: [text(`JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`)],
      }),
    },
  ];
}

function elicitTool(
  name: string,
  description: string,
  message: string,
  requestedSchema: Record<string, unknown>,
): Tool {
  return {
    name,
    description,
    inputSchema: NONE,
    async call(_args, ctx) {
      const result = await ctx.elicit({ message, requestedSchema });
      return {
        content: [
          text(
            `Elicitation completed: action=${result.action}, content=${
              JSON.stringify(result.content ?? {})
            }`,
          ),
        ],
      };
    },
  };
}
