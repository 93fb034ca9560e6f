/** Where configs live and how paths written inside a config resolve. */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { createRequire } from 'node:module';
import { UserError } from '../util/errors.ts';
import { packageRoot } from '../util/package-root.ts';

/** The package root (where `config/` ships), independent of the caller's working directory. */
export const PACKAGE_ROOT = packageRoot();
export const CONFIG_DIR = join(PACKAGE_ROOT, 'config');

/** Resolve a path written in a config: `npm:pkg/file` inside node_modules, else relative to the config's folder. */
export function resolveConfigRelativePath(value: string, configFile: string): string {
  if (value.startsWith('npm:')) {
    const spec = value.slice(4);
    // Node's lookup folders from here upwards (an installed CLI's dependencies are hoisted above it), then the cwd's.
    const folders = [...(createRequire(import.meta.url).resolve.paths(spec) ?? []), join(process.cwd(), 'node_modules')];
    const candidates = folders.map((nm) => join(nm, spec));
    const hit = candidates.find((c) => existsSync(c));
    if (!hit) throw new UserError(`${configFile}: ${value} not found in node_modules (run npm install)`);
    return hit;
  }
  return isAbsolute(value) ? value : resolve(dirname(configFile), value);
}

/**
 * The inverse of the `npm:` rule above, for provenance records: a path inside a node_modules as `npm:pkg/file`
 * (the same on every machine), any other path as given.
 */
export function provenancePath(path: string): string {
  const nm = `${sep}node_modules${sep}`;
  const at = path.lastIndexOf(nm);
  return at === -1
    ? path
    : `npm:${path
        .slice(at + nm.length)
        .split(sep)
        .join('/')}`;
}

/**
 * Why `value` cannot name one folder or file under weights/, or undefined when it can. A name made only of dots
 * ("." or "..") passes a character check but points at the folder itself or its parent, where outputs would
 * replace the user's own files.
 */
export function folderNameProblem(value: string): string | undefined {
  if (!/^[A-Za-z0-9._-]+$/.test(value)) return `"${value}" must use only letters, digits, ".", "_" and "-" (it names a folder)`;
  if (/^\.+$/.test(value)) {
    return `"${value}" is not a folder name (a name made only of dots points at a parent folder); use letters, digits, ".", "_" and "-"`;
  }
  return undefined;
}
