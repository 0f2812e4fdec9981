// build.js -- the browser build: dist/lunet-client.js, one ES module with
// the client and its two dependencies (@noble/curves, @noble/hashes) inside,
// for pages without a bundler:
//
//   <script type="module">import { Client, Key } from './lunet-client.js';</script>
//
// An app with a bundler imports 'lunet-client' instead (src/index.js).
// `npm run build` writes it; `node scripts/build.js FILE` writes FILE (the
// browser tests build their own copy this way).

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PKG = join(dirname(fileURLToPath(import.meta.url)), '..');
export const OUT = join(PKG, 'dist/lunet-client.js');

// Writes the bundle to outfile (default dist/lunet-client.js).
export async function build(outfile = OUT) {
  const { build: esbuild } = await import('esbuild');
  const { version } = JSON.parse(await (await import('node:fs/promises')).readFile(join(PKG, 'package.json'), 'utf8'));
  await esbuild({
    entryPoints: [join(PKG, 'src/index.js')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    legalComments: 'inline',
    banner: { js: `// lunet-client ${version}: the browser build (npm run build); the source is src/.` },
    logLevel: 'warning',
  });
  return outfile;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  build(process.argv[2] || OUT).then((f) => console.log(f), (e) => { console.error(e.message); process.exit(1); });
}
