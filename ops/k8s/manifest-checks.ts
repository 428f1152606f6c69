/**
 * Checks of rendered ops/k8s manifests (ops/k8s/k8s.test.ts runs them in `make test`; no cluster is
 * needed): every object against the Kubernetes API schemas (kubernetes-models), then what the API
 * server cannot see: selectors that select something, ConfigMap/Secret keys that exist, probes on
 * declared ports, the restricted pod security profile, and environments the configuration accepts.
 * Each check returns problems as sentences (empty: fine), so a test shows all of them at once.
 */
import { randomBytes } from 'node:crypto';
import { apps, autoscaling, batch, networkingK8sIo, policy, v1 } from 'kubernetes-models';
import { ConfigError } from '../../lib/config.js';
import { serviceTokenProblem } from '../../lib/secret-strength.js';
import { loadPlatformConfig, type PlatformConfig } from '../../scripts/platform-config.js';
import { containersOf, isObject, podSpecOf, type K8sObject } from './kustomize.js';

type Json = Record<string, unknown>;

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

/** The API types ops/k8s uses, by `apiVersion kind`; any other kind is reported rather than skipped. */
const MODELS: Record<string, ModelClass> = {
  'v1 ConfigMap': v1.ConfigMap,
  'v1 Secret': v1.Secret,
  'v1 Service': v1.Service,
  'v1 Namespace': v1.Namespace,
  'apps/v1 Deployment': apps.v1.Deployment,
  'batch/v1 Job': batch.v1.Job,
  'autoscaling/v2 HorizontalPodAutoscaler': autoscaling.v2.HorizontalPodAutoscaler,
  'policy/v1 PodDisruptionBudget': policy.v1.PodDisruptionBudget,
  'networking.k8s.io/v1 NetworkPolicy': networkingK8sIo.v1.NetworkPolicy,
};

