// The project's own folder, for every module that reads the checkout (schema/, procedures/,
// database.json, bindings/): one fact, one place.
import fs from 'fs';
import path from 'path';

/** Where the migration history lives in a checkout: versioned files, and one routine per file. */
export const VERSIONED_DIRS = ['schema', 'indexes', 'seeds'] as const;
export const REPEATABLE_DIR = 'procedures';

/**
 * The project root: the nearest folder above this module that holds a package.json. The same from
 * the TypeScript sources (tools/) and from the compiled CLI (dist/tools/).
 */
export function projectRoot(): string {
  for (let dir = path.resolve(__dirname, '..'); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(__dirname, '..');
  }
}
