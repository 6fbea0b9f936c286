/**
 * The resources and prompts the official MCP conformance suite reads by
 * name, and a function that adds them — with the suite's tools — to a
 * server's registries (`MCP_CONFORMANCE=1`).
 *
 * @example
 * ```ts ignore
 * import { addConformanceFixtures } from "./catalog.ts";
 * addConformanceFixtures(await createCatalog({ db }));
 * ```
 * @module
 */
import { embedded, image, text } from "../content.ts";
import type { Catalog } from "../protocol.ts";
import { conformanceTools, TEST_IMAGE_BASE64 } from "./tools.ts";

/** Adds the suite's tools, resources and prompts to `catalog`. */
export function addConformanceFixtures(catalog: Required<Catalog>): void {
  for (const tool of conformanceTools()) catalog.tools.add(tool);
  catalog.resources
    .add({
      uri: "test://static-text",
      name: "static-text",
      title: "Static Text Resource",
      description: "A static text resource for testing",
      mimeType: "text/plain",
      read: () => [{
        uri: "test://static-text",
        mimeType: "text/plain",
        text: "This is the content of the static text resource.",
      }],
    })
    .add({
      uri: "test://static-binary",
      name: "static-binary",
      title: "Static Binary Resource",
      description: "A static binary resource (image) for testing",
      mimeType: "image/png",
      read: () => [{ uri: "test://static-binary", mimeType: "image/png", blob: TEST_IMAGE_BASE64 }],
    })
    .add({
      uri: "test://watched-resource",
      name: "watched-resource",
      title: "Watched Resource",
      description: "A resource clients subscribe to",
      mimeType: "text/plain",
      read: () => [{
        uri: "test://watched-resource",
        mimeType: "text/plain",
        text: "Watched resource content",
      }],
    })
    .addTemplate({
      uriTemplate: "test://template/{id}/data",
      name: "template",
      title: "Resource Template",
      description: "A resource template with parameter substitution",
      mimeType: "application/json",
      read: (uri, { id }) => [{
        uri,
        mimeType: "application/json",
        text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }),
      }],
    });
  catalog.prompts
    .add({
      name: "test_simple_prompt",
      title: "Simple Test Prompt",
      description: "A simple prompt without arguments",
      get: () => ({
        messages: [{ role: "user", content: text("This is a simple prompt for testing.") }],
      }),
    })
    .add({
      name: "test_prompt_with_arguments",
      title: "Prompt With Arguments",
      description: "A prompt with required arguments",
      arguments: [
        { name: "arg1", description: "First test argument", required: true },
        { name: "arg2", description: "Second test argument", required: true },
      ],
      get: ({ arg1, arg2 }) => ({
        messages: [{
          role: "user",
          content: text(`Prompt with arguments: arg1='${arg1}', arg2='${arg2}'`),
        }],
      }),
      complete: {
        arg1: (value) => ["paris", "park", "party"].filter((v) => v.startsWith(value)),
      },
    })
    .add({
      name: "test_prompt_with_embedded_resource",
      title: "Prompt With Embedded Resource",
      description: "A prompt that includes an embedded resource",
      arguments: [
        { name: "resourceUri", description: "URI of the resource to embed", required: true },
      ],
      get: ({ resourceUri }) => ({
        messages: [
          {
            role: "user",
            content: embedded(resourceUri, "text/plain", "Embedded resource content for testing."),
          },
          { role: "user", content: text("Please process the embedded resource above.") },
        ],
      }),
    })
    .add({
      name: "test_prompt_with_image",
      title: "Prompt With Image",
      description: "A prompt that includes image content",
      get: () => ({
        messages: [
          { role: "user", content: image(TEST_IMAGE_BASE64, "image/png") },
          { role: "user", content: text("Please analyze the image above.") },
        ],
      }),
    });
}
