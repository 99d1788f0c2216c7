import { fileURLToPath } from 'node:url';

/** The dependencies with native parts: package.json's allowScripts lets exactly these build at install time. */
export const NATIVE_PACKAGES = ['better-sqlite3', 'tree-sitter', 'tree-sitter-javascript', 'tree-sitter-python', 'tree-sitter-rust', 'tree-sitter-typescript'];

/** What Node and the binding loaders say when a native module was not built, or was built for another system. */
const LOAD_FAILURES = [
  /Could not locate the bindings file/,
  /No native build was found/,
  /was compiled against a different Node\.js version/,
  /NODE_MODULE_VERSION/,
  /invalid ELF header/,
  /version `GLIBC\w*_[\d.]+' not found/,
  /cannot open shared object file/,
  /Module did not self-register/,
];

/** The folder mcp-index is installed in (where `npm rebuild` has to run). */
const INSTALL_DIR = fileURLToPath(new URL('../../', import.meta.url));

/**
 * One line naming the native package that failed to load and how to fix it, or null when the error is something
 * else. npm 12 skips the install scripts of dependencies that package.json does not allow, and a global install
 * needs them allowed on the command line: either way the failure shows only when the module is first loaded.
 */
export function nativeModuleProblem(err: unknown): string | null {
  const message = err instanceof Error ? err.message : String(err);
  if (!LOAD_FAILURES.some((re) => re.test(message))) return null;
  const pkg = NATIVE_PACKAGES.filter((p) => new RegExp(`node_modules[\\\\/]${p}(?:[\\\\/]|\\s|$)`).test(message)).sort((a, b) => b.length - a.length)[0];
  if (!pkg) return null;
  const why = message.split('\n')[0].replace(/\s+/g, ' ').slice(0, 160);
  return (
    `the native module ${pkg} is not built for this system (${why}). ` +
    `Fix: run \`npm rebuild ${pkg} --foreground-scripts\` in ${INSTALL_DIR}, or reinstall with --allow-scripts=${NATIVE_PACKAGES.join(',')}`
  );
}
