// Copies the non-TypeScript files the service reads at run time (SQL migrations) into dist/.
import { cpSync } from 'node:fs';

cpSync('src/storage/sqlite/migrations', 'dist/storage/sqlite/migrations', { recursive: true });
