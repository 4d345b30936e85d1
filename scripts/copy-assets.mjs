// Copies the web console's static assets next to the compiled code (tsc copies only .ts output).
import { cpSync, mkdirSync } from 'node:fs';

mkdirSync('dist/src/appliance/web/static', { recursive: true });
cpSync('src/appliance/web/static', 'dist/src/appliance/web/static', { recursive: true });
