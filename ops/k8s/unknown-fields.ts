/**
 * Unknown fields in manifests (`livenessprobe:`, a field at the wrong depth): the API server refuses
 * them (kubectl's strict field validation), but kubernetes-models' JSON schemas allow extra
 * properties. The field names come from the same package's type declarations, read with the
 * TypeScript compiler: every key of an object must be a property of its API type.
 */
import path from 'node:path';
import ts from 'typescript';
import { PROJECT_ROOT } from '../../lib/config.js';
import { isObject, type K8sObject } from './kustomize.js';

/** The API types of the kinds ops/k8s uses: `apiVersion kind` -> [module of kubernetes-models, interface]. */
const TYPES: Record<string, readonly [string, string]> = {
  'v1 ConfigMap': ['v1/ConfigMap', 'IConfigMap'],
  'v1 Secret': ['v1/Secret', 'ISecret'],
  'v1 Service': ['v1/Service', 'IService'],
  'v1 Namespace': ['v1/Namespace', 'INamespace'],
  'apps/v1 Deployment': ['apps/v1/Deployment', 'IDeployment'],
  'batch/v1 Job': ['batch/v1/Job', 'IJob'],
  'autoscaling/v2 HorizontalPodAutoscaler': [
    'autoscaling/v2/HorizontalPodAutoscaler',
    'IHorizontalPodAutoscaler',
  ],
  'policy/v1 PodDisruptionBudget': ['policy/v1/PodDisruptionBudget', 'IPodDisruptionBudget'],
  'networking.k8s.io/v1 NetworkPolicy': ['networking.k8s.io/v1/NetworkPolicy', 'INetworkPolicy'],
};

interface Types {
  checker: ts.TypeChecker;
  byKind: Map<string, ts.Type>;
}

let cached: Types | undefined;

/** Loads the declarations once: a virtual module naming each API type, compiled against node_modules. */
function apiTypes(): Types {
  if (cached) return cached;
  const entries = Object.entries(TYPES);
  const file = path.join(PROJECT_ROOT, 'ops/k8s/__api-types__.ts');
  const source = [
    ...entries.map(
      ([, [mod, name]], i) => `import type { ${name} as T${i} } from 'kubernetes-models/${mod}';`,
    ),
    `export interface Root { ${entries.map(([key], i) => `'${key}': T${i};`).join(' ')} }`,
  ].join('\n');
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    noEmit: true,
    strict: true,
    types: [],
    // Arrays are all the declarations need from the standard library (the default one adds the DOM).
    lib: ['lib.es5.d.ts'],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version) =>
    name === file ? ts.createSourceFile(name, source, version) : getSourceFile(name, version);
  const program = ts.createProgram([file], options, host);
  const checker = program.getTypeChecker();
  const root = program.getSourceFile(file);
  const rootSymbol = root && checker.getSymbolAtLocation(root);
  const rootInterface = rootSymbol && checker.getExportsOfModule(rootSymbol).find((s) => s.name === 'Root');
  if (!rootInterface) throw new Error('cannot load the kubernetes-models type declarations');
  const rootType = checker.getDeclaredTypeOfSymbol(rootInterface);
  const byKind = new Map<string, ts.Type>();
  for (const [key] of entries) {
    const prop = checker.getPropertyOfType(rootType, key);
    const type = prop && checker.getTypeOfSymbol(prop);
    if (!type || type.flags & ts.TypeFlags.Any) throw new Error(`kubernetes-models has no type for ${key}`);
    byKind.set(key, type);
  }
  cached = { checker, byKind };
  return cached;
}

/** Keys of `value` its API type does not declare, as JSON paths (`/spec/template/...`). */
function unknownKeys(value: unknown, type: ts.Type, at: string, checker: ts.TypeChecker): string[] {
  const t = checker.getNonNullableType(type);
  if (t.isUnion()) {
    // IntOrString and the like: the first member that accepts the value decides.
    const results = t.types.map((member) => unknownKeys(value, member, at, checker));
    return results.find((r) => r.length === 0) ?? results[0] ?? [];
  }
  if (Array.isArray(value)) {
    const item = checker.getIndexTypeOfType(t, ts.IndexKind.Number);
    return item ? value.flatMap((v, i) => unknownKeys(v, item, `${at}/${i}`, checker)) : [];
  }
  if (!isObject(value) || !(t.flags & ts.TypeFlags.Object)) return [];
  const indexed = checker.getIndexTypeOfType(t, ts.IndexKind.String);
  return Object.entries(value).flatMap(([key, v]) => {
    const prop = checker.getPropertyOfType(t, key);
    if (prop) return unknownKeys(v, checker.getTypeOfSymbol(prop), `${at}/${key}`, checker);
    return indexed ? unknownKeys(v, indexed, `${at}/${key}`, checker) : [`${at}/${key}`];
  });
}

/** Fields the API server would refuse as unknown, per object (objects of other kinds are skipped). */
export function unknownFieldProblems(all: K8sObject[]): string[] {
  const { checker, byKind } = apiTypes();
  return all.flatMap((o) => {
    const type = byKind.get(`${o.apiVersion} ${o.kind}`);
    const found = type ? unknownKeys(o, type, '', checker) : [];
    return found.map((p) => `${o.kind}/${o.metadata.name}: unknown field ${p}`);
  });
}
