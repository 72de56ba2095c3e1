// Builds web/dist: the page's sources (plain ES modules, no bundler: the browser loads them as they
// are) plus dash.js's prebuilt UMD bundle from node_modules, pinned by package-lock.json.
// Usage: npm ci && npm run build. Deterministic: same inputs, same bytes (no timestamps).

import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const dist = join(root, 'dist');
const dashDir = join(root, 'node_modules', 'dashjs');
const dashUmd = join(dashDir, 'dist', 'modern', 'umd');

if (!existsSync(join(dashUmd, 'dash.all.min.js'))) {
  console.error(`missing ${join(dashUmd, 'dash.all.min.js')}: run \`npm ci\` in ${root} first`);
  process.exit(1);
}
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'vendor'), { recursive: true });
for (const f of readdirSync(src)) cpSync(join(src, f), join(dist, f), { recursive: true });
for (const f of ['dash.all.min.js', 'dash.all.min.js.LICENSE.txt']) {
  if (existsSync(join(dashUmd, f))) cpSync(join(dashUmd, f), join(dist, 'vendor', f));
}
const dashVersion = JSON.parse(readFileSync(join(dashDir, 'package.json'), 'utf8')).version;
writeFileSync(join(dist, 'build-info.json'), `${JSON.stringify({ dashjs: dashVersion, files: readdirSync(src).sort() }, null, 2)}\n`);
console.log(`web/dist built: ${readdirSync(src).length} page files + dash.js ${dashVersion}`);
