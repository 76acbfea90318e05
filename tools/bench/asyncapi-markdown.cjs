// Renders an AsyncAPI document to markdown with the official generator and template
// (@asyncapi/generator + @asyncapi/markdown-template, as pinned in package.json), offline.
// The template is named by its folder: by package name, the generator resolves it from the
// current directory and, when that fails, installs it with npm (which hangs without network).
// Usage: node asyncapi-markdown.cjs ASYNCAPI_FILE OUT_DIR
// Prints one JSON line: {generator, template, load_ms, generate_ms, bytes}
// (load_ms: requiring the generator; generate_ms: parsing, rendering and writing).
const t0 = process.hrtime.bigint();
const Generator = require('@asyncapi/generator');
const fs = require('node:fs');
const path = require('node:path');

const [input, out] = process.argv.slice(2);
if (!input || !out) {
  console.error('usage: node asyncapi-markdown.cjs ASYNCAPI_FILE OUT_DIR');
  process.exit(2);
}
(async () => {
  const template = path.join(__dirname, 'node_modules', '@asyncapi', 'markdown-template');
  const generator = new Generator(template, path.resolve(out), {
    forceWrite: true,
    templateParams: { outFilename: 'asyncapi.md' },
  });
  const t1 = process.hrtime.bigint();
  await generator.generateFromFile(path.resolve(input));
  const t2 = process.hrtime.bigint();
  console.log(JSON.stringify({
    generator: require('@asyncapi/generator/package.json').version,
    template: require('@asyncapi/markdown-template/package.json').version,
    load_ms: Number(t1 - t0) / 1e6,
    generate_ms: Number(t2 - t1) / 1e6,
    bytes: fs.statSync(path.join(out, 'asyncapi.md')).size,
  }));
})().catch((e) => {
  console.error('asyncapi-markdown.cjs: failed:', e);
  process.exit(1);
});
