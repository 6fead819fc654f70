#!/usr/bin/env node
// The CLI runs the TypeScript sources directly: type checking happens in `npm test`, so the
// command itself only transpiles (fast start, no build step to forget).
require('ts-node').register({ transpileOnly: true, project: require('path').join(__dirname, '..', 'tsconfig.json') });
require('../tools/cli').main(process.argv);