const idOf = (o: K8sObject): string => `${o.kind}/${o.metadata.name}`;
const obj = (v: unknown): Json => (isObject(v) ? v : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const objects = (v: unknown): Json[] => arr(v).filter(isObject);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Schema validation of every object with the kubernetes-models class of its apiVersion and kind. */
export function schemaProblems(all: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const o of all) {
    const Model = MODELS[`${o.apiVersion} ${o.kind}`];
    if (!Model) {
      problems.push(`${idOf(o)}: no API schema known for ${o.apiVersion} ${o.kind}`);
      continue;
    }
    try {
      new Model(structuredClone(o) as never).validate();
    } catch (err) {
      problems.push(`${idOf(o)}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return problems;
}

/** Workloads (Deployments and Jobs) with their pod template's labels and spec. */
export function workloads(all: K8sObject[]): { o: K8sObject; labels: Json; pod: Json }[] {
  return all.flatMap((o) => {
    const pod = podSpecOf(o);
    const template = obj(obj(o['spec'])['template']);
    return pod ? [{ o, labels: obj(obj(template['metadata'])['labels']), pod }] : [];
  });
}

/** Label selector semantics (matchLabels and matchExpressions; a plain map for Services). */
export function selects(selector: Json, labels: Json): boolean {
  const matchLabels = isObject(selector['matchLabels']) ? selector['matchLabels'] : undefined;
  const plain = matchLabels ?? (selector['matchExpressions'] === undefined ? selector : {});
  if (!Object.entries(plain).every(([k, v]) => labels[k] === v)) return false;
  return objects(selector['matchExpressions']).every((e) => {
    const key = str(e['key']) ?? '';
    const values = arr(e['values']);
    switch (e['operator']) {
      case 'In':
        return values.includes(labels[key]);
      case 'NotIn':
        return !values.includes(labels[key]);
      case 'Exists':
        return key in labels;
      case 'DoesNotExist':
        return !(key in labels);
      default:
        return false;
    }
  });
}

/** Container ports by name and number, for a set of pods. */
function portsOf(pods: Json[]): { names: Set<string>; numbers: Set<number> } {
  const names = new Set<string>();
  const numbers = new Set<number>();
  for (const c of pods.flatMap(containersOf)) {
    for (const p of objects(c['ports'])) {
      if (typeof p['name'] === 'string') names.add(p['name']);
      if (typeof p['containerPort'] === 'number') numbers.add(p['containerPort']);
    }
  }
  return { names, numbers };
}

const hasPort = (ports: ReturnType<typeof portsOf>, port: unknown): boolean =>
  typeof port === 'string' ? ports.names.has(port) : typeof port === 'number' && ports.numbers.has(port);

/**
 * Selectors and references between objects: Services, PodDisruptionBudgets and NetworkPolicies select
 * pods of some workload (and name ports those pods declare), autoscalers scale an existing Deployment.
 */
export function selectorProblems(all: K8sObject[]): string[] {
  const problems: string[] = [];
  const pods = workloads(all);
  const selected = (selector: Json): typeof pods => pods.filter((w) => selects(selector, w.labels));
  for (const o of all) {
    const spec = obj(o['spec']);
    if (o.kind === 'Service') {
      const targets = selected(obj(spec['selector']));
      if (targets.length === 0) problems.push(`${idOf(o)}: its selector matches no pod template`);
      for (const p of objects(spec['ports'])) {
        const port = p['targetPort'] ?? p['port'];
        if (targets.length > 0 && !hasPort(portsOf(targets.map((t) => t.pod)), port)) {
          problems.push(`${idOf(o)}: targetPort ${String(port)} is not a port of the selected pods`);
        }
      }
    }
    if (o.kind === 'PodDisruptionBudget' && selected(obj(spec['selector'])).length === 0) {
      problems.push(`${idOf(o)}: its selector matches no pod template`);
    }
    if (o.kind === 'HorizontalPodAutoscaler') {
      const ref = obj(spec['scaleTargetRef']);
      if (!all.some((d) => d.kind === ref['kind'] && d.metadata.name === ref['name'])) {
        problems.push(
          `${idOf(o)}: scales ${String(ref['kind'])}/${String(ref['name'])}, which does not exist`,
        );
      }
    }
    if (o.kind === 'NetworkPolicy') problems.push(...networkPolicyProblems(o, selected));
  }
  return problems;
}

function networkPolicyProblems(o: K8sObject, selected: (s: Json) => ReturnType<typeof workloads>): string[] {
  const problems: string[] = [];
  const spec = obj(o['spec']);
  const targets = selected(obj(spec['podSelector']));
  if (targets.length === 0) problems.push(`${idOf(o)}: its podSelector matches no pod template`);
  for (const rule of objects(spec['ingress'])) {
    for (const p of objects(rule['ports'])) {
      // A named port in an ingress rule is a port of the pods the policy protects.
      if (typeof p['port'] === 'string' && !targets.every((t) => hasPort(portsOf([t.pod]), p['port']))) {
        problems.push(`${idOf(o)}: ingress port ${p['port']} is not declared by every selected pod`);
      }
    }
  }
  return problems;
}

/** Keys of each ConfigMap and Secret (data, stringData, binaryData), by `Kind/name`. */
export function keysByObject(all: K8sObject[]): Map<string, Set<string>> {
  const keys = new Map<string, Set<string>>();
  for (const o of all) {
    if (o.kind !== 'ConfigMap' && o.kind !== 'Secret') continue;
    keys.set(
      idOf(o),
      new Set(['data', 'stringData', 'binaryData'].flatMap((field) => Object.keys(obj(o[field])))),
    );
  }
  return keys;
}

/**
 * Every ConfigMap and Secret a pod reads (envFrom, env valueFrom, volumes, with their `items`) exists
 * and holds the keys read, unless the reference is optional. `external` holds objects that are created
 * outside the kustomization (the Secrets of ops/k8s/secrets/secrets.example.yaml).
 */
export function referenceProblems(all: K8sObject[], external: K8sObject[] = []): string[] {
  const keys = keysByObject([...all, ...external]);
  const problems: string[] = [];
  const check = (who: string, kind: string, name: unknown, key: unknown, optional: unknown): void => {
    if (optional === true) return;
    const found = keys.get(`${kind}/${String(name)}`);
    if (!found) problems.push(`${who}: ${kind} ${String(name)} does not exist`);
    else if (key !== undefined && !found.has(str(key) ?? '')) {
      problems.push(`${who}: ${kind} ${String(name)} has no key ${str(key) ?? JSON.stringify(key)}`);
    }
  };
  for (const { o, pod } of workloads(all)) {
    for (const c of containersOf(pod)) {
      const who = `${idOf(o)} container ${String(c['name'])}`;
      for (const from of objects(c['envFrom'])) {
        const cm = obj(from['configMapRef']);
        const secret = obj(from['secretRef']);
        if (from['configMapRef']) check(who, 'ConfigMap', cm['name'], undefined, cm['optional']);
        if (from['secretRef']) check(who, 'Secret', secret['name'], undefined, secret['optional']);
      }
      for (const e of objects(c['env'])) {
        const valueFrom = obj(e['valueFrom']);
        const cm = obj(valueFrom['configMapKeyRef']);
        const secret = obj(valueFrom['secretKeyRef']);
        if (valueFrom['configMapKeyRef']) check(who, 'ConfigMap', cm['name'], cm['key'], cm['optional']);
        if (valueFrom['secretKeyRef'])
          check(who, 'Secret', secret['name'], secret['key'], secret['optional']);
      }
      const volumes = new Set(objects(pod['volumes']).map((v) => v['name']));
      for (const m of objects(c['volumeMounts'])) {
        if (!volumes.has(m['name']))
          problems.push(`${who}: mounts volume ${String(m['name'])}, not declared`);
      }
    }
    for (const v of objects(pod['volumes'])) {
      const who = `${idOf(o)} volume ${String(v['name'])}`;
      const cm = obj(v['configMap']);
      const secret = obj(v['secret']);
      if (v['configMap']) check(who, 'ConfigMap', cm['name'], undefined, cm['optional']);
      if (v['secret']) check(who, 'Secret', secret['secretName'], undefined, secret['optional']);
      for (const item of objects((v['configMap'] ? cm : secret)['items'])) {
        if (v['configMap']) check(who, 'ConfigMap', cm['name'], item['key'], cm['optional']);
        if (v['secret']) check(who, 'Secret', secret['secretName'], item['key'], secret['optional']);
      }
    }
  }
  return problems;
}

/**
 * Per container: probes on declared ports, resource requests and limits, and the restricted pod
 * security profile with a read-only root filesystem (non-root, no privilege escalation, all
 * capabilities dropped, RuntimeDefault seccomp).
 */
export function containerProblems(all: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const { o, pod } of workloads(all)) {
    const podSecurity = obj(pod['securityContext']);
    for (const c of containersOf(pod)) {
      const who = `${idOf(o)} container ${String(c['name'])}`;
      const ports = portsOf([{ containers: [c] }]);
      for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
        const handler = obj(c[probe]);
        const port = obj(handler['httpGet'])['port'] ?? obj(handler['tcpSocket'])['port'];
        if (c[probe] !== undefined && !hasPort(ports, port)) {
          problems.push(`${who}: ${probe} port ${String(port)} is not a declared container port`);
        }
      }
      const resources = obj(c['resources']);
      for (const [kind, name] of [
        ['requests', 'cpu'],
        ['requests', 'memory'],
        ['limits', 'cpu'],
        ['limits', 'memory'],
      ] as const) {
        if (obj(resources[kind])[name] === undefined) problems.push(`${who}: no ${kind}.${name}`);
      }
      const security = { ...podSecurity, ...obj(c['securityContext']) };
      const caps = arr(obj(security['capabilities'])['drop']);
      if (security['runAsNonRoot'] !== true) problems.push(`${who}: runAsNonRoot is not true`);
      if (security['allowPrivilegeEscalation'] !== false) problems.push(`${who}: may escalate privileges`);
      if (security['readOnlyRootFilesystem'] !== true) problems.push(`${who}: root filesystem is writable`);
      if (!caps.includes('ALL')) problems.push(`${who}: does not drop ALL capabilities`);
      if (obj(security['seccompProfile'])['type'] !== 'RuntimeDefault') {
        problems.push(`${who}: seccompProfile is not RuntimeDefault`);
      }
    }
  }
  return problems;
}

/** A bundle of the image's dist/ (scripts/build.ts), as the command names it. */
const BUNDLE = /^(?:\.\/)?dist\/[a-z0-9-]+\.js$/;

/**
 * `node [--import <preload bundle>]... dist/<name>.js`: a process of the
 * repository's image, run from its bundle as scripts/platform.ts `launchArgs(p, 'dist')` starts it
 * (the image's NODE_OPTIONS carry the remaining Node flags).
 * @returns the bundle it runs, or undefined for any other command (PgBouncer's)
 */
export function nodeEntry(container: Json): string | undefined {
  const command = arr(container['command']).map(str);
  const [node, ...rest] = command;
  const bundle = rest.pop();
  if (node !== 'node' || !bundle || !BUNDLE.test(bundle)) {
    return undefined;
  }
  for (let i = 0; i < rest.length; i += 2) {
    if (rest[i] !== '--import' || !BUNDLE.test(rest[i + 1] ?? '')) return undefined;
  }
  return bundle;
}

/** The bundles a node container loads before its entry (`--import`), as the command names them. */
export function nodePreloads(container: Json): string[] {
  const command = arr(container['command']).map(str);
  return command.flatMap((a, i) => (command[i - 1] === '--import' && a ? [a] : []));
}

/** Decoded values of a ConfigMap or Secret (Secret `data` is base64). */
function valuesOf(o: K8sObject): Record<string, string> {
  const out: Record<string, string> = {};
  const fromData = obj(o['data']);
  for (const [k, v] of Object.entries(fromData)) {
    out[k] = o.kind === 'Secret' ? Buffer.from(String(v), 'base64').toString('utf8') : String(v);
  }
  for (const [k, v] of Object.entries(obj(o['stringData']))) out[k] = String(v);
  return out;
}

/**
 * The environment a container sees: envFrom in order, then env (which wins), as the kubelet builds it.
 * `external` supplies the Secrets created outside the kustomization.
 */
export function containerEnv(
  container: Json,
  all: K8sObject[],
  external: K8sObject[] = [],
): Record<string, string> {
  const byId = new Map([...all, ...external].map((o) => [idOf(o), o]));
  const source = (kind: string, name: unknown): Record<string, string> => {
    const o = byId.get(`${kind}/${String(name)}`);
    return o ? valuesOf(o) : {};
  };
  const env: Record<string, string> = {};
  for (const from of objects(container['envFrom'])) {
    if (from['configMapRef']) Object.assign(env, source('ConfigMap', obj(from['configMapRef'])['name']));
    if (from['secretRef']) Object.assign(env, source('Secret', obj(from['secretRef'])['name']));
  }
  for (const e of objects(container['env'])) {
    const name = str(e['name']);
    if (name === undefined) continue;
    const valueFrom = obj(e['valueFrom']);
    const ref = obj(valueFrom['configMapKeyRef'] ?? valueFrom['secretKeyRef']);
    const kind = valueFrom['configMapKeyRef'] ? 'ConfigMap' : 'Secret';
    const value = str(e['value']) ?? source(kind, ref['name'])[str(ref['key']) ?? ''];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/**
 * Variables every process on Kubernetes must receive: those the configuration has no default for, and
 * those whose default only works on one machine (a 127.0.0.1 or localhost URL or host).
 */
export function clusterRequiredVariables(): string[] {
  const required = new Set<string>();
  try {
    loadPlatformConfig({});
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const issue of err.issues) required.add(issue.split(':')[0] ?? '');
  }
  const defaults = loadPlatformConfig({ SERVICE_TOKEN: randomBytes(32).toString('hex') });
  for (const [name, value] of Object.entries(defaults)) {
    if (/^[A-Z][A-Z0-9_]*$/.test(name) && /127\.0\.0\.1|localhost/.test(JSON.stringify(value))) {
      required.add(name);
    }
  }
  return [...required].sort();
}

/**
 * Variables read by one kind of process only: only those containers must receive them (the owner
 * role's URL is given to the tenants worker alone, the superuser's to the db-init Job alone).
 */
export const ONLY_FOR: Readonly<Record<string, readonly string[]>> = {
  DATABASE_OWNER_URL: ['tenants-worker', 'db-init'],
  DATABASE_ADMIN_URL: ['db-init'],
};

/** A placeholder SERVICE_TOKEN (refused at start, as it should be) swapped for a random one, for checking. */
function withTestToken(env: Record<string, string>): Record<string, string> {
  const token = env['SERVICE_TOKEN'];
  return token !== undefined && serviceTokenProblem(token)
    ? { ...env, SERVICE_TOKEN: randomBytes(32).toString('hex') }
    : env;
}

/**
 * For each container of the repository's image: the platform's configuration accepts its environment (placeholder
 * SERVICE_TOKEN aside), and it receives every cluster-required variable.
 * @returns problems, and the validated configuration of each container by its workload's name
 */
export function configProblems(
  all: K8sObject[],
  external: K8sObject[] = [],
): { problems: string[]; configs: Map<string, PlatformConfig> } {
  const problems: string[] = [];
  const configs = new Map<string, PlatformConfig>();
  const required = clusterRequiredVariables();
  for (const { o, pod } of workloads(all)) {
    for (const c of containersOf(pod).filter((x) => nodeEntry(x) !== undefined)) {
      const who = `${idOf(o)} container ${String(c['name'])}`;
      const env = containerEnv(c, all, external);
      for (const name of required) {
        const only = ONLY_FOR[name];
        if (env[name] === undefined && (!only || only.includes(o.metadata.name))) {
          problems.push(`${who}: ${name} is not set (the configuration needs it on a cluster)`);
        }
      }
      try {
        configs.set(o.metadata.name, loadPlatformConfig(withTestToken(env)));
      } catch (err) {
        const issues = err instanceof ConfigError ? err.issues : [String(err)];
        problems.push(...issues.map((i) => `${who}: ${i}`));
      }
    }
  }
  return { problems, configs };
}
