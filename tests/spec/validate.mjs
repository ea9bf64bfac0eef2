// Parses an AsyncAPI document with the official parser (@asyncapi/parser, pinned in
// package-lock.json) and fails on any error or warning it reports.
//
//   node tests/spec/validate.mjs docs/asyncapi.json
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const path = process.argv[2];
if (!path) {
  console.error("usage: node validate.mjs <asyncapi document>");
  process.exit(2);
}
const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(path, "utf8"), { source: path });
// Severity 0 is an error, 1 a warning; hints and information are not failures.
const problems = diagnostics.filter((d) => d.severity <= 1);
for (const d of problems) {
  console.error(`${d.severity === 0 ? "error" : "warning"} ${d.code} at /${d.path.join("/")}: ${d.message}`);
}
if (!document || problems.length > 0) {
  console.error(`${path}: ${problems.length} problem(s)`);
  process.exit(1);
}
// The parser skips payloads in a schema format it has no parser for, silently: insist on the
// one our document declares (JSON Schema draft-07, which the parser validates).
const FORMAT = "application/schema+json;version=draft-07";
const unchecked = document.messages().all().filter((m) => m.schemaFormat() !== FORMAT || !m.payload());
for (const m of unchecked) console.error(`message ${m.id()}: payload schemaFormat ${m.schemaFormat()}, not ${FORMAT}`);
if (unchecked.length > 0) process.exit(1);
const messages = document.messages().length;
const operations = document.operations().length;
console.log(`${path}: valid AsyncAPI ${document.version()}, ${operations} operations, ${messages} messages`);
