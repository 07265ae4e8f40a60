// Copies the non-TypeScript files the service reads at run time (SQL migrations, OTLP .proto files) into dist/.
import { cpSync } from 'node:fs';

cpSync('src/storage/sqlite/migrations', 'dist/storage/sqlite/migrations', { recursive: true });
cpSync('src/otlp/proto', 'dist/otlp/proto', { recursive: true });
