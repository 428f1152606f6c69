/**
 * Static checks of docker-compose.yml, run by `make test` (scripts/compose-check.test.ts) because no
 * Docker engine is at hand: the Compose Specification's JSON schema (vendored in ops/compose), build
 * contexts and bind-mounted paths that exist, every `${VAR}` documented in env.example, and nothing
 * published but the gateway and the operator UIs. Merge keys (`<<`) are resolved before anything is
 * checked, as Compose does. Debian's docker-compose 1.29 predates the specification (it rejects the
 * top-level `name`), so it is not used as a checker.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../lib/config.js';

export const COMPOSE_SCHEMA_PATH = path.join(PROJECT_ROOT, 'ops/compose/compose-spec.json');

/**
 * Host ports the compose file may publish, by service: the gateway and the operator UIs. Subgraphs,
 * workers and the development MA130 stay on the compose network (ops/compose/debug-ports.yml opts in).
 */
export const PUBLISHABLE_PORTS: Readonly<Record<string, number>> = {
  gateway: 8000,
  prometheus: 9090,
  alertmanager: 9093,
  grafana: 3000,
  jaeger: 16686,
};

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses a compose file with YAML merge keys resolved. */
export function loadCompose(text: string): Json {
  const doc: unknown = parse(text, { merge: true });
  if (!isObject(doc)) throw new Error('compose file is not a mapping');
  return doc;
}

/**
 * Validates against the vendored schema, with the JSON Schema draft the schema declares (Ajv knows
 * draft-07 under its `http://...#` id; the schema names it `https://...` without the fragment).
 * @returns one line per schema error (empty: valid)
 */
export function schemaErrors(doc: Json, schemaPath = COMPOSE_SCHEMA_PATH): string[] {
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as Json;
  const declared = schema['$schema'];
  if (typeof declared !== 'string' || !/json-schema\.org\/draft-07\/schema#?$/.test(declared)) {
    throw new Error(`compose schema declares ${String(declared)}; this check knows draft-07 only`);
  }
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);
  const draft07 = JSON.parse(
    readFileSync(path.join(PROJECT_ROOT, 'node_modules/ajv/dist/refs/json-schema-draft-07.json'), 'utf8'),
  ) as Json;
  if (!ajv.getSchema(declared)) ajv.addMetaSchema({ ...draft07, $id: declared });
  const validate = ajv.compile(schema);
  if (validate(doc)) return [];
  return (validate.errors ?? []).map(
    (e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'} ${JSON.stringify(e.params)}`,
  );
}

const services = (doc: Json): [string, Json][] =>
  Object.entries(isObject(doc['services']) ? doc['services'] : {}).map(
    ([name, s]) => [name, isObject(s) ? s : {}] as [string, Json],
  );

/** Host paths a bind mount names: relative (`./x`, `../x`, `.`), absolute or home-relative. */
function bindSource(volume: unknown): string | undefined {
  if (typeof volume === 'string') {
    const source = volume.split(':')[0] ?? '';
    return /^(\.|\/|~)/.test(source) ? source : undefined;
  }
  if (isObject(volume) && volume['type'] === 'bind' && typeof volume['source'] === 'string') {
    return volume['source'];
  }
  return undefined;
}

/** Named volumes a service mounts (short syntax without a path, or long syntax of type volume). */
function namedVolume(volume: unknown): string | undefined {
  if (typeof volume === 'string') {
    const parts = volume.split(':');
    const source = parts[0] ?? '';
    return parts.length > 1 && !/^(\.|\/|~)/.test(source) ? source : undefined;
  }
  if (isObject(volume) && volume['type'] === 'volume' && typeof volume['source'] === 'string') {
    return volume['source'];
  }
  return undefined;
}

/**
 * Build contexts (with their Dockerfile) and bind-mounted host paths that do not exist, and named
 * volumes not declared at the top level. Relative paths are taken from `root` (the compose file's folder).
 */
