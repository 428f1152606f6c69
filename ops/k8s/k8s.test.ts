import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig, PROJECT_ROOT } from '../../lib/config.js';
import { buildEntries } from '../../scripts/build.js';
import { distOf, launchArgs, platformProcesses, SERVICE_NODE_FLAGS } from '../../scripts/platform.js';
import {
  applyJson6902,
  containersOf,
  podSpecOf,
  readDocuments,
  renderKustomization,
  splitImage,
  strategicMerge,
  type K8sObject,
} from './kustomize.js';
import {
  clusterRequiredVariables,
  configProblems,
  containerProblems,
  nodeEntry,
  nodePreloads,
  referenceProblems,
  schemaProblems,
  selectorProblems,
} from './manifest-checks.js';
import { unknownFieldProblems } from './unknown-fields.js';

const K8S = path.join(PROJECT_ROOT, 'ops/k8s');
const OVERLAYS = { dev: 'tradesage-dev', prod: 'tradesage' } as const;
/** The Secrets created outside the kustomization, as the manifests expect them. */
const SECRETS = readDocuments(path.join(K8S, 'secrets/secrets.example.yaml')) as K8sObject[];
const DB_INIT = readDocuments(path.join(K8S, 'jobs/db-init.yaml')) as K8sObject[];

