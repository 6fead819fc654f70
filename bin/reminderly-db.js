#!/usr/bin/env node
// The CLI runs the compiled JavaScript in dist/ (`npm run build`, run by `npm ci` through
// `prepare` and by `npm test`, see bin/build.js): it starts in well under half the time ts-node
// takes, and cron and the suite start it hundreds of times. When any TypeScript source of tools/ or
// bindings/ is newer than the build (an edit, a pull, a checkout without a build), it runs the
// sources through ts-node instead, so a stale build never runs. REMINDERLY_CLI_FROM_SOURCE=1 forces that. Type checking happens in `npm test`/`npm run build`.
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist');

/** Whether the build stamp exists and no .ts source under the folders is newer than it. */
function compiledIsCurrent(folders) {
  let builtAt;
  try { builtAt = fs.statSync(path.join(dist, '.built-at')).mtimeMs; } catch { return false; }
  for (const folder of folders) {
    const stack = [folder];
    while (stack.length > 0) {
      const dir = stack.pop();
      for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
        const rel = path.join(dir, entry.name);
        if (entry.isDirectory()) stack.push(rel);
        else if (entry.name.endsWith('.ts') && fs.statSync(path.join(root, rel)).mtimeMs > builtAt) return false;
      }
    }
  }
  return true;
}

if (process.env.REMINDERLY_CLI_FROM_SOURCE !== '1' && compiledIsCurrent(['tools', 'bindings'])) {
  require(path.join(dist, 'tools', 'cli')).main(process.argv);
} else {
  require('ts-node').register({ transpileOnly: true, project: path.join(root, 'tsconfig.json') });
  require('../tools/cli').main(process.argv);
}
