// Validates AsyncAPI documents with the official parser (@asyncapi/parser).
// Usage: node asyncapi-validate.mjs FILE...
// Prints one JSON line per file: {file, ok, version, errors, warnings, diagnostics};
// exits 1 when a document has an error (severity 0) or a warning (severity 1).
import { Parser, fromFile } from '@asyncapi/parser';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const version = require('@asyncapi/parser/package.json').version;
const parser = new Parser();
let failed = false;
for (const file of process.argv.slice(2)) {
  const { document, diagnostics } = await fromFile(parser, file).parse();
  const errors = diagnostics.filter((d) => d.severity === 0);
  const warnings = diagnostics.filter((d) => d.severity === 1);
  const ok = document !== undefined && errors.length === 0 && warnings.length === 0;
  if (!ok) { failed = true; }
  console.log(JSON.stringify({
    file, ok, parser: version,
    asyncapi: document ? document.version() : null,
    channels: document ? document.channels().length : 0,
    operations: document ? document.operations().length : 0,
    messages: document ? document.components().messages().length : 0,
    errors: errors.length, warnings: warnings.length,
    diagnostics: diagnostics.map((d) => ({ severity: d.severity, code: d.code, message: d.message, path: d.path })),
  }));
}
process.exit(failed ? 1 : 0);
