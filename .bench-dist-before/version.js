import { readFileSync } from 'node:fs';
/** The tool version stored with every run (package.json). */
export const VERSION = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
//# sourceMappingURL=version.js.map