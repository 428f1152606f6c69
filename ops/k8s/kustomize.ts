/**
 * The subset of kustomize that ops/k8s uses, rendered in TypeScript because no kustomize binary is at
 * hand in CI: `resources` (files and kustomization folders), `patches` (strategic merge or JSON 6902,
 * by path, optionally with a `target`), `images` and `namespace`. Anything else in a kustomization is
 * refused rather than ignored, so a rendering here never silently differs from `kubectl apply -k`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

/** One Kubernetes object as parsed from YAML. */
export type K8sObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown> & { name: string; namespace?: string };
};

type Json = Record<string, unknown>;

/** Which objects a patch applies to (kustomize's `target`; name is an anchored regular expression). */
export interface PatchTarget {
  kind?: string;
  name?: string;
  labelSelector?: string;
}

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'patches', 'images', 'namespace']);

// Cluster-scoped kinds the namespace transformer leaves alone (those ops/k8s could contain).
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'PriorityClass']);

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every YAML document of a file (empty documents skipped); a parse error throws with the file name. */
export function readDocuments(file: string): unknown[] {
  // YAML 1.1, as kubectl reads manifests (go-yaml): 0440 is octal, as a Secret volume's defaultMode means it.
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { version: '1.1' });
  const out: unknown[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

function asObject(value: unknown, where: string): K8sObject {
  if (!isObject(value) || typeof value['kind'] !== 'string' || typeof value['apiVersion'] !== 'string') {
    throw new Error(`${where}: not a Kubernetes object (apiVersion and kind are required)`);
  }
  const metadata = value['metadata'];
  if (!isObject(metadata) || typeof metadata['name'] !== 'string') {
    throw new Error(`${where}: ${String(value['kind'])} without metadata.name`);
  }
  return value as K8sObject;
}

/**
 * Renders the kustomization in `dir` (a folder holding kustomization.yaml): its resources, then its
 * patches, images and namespace, as kustomize does for the fields used here.
 * @returns the objects in resource order (kustomize also sorts them by kind; order is not checked)
 */
export function renderKustomization(dir: string): K8sObject[] {
  const file = path.join(dir, 'kustomization.yaml');
  const [k] = readDocuments(file);
  if (!isObject(k)) throw new Error(`${file}: not a mapping`);
  const unsupported = Object.keys(k).filter((key) => !SUPPORTED.has(key));
  if (unsupported.length > 0) throw new Error(`${file}: unsupported fields ${unsupported.join(', ')}`);

  const objects: K8sObject[] = [];
  for (const entry of list(k['resources'], `${file} resources`)) {
    if (typeof entry !== 'string' || /^[a-z]+:\/\//.test(entry)) {
      throw new Error(`${file}: resource ${String(entry)} is not a local path`);
    }
    const target = path.resolve(dir, entry);
    if (!existsSync(target)) throw new Error(`${file}: resource ${entry} does not exist`);
    if (statSync(target).isDirectory()) objects.push(...renderKustomization(target));
    else objects.push(...readDocuments(target).map((d, i) => asObject(d, `${entry} document ${i + 1}`)));
  }
  assertUnique(objects, file);

  for (const p of list(k['patches'], `${file} patches`)) {
    if (!isObject(p) || typeof p['path'] !== 'string') throw new Error(`${file}: a patch needs a path`);
    const target = p['target'] === undefined ? undefined : parseTarget(p['target'], file);
    applyPatchFile(objects, path.resolve(dir, p['path']), target);
  }
  for (const image of list(k['images'], `${file} images`)) setImage(objects, image, file);
  if (k['namespace'] !== undefined) {
    if (typeof k['namespace'] !== 'string') throw new Error(`${file}: namespace is not a string`);
    for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k['namespace'];
  }
  return objects;
}

function list(value: unknown, where: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new Error(`${where}: expected a list`);
  return value;
}

const idOf = (o: K8sObject): string => `${o.kind}/${o.metadata.name}`;

function assertUnique(objects: K8sObject[], where: string): void {
  const seen = new Set<string>();
  for (const o of objects) {
    if (seen.has(idOf(o))) throw new Error(`${where}: ${idOf(o)} is defined twice`);
    seen.add(idOf(o));
  }
}

function parseTarget(value: unknown, where: string): PatchTarget {
  if (!isObject(value)) throw new Error(`${where}: a patch target must be a mapping`);
  const extra = Object.keys(value).filter((key) => !['kind', 'name', 'labelSelector'].includes(key));
  if (extra.length > 0) throw new Error(`${where}: unsupported patch target fields ${extra.join(', ')}`);
  const str = (key: string): string | undefined => (typeof value[key] === 'string' ? value[key] : undefined);
  const target: PatchTarget = {};
  const kind = str('kind');
  const name = str('name');
  const labelSelector = str('labelSelector');
  if (kind !== undefined) target.kind = kind;
  if (name !== undefined) target.name = name;
  if (labelSelector !== undefined) target.labelSelector = labelSelector;
  return target;
}

/** Equality-based label selector (`a=b,c!=d`), as kustomize targets accept it. */
export function matchesLabelSelector(labels: Record<string, unknown>, selector: string): boolean {
  return selector.split(',').every((term) => {
    const m = /^\s*([^=!\s]+)\s*(==|=|!=)\s*([^=!\s]*)\s*$/.exec(term);
    if (!m) throw new Error(`label selector term "${term}" is not supported (use key=value or key!=value)`);
    const [, key = '', op, value] = m;
    return op === '!=' ? labels[key] !== value : labels[key] === value;
  });
}

function matchesTarget(o: K8sObject, t: PatchTarget): boolean {
  if (t.kind !== undefined && o.kind !== t.kind) return false;
  if (t.name !== undefined && !new RegExp(`^(?:${t.name})$`).test(o.metadata.name)) return false;
  const labels = isObject(o.metadata['labels']) ? o.metadata['labels'] : {};
  return t.labelSelector === undefined || matchesLabelSelector(labels, t.labelSelector);
}

/**
 * Applies one patch file: a YAML list is a JSON 6902 patch (needs a target), anything else is one or
 * more strategic merge patches (each finds its object by kind and name, or every target).
 */
export function applyPatchFile(objects: K8sObject[], file: string, target: PatchTarget | undefined): void {
  const docs = readDocuments(file);
  if (docs.length === 1 && Array.isArray(docs[0])) {
    if (target === undefined) throw new Error(`${file}: a JSON 6902 patch needs a target`);
    const matched = objects.filter((o) => matchesTarget(o, target));
    if (matched.length === 0) throw new Error(`${file}: the target matches no object`);
    for (const o of matched) applyJson6902(o, docs[0], `${file} on ${idOf(o)}`);
    return;
  }
  for (const doc of docs) {
    const patch = asObject(doc, file);
    const matched = objects.filter((o) =>
      target ? matchesTarget(o, target) : o.kind === patch.kind && o.metadata.name === patch.metadata.name,
    );
    if (matched.length === 0) throw new Error(`${file}: no ${idOf(patch)} to patch`);
    const { metadata, ...rest } = patch;
    // With a target, the patch's own name is a placeholder (kustomize ignores it too).
    const { name: _name, ...meta } = metadata;
    for (const o of matched) strategicMerge(o, { ...rest, metadata: meta });
  }
}

/** Merge keys of the lists this subset merges item by item; other lists are replaced, as in kustomize. */
const MERGE_KEYS: Record<string, (item: Json) => unknown> = {
  containers: (i) => i['name'],
  initContainers: (i) => i['name'],
  env: (i) => i['name'],
  volumes: (i) => i['name'],
  volumeMounts: (i) => i['mountPath'],
  ports: (i) => i['containerPort'] ?? i['port'],
};

/** Strategic merge: maps merge, `null` deletes, keyed lists merge by key (`$patch: delete` removes). */
export function strategicMerge(target: Json, patch: Json): void {
  for (const [key, value] of Object.entries(patch)) {
    const current = target[key];
    const keyOf = MERGE_KEYS[key];
    if (value === null) delete target[key];
    else if (isObject(value) && isObject(current)) strategicMerge(current, value);
    else if (Array.isArray(value) && Array.isArray(current) && keyOf) mergeList(current, value, keyOf);
    else target[key] = structuredClone(value);
  }
}

function mergeList(current: unknown[], patch: unknown[], keyOf: (item: Json) => unknown): void {
  for (const item of patch) {
    if (!isObject(item)) throw new Error('a keyed list item of a patch must be a mapping');
    const index = current.findIndex((c) => isObject(c) && keyOf(c) === keyOf(item));
    const { $patch: directive, ...rest } = item;
    if (directive === 'delete') {
      if (index >= 0) current.splice(index, 1);
    } else if (index >= 0) strategicMerge(current[index] as Json, rest);
    else current.push(structuredClone(rest));
  }
}

/** JSON 6902 (`add`, `replace`, `remove`) on one object; a path whose parent is missing is an error. */
export function applyJson6902(target: Json, ops: unknown[], where: string): void {
  for (const op of ops) {
    if (!isObject(op) || typeof op['op'] !== 'string' || typeof op['path'] !== 'string') {
      throw new Error(`${where}: every operation needs op and path`);
    }
    const tokens = op['path']
      .split('/')
      .slice(1)
      .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = tokens.pop();
    if (last === undefined) throw new Error(`${where}: cannot ${op['op']} the whole object`);
    let parent: unknown = target;
    for (const t of tokens) {
      parent = Array.isArray(parent) ? parent[Number(t)] : isObject(parent) ? parent[t] : undefined;
      if (parent === undefined) throw new Error(`${where}: ${op['path']}: ${t} does not exist`);
    }
    applyOperation(parent, op['op'], last, op['value'], `${where}: ${op['path']}`);
  }
}

function applyOperation(parent: unknown, op: string, key: string, value: unknown, where: string): void {
  if (Array.isArray(parent)) {
    const index = key === '-' ? parent.length : Number(key);
    if (!Number.isInteger(index) || index < 0 || index > parent.length)
      throw new Error(`${where}: bad index`);
    if (op === 'add') parent.splice(index, 0, structuredClone(value));
    else if (op === 'replace' && index < parent.length) parent[index] = structuredClone(value);
    else if (op === 'remove' && index < parent.length) parent.splice(index, 1);
    else throw new Error(`${where}: cannot ${op}`);
    return;
  }
  if (!isObject(parent)) throw new Error(`${where}: the parent is not a mapping or a list`);
  if (op === 'add') parent[key] = structuredClone(value);
  else if ((op === 'replace' || op === 'remove') && !(key in parent)) throw new Error(`${where}: missing`);
  else if (op === 'replace') parent[key] = structuredClone(value);
  else if (op === 'remove') delete parent[key];
  else throw new Error(`${where}: operation ${op} is not supported`);
}

/** `name[:tag][@digest]` split the way kustomize's images transformer matches names (registry ports kept). */
export function splitImage(image: string): { name: string; tag?: string; digest?: string } {
  const [withTag = '', digest] = image.split('@');
  const colon = withTag.lastIndexOf(':');
  const hasTag = colon > withTag.lastIndexOf('/');
  const out: { name: string; tag?: string; digest?: string } = {
    name: hasTag ? withTag.slice(0, colon) : withTag,
  };
  if (hasTag) out.tag = withTag.slice(colon + 1);
  if (digest !== undefined) out.digest = digest;
  return out;
}

/** Pod specs of the workload kinds ops/k8s uses. */
export function podSpecOf(o: K8sObject): Json | undefined {
  const spec = isObject(o['spec']) ? o['spec'] : undefined;
  const template = spec && isObject(spec['template']) ? spec['template'] : undefined;
  return template && isObject(template['spec']) ? template['spec'] : undefined;
}

/** Containers and init containers of a pod spec. */
export function containersOf(pod: Json): Json[] {
  return [...list(pod['initContainers'], 'initContainers'), ...list(pod['containers'], 'containers')].filter(
    isObject,
  );
}

function setImage(objects: K8sObject[], entry: unknown, where: string): void {
  if (!isObject(entry) || typeof entry['name'] !== 'string')
    throw new Error(`${where}: an image needs a name`);
  const { name, newName, newTag, digest } = entry;
  for (const o of objects) {
    const pod = podSpecOf(o);
    for (const c of pod ? containersOf(pod) : []) {
      if (typeof c['image'] !== 'string') continue;
      const current = splitImage(c['image']);
      if (current.name !== name) continue;
      const base = typeof newName === 'string' ? newName : current.name;
      if (typeof digest === 'string') c['image'] = `${base}@${digest}`;
      else {
        const tag = typeof newTag === 'string' || typeof newTag === 'number' ? String(newTag) : current.tag;
        c['image'] = tag === undefined ? base : `${base}:${tag}`;
      }
    }
  }
}
