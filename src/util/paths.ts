import { fileURLToPath } from 'node:url';

/** The project's data/ folder (works from src/ under vitest and from dist/ when installed). */
export function dataDir(): string {
  return fileURLToPath(new URL('../../data/', import.meta.url));
}
