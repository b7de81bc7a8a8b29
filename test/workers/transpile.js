// The project's TypeScript as CommonJS for plain node, one file at a time:
// what tsRequire compiles on load, and what the soak compiles ahead of time
// so that its process never holds the compiler.
const ts = require('typescript');

exports.transpile = (source, fileName) =>
  ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName,
  }).outputText;
