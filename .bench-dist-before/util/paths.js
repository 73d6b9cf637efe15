import { fileURLToPath } from 'node:url';
/** The project's data/ folder (works from src/ under vitest and from dist/ when installed). */
export function dataDir() {
    return fileURLToPath(new URL('../../data/', import.meta.url));
}
//# sourceMappingURL=paths.js.map