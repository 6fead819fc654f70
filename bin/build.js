#!/usr/bin/env node
// `npm run build`: type-checks the whole project and compiles it to dist/ (the CLI and the
// bindings package), then stamps dist/.built-at with the time the build STARTED. bin/reminderly-db.js
// runs the compiled CLI only while no TypeScript source is newer than that stamp, so a file edited
// during or after the build is never served stale. (Comparing each source with its own .js does
// not work: an incremental build does not rewrite output whose content did not change.)
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const tsc = require.resolve('typescript/bin/tsc');
const started = new Date();

function run(args) {
  const r = spawnSync(process.execPath, [tsc, ...args], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 2);
}

run(['-p', '.', '--incremental', '--tsBuildInfoFile', 'dist/.tsbuildinfo']);
run(['-p', 'bindings/tsconfig.build.json']);
const stamp = path.join(root, 'dist', '.built-at');
fs.writeFileSync(stamp, `${started.toISOString()}\n`);
fs.utimesSync(stamp, started, started);
