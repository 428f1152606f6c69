import { builtinModules } from 'node:module';
import { describe, expect, it } from 'vitest';
import { buildEntries, bundle, EXTERNAL_PACKAGES, isExternalPackage } from './build.js';

/** `@scope/name` or `name` of a bare specifier. */
const packageName = (specifier: string): string =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

const isBuiltin = (specifier: string): boolean =>
  specifier.startsWith('node:') || builtinModules.includes(specifier);

describe('isExternalPackage', () => {
  it('names packages and whole scopes', () => {
    expect(isExternalPackage('pg')).toBe(true);
    expect(isExternalPackage('@opentelemetry/api')).toBe(true);
    expect(isExternalPackage('@node-rs/argon2')).toBe(true);
    expect(isExternalPackage('express')).toBe(false);
    expect(isExternalPackage('@apollo/gateway')).toBe(false);
    expect(isExternalPackage('pg-boss')).toBe(false);
    expect(EXTERNAL_PACKAGES).toContain('graphql');
  });
});

describe('bundle', () => {
  it('bundles packages: every bundle imports only built-in modules and the external packages', async () => {
    const entries = buildEntries();
    const { metafile } = await bundle(entries);
    const outputs = Object.entries(metafile.outputs).filter(([file]) => file.endsWith('.js'));
    const names = new Set(outputs.map(([file]) => file));
    expect(entries.filter((e) => !names.has(`dist/${e.name}.js`))).toEqual([]);
    for (const [file, out] of outputs) {
      const stray = out.imports
        .filter((i) => i.external && !isBuiltin(i.path) && !isExternalPackage(packageName(i.path)))
        .map((i) => i.path);
      expect(stray, file).toEqual([]);
    }
    // An entry's own module stays in its bundle: its import.meta.url is the bundle's (main-module checks).
    const entryFiles = new Set(entries.map((e) => e.entry));
    const moved = outputs
      .filter(([file]) => file.startsWith('dist/chunk-'))
      .flatMap(([, out]) => Object.keys(out.inputs).filter((i) => entryFiles.has(i)));
    expect(moved).toEqual([]);
    const bundled = Object.keys(metafile.inputs);
    expect(bundled.some((f) => f.includes('node_modules/@apollo/gateway/'))).toBe(true);
    expect(bundled.some((f) => f.includes('node_modules/express/'))).toBe(true);
  }, 120_000);

  it("leaves Apollo's usage telemetry out of the gateway: stubs instead of the exporter and detectors", async () => {
    const { metafile } = await bundle([{ name: 'gateway', entry: 'gateway/src/index.ts' }]);
    const inputs = Object.keys(metafile.inputs);
    const loaded = inputs.filter((f) => !f.startsWith('apollo-telemetry-off:'));
    expect(
      loaded.filter((f) => /sdk-metrics|exporter-metrics-otlp|resource-detector|node-cpu-count/.test(f)),
    ).toEqual([]);
    expect(inputs).toContain('apollo-telemetry-off:@opentelemetry/sdk-metrics');
    const imports = metafile.outputs['dist/gateway.js']?.imports.map((i) => i.path) ?? [];
    expect(imports.filter((p) => /sdk-metrics|exporter-metrics-otlp|resource-detector/.test(p))).toEqual([]);
  }, 120_000);

  it("gives Apollo Server's query hashing Node's crypto: sha.js (its JavaScript fallback) is not bundled", async () => {
    const { metafile } = await bundle([{ name: 'trading', entry: 'subgraphs/trading/src/index.ts' }]);
    const inputs = Object.keys(metafile.inputs);
    expect(inputs).toContain('apollo-createhash:@apollo/utils.createhash');
    expect(inputs.filter((f) => f.includes('node_modules/sha.js/'))).toEqual([]);
  }, 120_000);
});
