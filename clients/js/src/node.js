// node.js -- the package's entry point in Node: the same as index.js, plus
// the file reading behind Key.fromFile (kept out of the browser build).

import { readFileSync } from 'node:fs';
import { setFileReader } from './key.js';

setFileReader((path) => readFileSync(path, 'utf8'));

export * from './index.js';
