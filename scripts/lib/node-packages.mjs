// Loads the npm packages of the scripts (installed in scripts/node) and says
// how to install them when they are missing.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const nodeDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'node');
const require = createRequire(path.join(nodeDir, 'package.json'));

// Bad use of a script: the caller prints the message and exits with code 2.
export class UsageError extends Error {}

export function loadPackage(name) {
  try {
    return require(name);
  } catch (err) {
    if (err.code === 'MODULE_NOT_FOUND') {
      throw new UsageError(`the Node packages are not installed: run \`npm ci --prefix ${nodeDir}\``);
    }
    throw err;
  }
}
