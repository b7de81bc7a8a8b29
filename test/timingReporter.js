// A jest reporter that prints, at the end of a run, how long each test file
// took, grouped by tier (the directory under test/: the main suite, the
// compatibility suite), each tier's total, and the run's wall time against
// the budget npm test must stay within on a 2-core machine.
const path = require('node:path');

const BUDGET_MINUTES = 25;

class TimingReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
    this.files = [];
  }

  onRunStart() {
    this.files = [];
    this.started = Date.now();
  }

  onTestResult(test, result) {
    const file = path.relative(this.rootDir, result.testFilePath);
    const seconds = (result.perfStats.end - result.perfStats.start) / 1000;
    this.files.push({ file, tier: path.dirname(file), seconds, failed: result.numFailingTests > 0 || result.testExecError !== undefined });
  }

  onRunComplete() {
    if (this.files.length === 0) return;
    const wall = (Date.now() - this.started) / 1000;
    const tiers = [...new Set(this.files.map((f) => f.tier))].sort();
    const width = Math.max(...this.files.map((f) => f.file.length));
    const lines = ['', 'time per test file, by tier (files run in parallel: tiers add up to more than the wall time)'];
    for (const tier of tiers) {
      const files = this.files.filter((f) => f.tier === tier).sort((a, b) => b.seconds - a.seconds);
      const total = files.reduce((s, f) => s + f.seconds, 0);
      lines.push(`  ${tier}/: ${total.toFixed(1)} s in ${files.length} files`);
      for (const f of files) lines.push(`    ${f.file.padEnd(width)} ${f.seconds.toFixed(1).padStart(7)} s${f.failed ? '  (failed)' : ''}`);
    }
    lines.push(`  wall time: ${wall.toFixed(1)} s (budget for npm test: ${BUDGET_MINUTES} min)`, '');
    process.stderr.write(lines.join('\n'));
  }
}

module.exports = TimingReporter;