const render = (overlay: string): K8sObject[] => renderKustomization(path.join(K8S, 'overlays', overlay));
const find = (all: K8sObject[], kind: string, name: string): K8sObject => {
  const o = all.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind}/${name} not rendered`);
  return o;
};
const container = (all: K8sObject[], name: string): Record<string, unknown> => {
  const pod = podSpecOf(find(all, 'Deployment', name));
  return containersOf(pod ?? {})[0] ?? {};
};
/** Sets (or, with `undefined`, deletes) the value at a path of keys and indexes, to break a manifest. */
const setPath = (root: unknown, keys: (string | number)[], value: unknown): void => {
  const last = keys.at(-1) ?? '';
  const parent = keys.slice(0, -1).reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], root);
  if (value === undefined) delete (parent as Record<string, unknown>)[last];
  else (parent as Record<string, unknown>)[last] = value;
};
// Rendering and the TypeScript program behind the unknown-field check take seconds on a busy machine.
vi.setConfig({ testTimeout: 60_000 });
beforeAll(() => {
  unknownFieldProblems([]); // loads kubernetes-models' type declarations once
}, 120_000);

/** Every check at once, as the test of each overlay runs them. */
const allProblems = (all: K8sObject[]): string[] => [
  ...schemaProblems(all),
  ...unknownFieldProblems(all),
  ...selectorProblems(all),
  ...referenceProblems(all, SECRETS),
  ...containerProblems(all),
  ...configProblems(all, SECRETS).problems,
];

describe.each(Object.entries(OVERLAYS))('overlay %s', (overlay, namespace) => {
  const all = render(overlay);

  it('renders valid objects by the Kubernetes API schemas, all in the namespace', () => {
    expect(all.length).toBeGreaterThan(30);
    expect(schemaProblems(all)).toEqual([]);
    expect(unknownFieldProblems(all)).toEqual([]);
    expect(find(all, 'Namespace', namespace).metadata['labels']).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'restricted',
    });
    const namespaced = all.filter((o) => o.kind !== 'Namespace');
    expect(namespaced.filter((o) => o.metadata.namespace !== namespace).map((o) => o.metadata.name)).toEqual(
      [],
    );
  });

  it('has selectors, references, probes and security contexts that hold together', () => {
    expect(selectorProblems(all)).toEqual([]);
    expect(referenceProblems(all, SECRETS)).toEqual([]);
    expect(containerProblems(all)).toEqual([]);
  });

  it('gives every process an environment the configuration accepts, with what a cluster needs', () => {
    const { problems, configs } = configProblems(all, SECRETS);
    expect(problems).toEqual([]);
    expect(clusterRequiredVariables()).toEqual(
      expect.arrayContaining(['SERVICE_TOKEN', 'DATABASE_URL', 'REDIS_URL', 'DATABASE_OWNER_URL']),
    );
    // Subgraph URLs name Services of the kustomization, on ports those Services expose.
    const gateway = configs.get('gateway');
    expect(gateway?.BIND_HOST).toBe('0.0.0.0');
    for (const url of [gateway?.authUrl, gateway?.tradingUrl, gateway?.analyticsUrl, gateway?.jwksUrl]) {
      const { hostname, port } = new URL(url ?? '');
      const ports = (find(all, 'Service', hostname)['spec'] as { ports: { port: number }[] }).ports;
      expect(ports.map((p) => p.port)).toContain(Number(port));
    }
    expect(configs.get('tenants-worker')?.DATABASE_OWNER_URL).toMatch(/@postgresql:5432\//);
    expect(configs.get('gateway')?.DATABASE_URL).toMatch(/@pgbouncer:6432\//);
  });

  it('runs every process of the platform on its port, with /health and /ready probes', () => {
    const { configs } = configProblems(all, SECRETS);
    const processes = platformProcesses(configs.get('gateway') ?? loadConfig({}));
    expect(processes.length).toBe(8);
    for (const p of processes) {
      const c = container(all, p.name);
      // Its bundle, after the preloads, exactly as `make prod` starts it (the image's NODE_OPTIONS
      // carry SERVICE_NODE_FLAGS).
      expect(nodeEntry(c)).toBe(p.dist);
      expect(['node', ...(c['command'] as string[]).slice(1)]).toEqual([
        'node',
        ...launchArgs(p, 'dist').filter((a) => !SERVICE_NODE_FLAGS.includes(a)),
      ]);
      expect(c['ports']).toEqual([{ name: 'http', containerPort: p.port }]);
      expect(c['livenessProbe']).toMatchObject({ httpGet: { path: '/health', port: 'http' } });
      expect(c['readinessProbe']).toMatchObject({ httpGet: { path: '/ready', port: 'http' } });
    }
    const scaled = all.filter((o) => o.kind === 'HorizontalPodAutoscaler').map((o) => o.metadata.name);
    expect(scaled.sort()).toEqual([
      'analytics',
      'auth',
      'gateway',
      'market-data',
      'sessions',
      'tenants',
      'trading',
    ]);
    const budgets = all.filter((o) => o.kind === 'PodDisruptionBudget').map((o) => o.metadata.name);
    expect(budgets.sort()).toEqual([...processes.map((p) => p.name), 'pgbouncer'].sort());
  });
});

describe('overlays differ where they should', () => {
  it('dev: local image, one replica at rest, debug logs', () => {
    const dev = render('dev');
    expect(container(dev, 'trading')['image']).toBe('tradesage:local');
    expect(find(dev, 'HorizontalPodAutoscaler', 'gateway')['spec']).toMatchObject({ minReplicas: 1 });
    expect(find(dev, 'Deployment', 'tenants-worker')['spec']).toMatchObject({ replicas: 1 });
    expect(find(dev, 'ConfigMap', 'tradesage-config')['data']).toMatchObject({
      LOG_LEVEL: 'debug',
      NODE_ENV: 'production',
    });
    expect(container(dev, 'pgbouncer')['resources']).toEqual(
      container(render('prod'), 'pgbouncer')['resources'],
    );
  });

  it('prod: registry image, three gateways at rest, the gateway patch merged into its container', () => {
    const prod = render('prod');
    expect(container(prod, 'gateway')['image']).toBe('registry.example.com/tradesage:0.1.0');
    expect(container(prod, 'pgbouncer')['image']).toBe('ghcr.io/cloudnative-pg/pgbouncer:1.24.1');
    expect(find(prod, 'HorizontalPodAutoscaler', 'gateway')['spec']).toMatchObject({ minReplicas: 3 });
    const gateway = container(prod, 'gateway');
    expect(gateway['resources']).toMatchObject({ requests: { cpu: '1' } });
    // The strategic merge kept what the base and its JSON 6902 patch put in the same container.
    expect(gateway['securityContext']).toMatchObject({ readOnlyRootFilesystem: true });
    expect(gateway['command']).toEqual(['node', '--import', './dist/telemetry.js', 'dist/gateway.js']);
    // Read as kubectl reads YAML (1.1): the key files' mode 0440 is octal, owner and group may read.
    const volumes = (podSpecOf(find(prod, 'Deployment', 'auth'))?.['volumes'] ?? []) as Record<
      string,
      unknown
    >[];
    expect(volumes.find((v) => v['name'] === 'jwt-keys')?.['secret']).toMatchObject({ defaultMode: 0o440 });
  });
});

describe('the db-init Job and the Secrets template', () => {
  it('are valid objects whose references hold, with the placeholders lib/config.ts refuses', () => {
    const all = [...DB_INIT, ...SECRETS];
    expect(schemaProblems(all)).toEqual([]);
    expect(unknownFieldProblems(all)).toEqual([]);
    expect(referenceProblems(DB_INIT, [...SECRETS, ...render('prod')])).toEqual([]);
    expect(containerProblems(DB_INIT)).toEqual([]);
    const config = find(render('prod'), 'ConfigMap', 'tradesage-config');
    expect(configProblems(DB_INIT, [...SECRETS, config]).problems).toEqual([]);
    // Unreplaced, the template's SERVICE_TOKEN stops every process at start.
    const secrets = find(SECRETS, 'Secret', 'tradesage-secrets')['stringData'] as Record<string, string>;
    expect(() => loadConfig({ SERVICE_TOKEN: secrets['SERVICE_TOKEN'] })).toThrow(/placeholder/);
  });
});

describe('what the containers run', () => {
  it('bundles scripts/build.ts makes (what the image copies into dist/), never sources through tsx', () => {
    const built = new Set(buildEntries().map((e) => distOf(e.name)));
    const nodeContainers = [...render('prod'), ...DB_INIT].flatMap((o) => {
      const pod = podSpecOf(o);
      return pod ? containersOf(pod).filter((c) => nodeEntry(c) !== undefined) : [];
    });
    // 8 processes and db-init.
    expect(nodeContainers).toHaveLength(9);
    for (const c of nodeContainers) {
      expect(built).toContain(nodeEntry(c));
      for (const preload of nodePreloads(c)) expect(built).toContain(preload.replace(/^\.\//, ''));
    }
    const job = containersOf(podSpecOf(find(DB_INIT, 'Job', 'db-init')) ?? {});
    expect(job.map((c) => nodeEntry(c))).toEqual(['dist/db-init.js']);
    expect(nodeEntry({ command: ['node', '--import', 'tsx', 'gateway/src/index.ts'] })).toBeUndefined();
  });
});

describe('the checks find broken manifests', () => {
  const broken = (edit: (all: K8sObject[]) => void): string[] => {
    const all = render('prod');
    edit(all);
    return allProblems(all);
  };

  it('a schema violation and unknown fields', () => {
    const problems = broken((all) => {
      setPath(container(all, 'auth'), ['ports', 0, 'containerPort'], 'eight thousand');
      const trading = container(all, 'trading');
      setPath(trading, ['readinesProbe'], trading['readinessProbe']);
      setPath(find(all, 'Service', 'gateway'), ['spec', 'ports', 0, 'targetport'], 'http');
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Deployment\/auth: .*must be integer/),
        'Deployment/trading: unknown field /spec/template/spec/containers/0/readinesProbe',
        'Service/gateway: unknown field /spec/ports/0/targetport',
      ]),
    );
  });

  it('a Service selecting nothing, and an autoscaler of a missing Deployment', () => {
    const problems = broken((all) => {
      setPath(find(all, 'Service', 'trading'), ['spec', 'selector'], { 'app.kubernetes.io/name': 'tradng' });
      setPath(find(all, 'HorizontalPodAutoscaler', 'auth'), ['spec', 'scaleTargetRef', 'name'], 'authn');
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'Service/trading: its selector matches no pod template',
        'HorizontalPodAutoscaler/auth: scales Deployment/authn, which does not exist',
      ]),
    );
  });

  it('a missing Secret key, a missing ConfigMap and a probe on an undeclared port', () => {
    const problems = broken((all) => {
      setPath(
        container(all, 'tenants-worker'),
        ['env', 0, 'valueFrom', 'secretKeyRef', 'key'],
        'DATABASE_OWNER',
      );
      setPath(container(all, 'sessions'), ['envFrom', 0, 'configMapRef', 'name'], 'tradesage-conf');
      setPath(container(all, 'analytics'), ['readinessProbe', 'httpGet', 'port'], 8080);
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'Deployment/tenants-worker container tenants-worker: Secret tradesage-db-owner has no key DATABASE_OWNER',
        'Deployment/sessions container sessions: ConfigMap tradesage-conf does not exist',
        'Deployment/analytics container analytics: readinessProbe port 8080 is not a declared container port',
      ]),
    );
  });

  it('a variable the configuration needs, missing or malformed, and a writable root filesystem', () => {
    const problems = broken((all) => {
      const config = find(all, 'ConfigMap', 'tradesage-config');
      setPath(config, ['data', 'MA130_HOST'], undefined);
      setPath(config, ['data', 'DB_POOL_MAX'], 'ten');
      setPath(container(all, 'gateway'), ['securityContext', 'readOnlyRootFilesystem'], false);
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'Deployment/gateway container gateway: MA130_HOST is not set (the configuration needs it on a cluster)',
        expect.stringMatching(/^Deployment\/gateway container gateway: DB_POOL_MAX: /),
        'Deployment/gateway container gateway: root filesystem is writable',
      ]),
    );
  });
});

describe('the kustomize subset', () => {
  it('merges keyed lists by key, replaces other lists, deletes on null', () => {
    const target = {
      containers: [{ name: 'a', image: 'x', args: ['1', '2'] }, { name: 'b' }],
      extra: 1,
    };
    strategicMerge(target, { containers: [{ name: 'a', args: ['3'] }, { name: 'c' }], extra: null });
    expect(target).toEqual({
      containers: [{ name: 'a', image: 'x', args: ['3'] }, { name: 'b' }, { name: 'c' }],
    });
  });

  it('refuses a JSON 6902 path whose parent is missing, and unsupported kustomization fields', () => {
    expect(() =>
      applyJson6902({ spec: {} }, [{ op: 'add', path: '/spec/template/x', value: 1 }], 't'),
    ).toThrow(/template does not exist/);
    expect(() => renderKustomization(path.join(K8S, 'secrets'))).toThrow(/kustomization\.yaml/);
  });

  it('refuses a strategic merge patch of an object that is not rendered', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'k8s-render-'));
    try {
      writeFileSync(
        path.join(dir, 'kustomization.yaml'),
        'resources: [cm.yaml]\npatches: [{ path: patch.yaml }]\n',
      );
      writeFileSync(path.join(dir, 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }\n');
      writeFileSync(path.join(dir, 'patch.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: b }\n');
      expect(() => renderKustomization(dir)).toThrow(/no ConfigMap\/b to patch/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('splits image references the way the images transformer matches them', () => {
    expect(splitImage('registry:5000/team/app:1.2@sha256:ab')).toEqual({
      name: 'registry:5000/team/app',
      tag: '1.2',
      digest: 'sha256:ab',
    });
    expect(splitImage('registry:5000/app')).toEqual({ name: 'registry:5000/app' });
  });
});
