#!/usr/bin/env node
// Runs one CLI command function from dist/cli/ the way bin/carbonbench.js would (for commands written
// but not yet registered in src/cli/main.ts): node bench/scale/run-command.mjs MODULE FUNCTION FLAGS_JSON DB
// prints what the command prints with --json, exits with its code.
import { join } from 'node:path';
import { repoRoot } from '../lib/common.mjs';

const [moduleName, fn, flagsJson, db] = process.argv.slice(2);
const mod = await import(join(repoRoot, 'dist', 'cli', `${moduleName}.js`));
process.exitCode = await mod[fn](JSON.parse(flagsJson), { db, json: true });