export function missingPaths(doc: Json, root = PROJECT_ROOT): string[] {
  const problems: string[] = [];
  const declaredVolumes = new Set(Object.keys(isObject(doc['volumes']) ? doc['volumes'] : {}));
  for (const [name, s] of services(doc)) {
    const build = s['build'];
    if (build !== undefined) {
      const context = typeof build === 'string' ? build : isObject(build) ? build['context'] : undefined;
      const dockerfile =
        isObject(build) && typeof build['dockerfile'] === 'string' ? build['dockerfile'] : 'Dockerfile';
      const dir = path.resolve(root, typeof context === 'string' ? context : '.');
      if (!existsSync(dir) || !statSync(dir).isDirectory()) {
        problems.push(`${name}: build context ${String(context)} is not a folder`);
      } else if (!existsSync(path.resolve(dir, dockerfile))) {
        problems.push(`${name}: ${path.relative(root, path.resolve(dir, dockerfile))} does not exist`);
      }
    }
    for (const v of Array.isArray(s['volumes']) ? (s['volumes'] as unknown[]) : []) {
      const source = bindSource(v);
      if (source !== undefined && !existsSync(path.resolve(root, source))) {
        problems.push(`${name}: mounted ${source} does not exist`);
      }
      const volume = namedVolume(v);
      if (volume !== undefined && !declaredVolumes.has(volume)) {
        problems.push(`${name}: volume ${volume} is not declared under volumes:`);
      }
    }
    for (const f of Array.isArray(s['env_file']) ? (s['env_file'] as unknown[]) : [s['env_file']]) {
      const file = typeof f === 'string' ? f : isObject(f) && f['required'] !== false ? f['path'] : undefined;
      if (typeof file === 'string' && !existsSync(path.resolve(root, file))) {
        problems.push(`${name}: env_file ${file} does not exist`);
      }
    }
  }
  for (const kind of ['configs', 'secrets']) {
    for (const [name, c] of Object.entries(isObject(doc[kind]) ? doc[kind] : {})) {
      const file = isObject(c) ? c['file'] : undefined;
      if (typeof file === 'string' && !existsSync(path.resolve(root, file))) {
        problems.push(`${kind}.${name}: file ${file} does not exist`);
      }
    }
  }
  return problems;
}

/** Variables the compose file interpolates (`${VAR}`, `${VAR:-default}`, `${VAR:?err}`, `$VAR`; not `$$`). */
export function interpolatedVariables(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))/g)) {
    names.add(m[1] ?? m[2] ?? '');
  }
  return [...names].sort();
}

/** Names env.example mentions as `NAME=` (set or commented out), as scripts/env-example.test.ts reads it. */
export function documentedVariables(example: string): Set<string> {
  return new Set([...example.matchAll(/^#?\s?([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] ?? ''));
}

/** Host ports a service publishes (short `[ip:]host:container[/proto]` or long syntax `published`). */
export function publishedPorts(service: Json): { hostIp: string; port: number }[] {
  const out: { hostIp: string; port: number }[] = [];
  for (const p of Array.isArray(service['ports']) ? (service['ports'] as unknown[]) : []) {
    if (isObject(p)) {
      if (p['published'] !== undefined) {
        out.push({
          hostIp: typeof p['host_ip'] === 'string' ? p['host_ip'] : '',
          port: Number(p['published']),
        });
      }
      continue;
    }
    const spec = String(p).replace(/\/(tcp|udp)$/, '');
    // [host_ip:]host:container; a bare container port is published on a random host port.
    const m = /^(?:(.*):)?([0-9-]*):([0-9-]+)$/.exec(spec);
    if (!m) out.push({ hostIp: '', port: Number.NaN });
    else out.push({ hostIp: m[1] ?? '', port: m[2] ? Number(m[2]) : Number.NaN });
  }
  return out;
}

/** Published ports other than {@link PUBLISHABLE_PORTS} (random host ports count as published). */
export function unexpectedPorts(doc: Json): string[] {
  const problems: string[] = [];
  for (const [name, s] of services(doc)) {
    for (const { port } of publishedPorts(s)) {
      if (PUBLISHABLE_PORTS[name] !== port)
        problems.push(`${name} publishes ${Number.isNaN(port) ? 'a port' : port}`);
    }
  }
  return problems;
}
