#!/usr/bin/env node
// Thin launcher: the CLI and the language server live in the bundled dist/leaklens.js.
require('../dist/leaklens.js').run(process.argv);
