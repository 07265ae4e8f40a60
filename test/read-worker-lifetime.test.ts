import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from 'vitest';

test('a script that only awaits a read gets its answer (the idle read worker was unref-ed and the process exited early)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-read-'));
  try {
    const store = new URL('../src/storage/sqlite/sqlite-store.ts', import.meta.url).href;
    const script = `
      const { createSqliteStore } = await import(${JSON.stringify(store)});
      const store = createSqliteStore(${JSON.stringify(path.join(dir, 'usage.sqlite'))});
      const models = await store.listModels();
      process.stdout.write('models:' + JSON.stringify(models));
      await store.close();`;
    const output = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(output).toBe('models:[]');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
