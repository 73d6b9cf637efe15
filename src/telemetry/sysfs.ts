/**
 * Reading Linux sysfs for host energy (issue 9): where it lives, and why a file cannot be read.
 * Everything reads below one root — `--sysfs-root`, else $CARBONBENCH_SYSFS_ROOT, else `/sys` — so that
 * tests (and a machine whose sysfs is mounted elsewhere) use a directory tree of plain files.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { InputError } from '../errors.js';

export const SYSFS_ROOT_ENV = 'CARBONBENCH_SYSFS_ROOT';

/**
 * `--sysfs-root`, else $CARBONBENCH_SYSFS_ROOT, else /sys. A flag naming no directory is a typo (exit 2),
 * not a machine without RAPL; the environment variable and /sys are taken as they are, and what they lack
 * is reported (doctor) and falls back to the GPU boundary.
 */
export function resolveSysfsRoot(flag?: string): string {
  if (flag !== undefined) {
    let isDir = false;
    try {
      isDir = statSync(flag).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir) throw new InputError(`--sysfs-root ${JSON.stringify(flag)} is not a directory; allowed: a sysfs tree such as /sys (with class/powercap and class/hwmon)`);
    return flag;
  }
  return process.env[SYSFS_ROOT_ENV] ?? '/sys';
}

/** Why a sysfs file could not be read, in words a user can act on. */
export function unreadableReason(err: unknown, path: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${code}) reading ${path}`;
    case 'ENOENT':
      return `missing: ${path}`;
    case 'ENODATA':
    case 'EIO':
    case 'EOPNOTSUPP':
      return `the driver refused the read (${code}) of ${path}`;
    default:
      return `cannot read ${path}: ${(err as Error).message}`;
  }
}

export type ReadResult<T> = { ok: true; value: T } | { ok: false; reason: string };

export function readTrimmed(path: string): ReadResult<string> {
  try {
    return { ok: true, value: readFileSync(path, 'utf8').trim() };
  } catch (err) {
    return { ok: false, reason: unreadableReason(err, path) };
  }
}

/** A non-negative integer file (energy_uj, power1_input); text that is not one is a reason, never 0. */
export function readCounter(path: string): ReadResult<number> {
  const r = readTrimmed(path);
  if (!r.ok) return r;
  if (!/^\d+$/.test(r.value)) return { ok: false, reason: `${path} holds ${JSON.stringify(r.value.slice(0, 40))}, not a non-negative integer` };
  const value = Number(r.value);
  if (!Number.isSafeInteger(value)) return { ok: false, reason: `${path} holds ${r.value}, beyond 2^53` };
  return { ok: true, value };
}

/** Entry names of a directory, sorted; null with the reason when it cannot be listed. */
export function listDir(path: string): ReadResult<string[]> {
  try {
    return { ok: true, value: readdirSync(path).sort((a, b) => a.localeCompare(b, 'en', { numeric: true })) };
  } catch (err) {
    return { ok: false, reason: unreadableReason(err, path) };
  }
}
