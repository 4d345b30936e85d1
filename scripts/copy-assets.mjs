// Copies the web console's static assets next to the compiled code (tsc copies only .ts output):
// every `static` folder under src/ (the shared stylesheet, each domain's page scripts).
import { cpSync, readdirSync } from 'node:fs';
import path from 'node:path';

for (const entry of readdirSync('src', { recursive: true, withFileTypes: true })) {
  if (!entry.isDirectory() || entry.name !== 'static') continue;
  const from = path.join(entry.parentPath, entry.name);
  cpSync(from, path.join('dist', from), { recursive: true });
}
