#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (part of the README's set-up).
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv);
