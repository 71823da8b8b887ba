import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config.js';

describe('README configuration table', () => {
  it('documents every setting the service reads', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## API'));
    const missing = Object.keys(configSchema.shape).filter((key) => key !== 'NODE_ENV' && !table.includes(`\`${key}\``));
    expect(missing).toEqual([]);
  });
});
